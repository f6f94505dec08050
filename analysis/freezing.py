"""Partial-freezing efficiency: what each stage costs under `full` (progressive freezing) against `tadapt`.

Per arm, stage and phase: the mean training time per epoch, the mean number of trained
parameters and the highest peak memory reported (on CUDA the epoch's peak allocation;
on CPU the training loop reports the worker process's lifetime peak RSS, which
includes earlier trials run by the same reused worker, so it compares poorly there).
"""

from __future__ import annotations

import pandas as pd

from analysis.stats import MissingData

ARMS = ("tadapt", "full")
COSTS = {"epoch_time_s": "mean", "trainable_params": "mean", "peak_memory_mb": "max"}


def usable_costs(epochs: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(cost columns with measurements, one-line reasons for the others)."""
    usable, reasons = [], []
    for column in COSTS:
        if column not in epochs.columns or epochs[column].isna().all():
            reasons.append(f"epochs.parquet has no {column} values")
        else:
            usable.append(column)
    return usable, reasons


def stage_costs(epochs: pd.DataFrame, arms: tuple[str, ...] = ARMS) -> pd.DataFrame:
    """arm, stage, phase, epochs (rows averaged), and each usable cost."""
    rows = epochs[epochs["arm"].isin(arms)]
    missing = [arm for arm in arms if not (rows["arm"] == arm).any()]
    if missing:
        raise MissingData(f"epochs.parquet has no epochs of arm {', '.join(missing)}")
    usable, reasons = usable_costs(rows)
    if not usable:
        raise MissingData("; ".join(reasons))
    grouped = rows.groupby(["arm", "stage", "phase"], sort=True)
    table = grouped.agg(epochs=("epoch", "size"), **{column: (column, COSTS[column]) for column in usable})
    return table.reset_index()
