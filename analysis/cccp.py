"""CCCP stability: the student's validation accuracy under E2E (`ib`) against CCCP (`cccp`).

CCCP interleaves A-epochs, in which the student does not train, with B-epochs; E2E
trains the student every (joint) epoch. Counting only epochs that train the student
("student epochs") puts the two on one x-axis.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import MissingData, require_columns, spread

STUDENT_PHASES = ("joint", "B")
"""Phases in which the student trains."""
E2E_ARM, CCCP_ARM = "ib", "cccp"
NEAR_BEST = 0.95


def student_epoch_curves(epochs: pd.DataFrame, arms: tuple[str, ...] = (E2E_ARM, CCCP_ARM)) -> pd.DataFrame:
    """trial_id, arm, seed, student_epoch (1-based count of student-training epochs), val_acc."""
    require_columns(epochs, ("phase", "val_acc"), "epochs.parquet")
    missing = [arm for arm in arms if not (epochs["arm"] == arm).any()]
    if missing:
        raise MissingData(f"epochs.parquet has no epochs of arm {', '.join(missing)}")
    rows = epochs[epochs["arm"].isin(arms) & epochs["phase"].isin(STUDENT_PHASES)].sort_values(["trial_id", "epoch"])
    curves = rows[["trial_id", "arm", "seed", "val_acc"]].copy()
    curves.insert(3, "student_epoch", rows.groupby("trial_id").cumcount().to_numpy() + 1)
    return curves.reset_index(drop=True)


def curve_band(curves: pd.DataFrame) -> pd.DataFrame:
    """arm, student_epoch, n, mean, std of val_acc over the trials (seeds) at each student epoch."""
    rows = []
    for (arm, epoch), group in curves.groupby(["arm", "student_epoch"], sort=True):
        n, mean, std = spread(group["val_acc"])
        rows.append({"arm": arm, "student_epoch": epoch, "n": n, "mean": mean, "std": std})
    return pd.DataFrame(rows)


def trial_stability(curves: pd.DataFrame, last_k: int) -> pd.DataFrame:
    """Per trial: std and coefficient of variation of val_acc over its last `last_k` student epochs,
    and the first student epoch reaching NEAR_BEST of its best val_acc."""
    rows = []
    for trial_id, curve in curves.sort_values("student_epoch").groupby("trial_id", sort=True):
        values = curve["val_acc"].to_numpy(dtype="float64")
        tail = values[-last_k:]
        _, tail_mean, tail_std = spread(tail)
        reached = np.flatnonzero(values >= NEAR_BEST * values.max())
        rows.append(
            {
                "trial_id": trial_id,
                "arm": curve["arm"].iloc[0],
                "seed": curve["seed"].iloc[0],
                "last_k": len(tail),
                "tail_std": tail_std,
                "tail_cv": tail_std / tail_mean if tail_mean else math.nan,
                "epochs_to_95": int(curve["student_epoch"].to_numpy()[reached[0]]),
            }
        )
    return pd.DataFrame(rows)


def stability(curves: pd.DataFrame, last_k: int = 5) -> pd.DataFrame:
    """Per arm, the mean over seeds of trial_stability's measures, with n (seeds) and k used."""
    per_trial = trial_stability(curves, last_k)
    rows = []
    for arm, group in per_trial.groupby("arm", sort=False):
        row: dict[str, object] = {"arm": arm, "n": len(group), "last_k": int(group["last_k"].min())}
        for measure in ("tail_std", "tail_cv", "epochs_to_95"):
            _, row[f"{measure}_mean"], row[f"{measure}_std"] = spread(group[measure])
        rows.append(row)
    return pd.DataFrame(rows)
