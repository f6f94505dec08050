"""Probe: fit the synergy on the teachers' data (the whole training split), not the student's labelled subset.

A hypothesis test, not a feature (docs/benchmarks.md, "Why ASIB does not beat avg_kd").
The digits teachers are fine-tuned on the whole training split (1,131 images), the
student and, by default, the synergy see its 300-image subset. Here every synergy-only
epoch (W and A) draws its batches from the whole split instead, as many batches as a
student epoch has, so the step budget is unchanged; student epochs (B, joint) are
untouched. The change is made by replacing `EpochTrainer._batches` in each worker
process, which is why it is a probe and not a config switch: the probe lost on
validation, so the loop was not given a second data source.

    python benchmarks/synergy_on_teacher_data.py --arms full --seeds 100 101 ... 119 [--save runs.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import digits_runs
from digits_runs import Job, Outcome
from method_accuracy import _summary, print_table

SYNERGY_ONLY_PHASES = ("W", "A")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", default=["full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 120)))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    digits_runs.ensure_teachers(())
    jobs = [Job(arm, (), seed) for seed in args.seeds for arm in args.arms]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = [_summary(outcome) for outcome in pool.map(run_on_teacher_data, jobs)]
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1))
    print_table(rows)


def run_on_teacher_data(job: Job) -> Outcome:
    """One run whose synergy-only epochs read the whole training split."""
    from asib_sweeps.data import train_batches
    from asib_sweeps.methods.base import EpochPlan
    from asib_sweeps.training.epoch import EpochTrainer

    student_batches = EpochTrainer._batches

    def batches(self: EpochTrainer, plan: EpochPlan) -> Iterable:
        if plan.phase not in SYNERGY_ONLY_PHASES:
            return student_batches(self, plan)
        cfg = self.config.data
        steps = -(-self.train_split.labels.shape[0] // cfg.batch_size)
        whole = train_batches(
            self.data.train, batch_size=cfg.batch_size, seed=self.config.seed, epoch=plan.epoch,
            mean=self.data.mean, std=self.data.std, crop_padding=cfg.crop_padding, flip=cfg.flip,
        )
        return itertools.islice(whole, steps)

    EpochTrainer._batches = batches
    return digits_runs.run_job(job)


if __name__ == "__main__":
    main()
