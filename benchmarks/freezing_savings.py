"""What partial freezing saves: activation memory and step time per freeze level.

A teacher adapted under T-Adapt (method.md, "use_pf") trains a forward and backward
pass through the blocks its freeze level leaves trainable. With `pf_train_bn` off (the
default) a frozen prefix is a fixed function run under no_grad: autograd keeps no
activation of it and skips its backward. With `pf_train_bn` on, the BatchNorm affine
parameters inside the prefix still train, so autograd must run through it.

Memory is measured exactly, not sampled: the bytes of every tensor autograd saves for
the backward pass (`saved_tensors_hooks`), which is what freezing can save. Time is the
median of interleaved repeats of a full training step (forward, backward, SGD step) at
every (level, train_bn) setting, as a ratio to level -1 (nothing frozen).

    python benchmarks/freezing_savings.py [--arch resnet32x4] [--batch 64] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from asib_sweeps.freezing import apply_freeze_level
from asib_sweeps.models import create_model


def saved_activation_bytes(model, images, labels) -> int:
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = F.cross_entropy(model(images).logits, labels)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return total


def step_seconds(model, optimizer, images, labels) -> float:
    started = time.perf_counter()
    loss = F.cross_entropy(model(images).logits, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet32x4")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = create_model(args.arch, 100).train()
    images, labels = torch.randn(args.batch, 3, 32, 32), torch.randint(0, 100, (args.batch,))
    levels = list(range(-1, len(model.blocks()) + 1))
    settings = [(level, train_bn) for level in levels for train_bn in (False, True) if level > 0 or not train_bn]
    memory: dict[tuple[int, bool], int] = {}
    times: dict[tuple[int, bool], list[float]] = {setting: [] for setting in settings}
    for repeat in range(args.repeats + 1):
        for level, train_bn in settings:  # interleaved: every setting once per repeat
            model.train()
            apply_freeze_level(model, level, train_bn=train_bn)
            optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.0)
            if repeat == 0:  # the first pass measures memory and warms the allocator up
                memory[(level, train_bn)] = saved_activation_bytes(model, images, labels)
            else:
                times[(level, train_bn)].append(step_seconds(model, optimizer, images, labels))
    reference_time = statistics.median(times[(-1, False)])
    reference_memory = memory[(-1, False)]
    print(f"{args.arch}, batch {args.batch}, {torch.get_num_threads()} threads, {args.repeats} repeats (medians)")
    print(f"{'level':>5} {'pf_train_bn':>11} {'trainable':>10} {'saved MB':>9} {'memory':>7} {'s/step':>7} {'time':>6}")
    for level, train_bn in settings:
        apply_freeze_level(model, level, train_bn=train_bn)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        seconds = statistics.median(times[(level, train_bn)])
        print(
            f"{level:>5} {str(train_bn):>11} {trainable:>10,} {memory[(level, train_bn)] / 2**20:>9.1f} "
            f"{memory[(level, train_bn)] / reference_memory:>7.2f} {seconds:>7.3f} {seconds / reference_time:>6.2f}"
        )


if __name__ == "__main__":
    main()
