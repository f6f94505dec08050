"""Teacher adaptation: each teacher's validation accuracy before and after each A-phase
(does adapting the teachers preserve what they know?), and what it gives the student.

The training loop reports `teacher<k>_val_acc_before` on the first epoch of each phase
that adapts the teachers and `teacher<k>_val_acc_after` on its last (docs/results.md);
an A-phase is a stage's run of A-epochs.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.stats import MissingData, PairedDifference, finished, paired_difference, per_seed
from analysis.summary import COMPARED

BEFORE = re.compile(r"^teacher(\d+)_val_acc_before$")
ADAPTED_ARM, FIXED_ARM = "tadapt", "cccp"


def teacher_preservation(epochs: pd.DataFrame) -> pd.DataFrame:
    """trial_id, arm, seed, stage, teacher, before, after, change: one row per teacher per A-phase."""
    teachers = sorted(int(m[1]) for m in map(BEFORE.match, epochs.columns) if m)
    if not teachers:
        raise MissingData("epochs.parquet has no teacher<k>_val_acc_before column (no run adapted its teachers)")
    rows = []
    for teacher in teachers:
        before, after = f"teacher{teacher}_val_acc_before", f"teacher{teacher}_val_acc_after"
        if after not in epochs.columns:
            raise MissingData(f"epochs.parquet has {before} but no {after}")
        adapting = epochs[epochs[before].notna() | epochs[after].notna()].sort_values("epoch")
        for (trial_id, stage), phase in adapting.groupby(["trial_id", "stage"], sort=True):
            starts, ends = phase[before].dropna(), phase[after].dropna()
            if starts.empty or ends.empty:
                continue  # a phase still running (or cut by a crash) has no "after" yet
            first = phase.iloc[0]
            rows.append(
                {
                    "trial_id": trial_id,
                    "arm": first["arm"],
                    "seed": first["seed"],
                    "stage": int(stage),
                    "teacher": teacher,
                    "before": float(starts.iloc[0]),
                    "after": float(ends.iloc[-1]),
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        raise MissingData("no epoch reported teacher accuracy before adaptation")
    table["change"] = table["after"] - table["before"]
    return table


def student_gain(trials: pd.DataFrame) -> PairedDifference:
    """tadapt - cccp in the student's test accuracy at the best-validation epoch, paired over seeds."""
    done = finished(trials)
    missing = [arm for arm in (ADAPTED_ARM, FIXED_ARM) if not (done["arm"] == arm).any()]
    if missing:
        raise MissingData(f"trials.parquet has no finished trial of arm {', '.join(missing)}")
    return paired_difference(per_seed(done, ADAPTED_ARM, COMPARED), per_seed(done, FIXED_ARM, COMPARED))
