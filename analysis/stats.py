"""The few statistics every analysis shares: finished trials, mean and spread, paired tests.

Seeds pair the arms of a study (each arm runs every seed on the same data split and
teachers), so arms are compared by a paired t-test over seeds; with one seed there
is no spread and no test, and the tables say so by leaving those values empty (NaN)
rather than inventing them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

FINISHED = "TERMINATED"


class MissingData(ValueError):
    """The tables lack what an analysis needs; the message is the one-line reason the page shows."""


def require_columns(table: pd.DataFrame, columns: Iterable[str], table_name: str) -> None:
    """Raise MissingData naming the first of `columns` that `table_name` lacks or holds only nulls in."""
    for column in columns:
        if column not in table.columns:
            raise MissingData(f"{table_name} has no column {column}")
        if table[column].isna().all():
            raise MissingData(f"{table_name} column {column} holds no values")


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """TERMINATED trials: a running trial's last epoch is not its final one, an errored one's never will be."""
    return trials[trials["status"] == FINISHED]


def spread(values: Sequence[float] | pd.Series) -> tuple[int, float, float]:
    """(n, mean, sample std) of the non-null values; std is NaN below two values, mean below one."""
    array = pd.Series(values, dtype="float64").dropna().to_numpy()
    if array.size == 0:
        return 0, math.nan, math.nan
    return int(array.size), float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else math.nan


@dataclass(frozen=True)
class PairedDifference:
    """a - b over the pairs both have: mean, sample std, and the paired t-test's t and two-sided p."""

    pairs: int
    mean: float
    std: float
    t: float
    p: float


def paired_difference(a: pd.Series, b: pd.Series) -> PairedDifference:
    """Compare two arms' values indexed by their pairing key (the seed).

    Only keys present (and non-null) in both count. t and p are NaN below two pairs, and
    when every difference is the same (no spread to test against).
    """
    for name, series in (("a", a), ("b", b)):
        if not series.index.is_unique:
            raise MissingData(f"paired comparison: {name} holds more than one value per seed")
    joined = pd.concat({"a": a, "b": b}, axis=1).dropna()
    differences = (joined["a"] - joined["b"]).astype("float64").to_numpy()
    pairs, mean, std = spread(differences)
    t = p = math.nan
    if pairs >= 2 and np.ptp(differences) > 0:
        result = stats.ttest_rel(joined["a"].astype("float64"), joined["b"].astype("float64"))
        t, p = float(result.statistic), float(result.pvalue)
    return PairedDifference(pairs=pairs, mean=mean, std=std, t=t, p=p)


def per_seed(trials: pd.DataFrame, arm: str, metric: str) -> pd.Series:
    """One arm's finished-trial values of `metric`, indexed by seed."""
    rows = finished(trials)
    rows = rows[rows["arm"] == arm]
    return pd.Series(rows[metric].astype("float64").to_numpy(), index=rows["seed"].astype("int64").to_numpy())
