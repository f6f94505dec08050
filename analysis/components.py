"""What each component of the ladder changed, across a sweep: teacher drift, freezing savings, the
synergy's use of the query (docs/results.md, "What each component changed").

Pure functions over the tables; the CCCP objective per stage is in analysis/cccp.py, beside
the learning curves it qualifies.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.stats import MissingData, finished, require_columns, spread

DRIFT = re.compile(r"^teacher(\d+)_drift_l2$")
SAVINGS = (
    "trainable_param_steps",
    "frozen_param_steps",
    "a_phase_time_s",
    "a_phase_saved_activation_mb",
    "a_phase_peak_memory_mb",
)
"""The trial columns the freezing-savings table averages (those with values)."""
QUERY = ("query_kl", "query_flips", "attention_entropy")


def teacher_drift(epochs: pd.DataFrame) -> pd.DataFrame:
    """trial_id, arm, seed, epoch, stage, phase, teacher, drift_l2, drift_kl: one row per teacher per
    epoch that reported its weight distance to theta^0 (ends of adapting phases, and each run's last epoch)."""
    teachers = sorted(int(m[1]) for m in map(DRIFT.match, epochs.columns) if m)
    if not teachers:
        raise MissingData("epochs.parquet has no teacher<k>_drift_l2 column (no run with teachers reported drift)")
    frames = []
    for teacher in teachers:
        l2, kl = f"teacher{teacher}_drift_l2", f"teacher{teacher}_drift_kl"
        rows = epochs[epochs[l2].notna()]
        frame = rows[["trial_id", "arm", "seed", "epoch", "stage", "phase"]].copy()
        frame["teacher"] = teacher
        frame["drift_l2"] = rows[l2].astype("float64")
        frame["drift_kl"] = rows[kl].astype("float64") if kl in rows.columns else float("nan")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).sort_values(["trial_id", "epoch", "teacher"], ignore_index=True)


def drift_by_stage(drift: pd.DataFrame) -> pd.DataFrame:
    """arm, stage, n (trials), drift_l2 (each trial's last report in the stage) and drift_kl (the stage's
    adapting phase; NaN where none adapted): mean over teachers, then over trials."""
    ordered = drift.sort_values("epoch")
    per_teacher = ordered.groupby(["arm", "trial_id", "stage", "teacher"], as_index=False).agg(
        drift_l2=("drift_l2", "last"), drift_kl=("drift_kl", lambda values: values.sum(min_count=1))
    )
    per_trial = per_teacher.groupby(["arm", "trial_id", "stage"], as_index=False)[["drift_l2", "drift_kl"]].mean()
    return per_trial.groupby(["arm", "stage"], as_index=False).agg(
        n=("trial_id", "size"), drift_l2=("drift_l2", "mean"), drift_kl=("drift_kl", "mean")
    )


def freezing_savings(trials: pd.DataFrame) -> pd.DataFrame:
    """arm, n, and the mean over finished trials of each SAVINGS column that holds values."""
    done = finished(trials)
    usable = [column for column in SAVINGS if column in done.columns and done[column].notna().any()]
    if "frozen_param_steps" not in usable:
        raise MissingData("trials.parquet has no frozen_param_steps values (tables older than the column)")
    rows = []
    for arm, group in done.groupby("arm", sort=False):
        row: dict[str, object] = {"arm": arm, "n": len(group)}
        for column in usable:
            row[column] = spread(group[column])[1]
        rows.append(row)
    return pd.DataFrame(rows)


def query_sensitivity(epochs: pd.DataFrame) -> pd.DataFrame:
    """arm, epoch, n, and the mean over trials of query_kl, query_flips and attention_entropy at that epoch."""
    require_columns(epochs, ("query_kl",), "epochs.parquet")
    present = [column for column in QUERY if column in epochs.columns]
    rows = epochs[epochs["query_kl"].notna()]
    table = rows.groupby(["arm", "epoch"], as_index=False).agg(
        n=("trial_id", "size"), **{column: (column, "mean") for column in present}
    )
    return table
