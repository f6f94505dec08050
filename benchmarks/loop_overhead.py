"""The training loop's overhead against a bare PyTorch loop doing the same math.

Both sides train the same model from the same initial weights on the same on-device
batches (same seed and epoch, so same crops and flips) with the same SGD and loss; the
only difference is TrainingRun's bookkeeping (phases, per-term sums, parts, hooks).
Sides are interleaved (A B A B ...) and the median epoch time of each is compared, since
this machine's timing noise is about +-5 %.

    python benchmarks/loop_overhead.py [--arch resnet20] [--method ce|kd] [--repeats 7]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from asib_sweeps.config import apply_overrides, default_config
from asib_sweeps.data import train_batches
from asib_sweeps.methods.functional import soft_kl
from asib_sweeps.models import create_model
from asib_sweeps.training import TrainingRun
from asib_sweeps.training.optim import build_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet20")
    parser.add_argument("--method", choices=["ce", "kd"], default="ce")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    config = apply_overrides(
        default_config("digits"),
        [f"student.arch={args.arch}", f"method.name={args.method}", "data.student_train_size=null",
         "teachers=[{arch: tiny_resnet}]", f"epochs={args.repeats + 1}", "optim.schedule=constant"],
    )
    teacher_states = []
    if args.method == "kd":
        torch.manual_seed(0)
        teacher_states = [create_model("tiny_resnet", 10).state_dict()]
    run = TrainingRun.create(config, teacher_states=teacher_states)
    bare_model = copy.deepcopy(run.student)
    bare_teacher = copy.deepcopy(run.teachers[0]).eval() if run.teachers else None
    bare_optimizer = build_optimizer(bare_model.parameters(), config.optim)
    kd = config.method.kd

    def bare_epoch(epoch: int) -> float:
        bare_model.train()
        started = time.perf_counter()
        for images, labels, _ in train_batches(
            run.train_split, batch_size=config.data.batch_size, seed=config.seed, epoch=epoch,
            mean=run.data.mean, std=run.data.std, crop_padding=config.data.crop_padding, flip=config.data.flip,
        ):
            logits = bare_model(images).logits
            loss = F.cross_entropy(logits, labels)
            if bare_teacher is not None:
                with torch.no_grad():
                    teacher_logits = bare_teacher(images).logits
                loss = kd.w_ce * loss + kd.w_kd * soft_kl(teacher_logits, logits, kd.tau)
            bare_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            bare_optimizer.step()
        return time.perf_counter() - started

    run.run_epoch()  # warm-up for both (allocator, kernels)
    bare_epoch(0)
    loop_times, bare_times = [], []
    for repeat in range(args.repeats):
        loop_times.append(run.run_epoch()["epoch_time_s"])
        bare_times.append(bare_epoch(repeat + 1))
    loop, bare = statistics.median(loop_times), statistics.median(bare_times)
    print(f"model {args.arch}, method {args.method}, {len(run.train_split)} images/epoch, {args.repeats} interleaved repeats")
    print(f"TrainingRun epoch (training part): median {loop:.3f} s  {['%.3f' % t for t in loop_times]}")
    print(f"bare PyTorch loop epoch:           median {bare:.3f} s  {['%.3f' % t for t in bare_times]}")
    print(f"overhead ratio loop/bare: {loop / bare:.3f}")


if __name__ == "__main__":
    main()
