"""CCCP stability: whether each stage decreases the joint objective (CCCP's own claim), and the
student's validation accuracy under E2E (`ib`) against CCCP (`cccp`).

The joint objective (L_syn + L_stu on one fixed validation batch, reported every epoch)
is read at each stage's end; `objective_stages` gives its decrease per stage. For the
learning curves: CCCP interleaves A-epochs, in which the student does not train, with
B-epochs; E2E trains the student every (joint) epoch. Counting only epochs that train
the student ("student epochs") puts the two on one x-axis.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.component_effects import stage_objectives
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


def objective_stages(epochs: pd.DataFrame) -> pd.DataFrame:
    """trial_id, arm, seed, stage, objective, decrease: the joint objective on the fixed validation batch
    at each stage's last epoch (stage -1: the end of the synergy warm-up), for trials of two or more
    stages; decrease is the previous end's value minus this one (NaN at the first end).

    CCCP's claim is that each stage decreases the joint objective; E2E runs are one stage and
    are left out.
    """
    require_columns(epochs, ("joint_objective",), "epochs.parquet")
    rows = []
    for trial_id, trial in epochs.sort_values("epoch").groupby("trial_id", sort=True):
        ends = stage_objectives(trial[["phase", "stage", "joint_objective"]].to_dict("records"))
        if sum(stage >= 0 for stage, _ in ends) < 2:
            continue
        previous = math.nan
        for stage, value in ends:
            first = trial.iloc[0]
            rows.append(
                {"trial_id": trial_id, "arm": first["arm"], "seed": first["seed"], "stage": stage,
                 "objective": value, "decrease": previous - value}
            )  # fmt: skip
            previous = value
    if not rows:
        raise MissingData("no trial of two or more stages reported joint_objective")
    return pd.DataFrame(rows)


def objective_summary(stages: pd.DataFrame) -> pd.DataFrame:
    """Per arm: trials, stage transitions, mean decrease per transition and the share that decreased."""
    rows = []
    for arm, group in stages.dropna(subset=["decrease"]).groupby("arm", sort=False):
        rows.append(
            {
                "arm": arm,
                "trials": group["trial_id"].nunique(),
                "transitions": len(group),
                "mean_decrease": float(group["decrease"].mean()),
                "monotone_fraction": float((group["decrease"] > 0).mean()),
            }
        )
    return pd.DataFrame(rows)
