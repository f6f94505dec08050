"""Training time per epoch of each method relative to `ce`, on the same models and batches.

Methods are interleaved within each repeat (ce, kd, ..., asib, ce, kd, ...) and the
median of each method's epoch time (training part, `epoch_time_s`) is divided by ce's.
ASIB is timed in its E2E rung (`ib`) so that every epoch trains the student; the CCCP
rungs split epochs into A and B phases whose costs are reported separately.

    python benchmarks/method_step_time.py [--student resnet8x4] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from asib_sweeps.config import apply_overrides, default_config
from asib_sweeps.models import create_model
from asib_sweeps.presets import PRESETS, apply_preset
from asib_sweeps.training import TrainingRun

METHODS = ["ce", "kd", "avg_kd", "fitnet", "at", "crd", "dkd", "ib", "full"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", default="tiny_cnn")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base = apply_overrides(
        default_config("digits"),
        [f"student.arch={args.student}", f"epochs={2 * (args.repeats + 1)}", "method.asib.stages=2",
         "optim.schedule=constant"],
    )
    torch.manual_seed(0)
    states = [create_model(spec.arch, 10).state_dict() for spec in base.teachers]
    runs = {}
    for name in METHODS:
        config = apply_preset(base, name) if name in PRESETS else apply_overrides(base, [f"method.name={name}"])
        runs[name] = TrainingRun.create(config, teacher_states=states if name != "ce" else ())
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    phases: dict[str, dict[str, list[float]]] = {name: {} for name in METHODS}
    while not all(run.finished for run in runs.values()):
        for name, run in runs.items():
            if run.finished:
                continue
            warm_up = run.next_epoch == 0
            metrics = run.run_epoch()
            if warm_up:
                continue
            times[name].append(metrics["epoch_time_s"])
            phases[name].setdefault(metrics["phase"], []).append(metrics["epoch_time_s"])
    reference = statistics.median(times["ce"])
    print(f"student {args.student}, teachers {[t.arch for t in base.teachers]}, "
          f"{len(runs['ce'].train_split)} images/epoch, medians over interleaved epochs")
    for name in METHODS:
        by_phase = ", ".join(f"{phase} {statistics.median(v):.3f} s" for phase, v in phases[name].items())
        print(f"{name:8s} {statistics.median(times[name]):.3f} s/epoch  ratio to ce {statistics.median(times[name]) / reference:.2f}  ({by_phase})")


if __name__ == "__main__":
    main()
