"""The few statistics every analysis shares: finished trials, mean and spread, paired tests.

Seeds pair the arms of a study (each arm runs every seed on the same data split and
teachers), so arms are compared by a paired t-test over seeds; with one seed there
is no spread and no test, and the tables say so by leaving those values empty (NaN)
rather than inventing them.

The protocol's statistics (docs/PROTOCOL.md): a mean's 95 % confidence interval from
Student's t over seeds; the same interval for a paired difference; Holm's step-down
adjustment of the p-values of one table (its family of comparisons); and TOST, two
one-sided paired t-tests against a margin declared before the run, which is what may
call two arms equivalent. Intervals and TOST need at least MIN_INTERVAL_N values: below
that they are NaN, and the tables say that no interval is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

FINISHED = "TERMINATED"
CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
MIN_INTERVAL_N = 3
"""Fewer values than this get no interval and no equivalence test (two seeds say little about spread)."""


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


def t_interval(values: Sequence[float] | pd.Series | np.ndarray) -> tuple[float, float]:
    """The 95 % confidence interval of the mean, mean +- t_{0.975, n-1} s / sqrt(n); NaN below MIN_INTERVAL_N."""
    array = pd.Series(values, dtype="float64").dropna().to_numpy()
    if array.size < MIN_INTERVAL_N:
        return math.nan, math.nan
    half = stats.t.ppf(1 - ALPHA / 2, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size)
    return float(array.mean() - half), float(array.mean() + half)


def tost_p(differences: Sequence[float] | np.ndarray, margin: float) -> float:
    """TOST's p for |mean difference| < margin: the larger p of the one-sided t-tests of
    H0: mean <= -margin and H0: mean >= +margin. NaN below MIN_INTERVAL_N or without spread."""
    array = np.asarray(differences, dtype="float64")
    if array.size < MIN_INTERVAL_N or np.ptp(array) == 0:
        return math.nan
    above = stats.ttest_1samp(array, -margin, alternative="greater").pvalue
    below = stats.ttest_1samp(array, margin, alternative="less").pvalue
    return float(max(above, below))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order; NaN stays NaN and is not in the family.

    The i-th smallest of m p-values becomes max over j <= i of min(1, (m - j + 1) p_(j)).
    """
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - rank) * p))
        adjusted[index] = running
    return adjusted


def verdict(pairs: int, p_holm: float, p_tost: float, margin_points: float) -> str:
    """What a table says of one comparison, at ALPHA after Holm's adjustment and TOST at the margin."""
    if pairs < MIN_INTERVAL_N:
        return f"n<{MIN_INTERVAL_N}: no test"
    different, equivalent = p_holm < ALPHA, p_tost < ALPHA  # NaN compares False
    margin = f"±{margin_points:g} pt"
    if different and equivalent:
        return f"differs, within {margin}"
    if different:
        return "differs"
    if equivalent:
        return f"equivalent within {margin}"
    if math.isnan(p_tost):
        return "no spread: no test"
    return "inconclusive"


@dataclass(frozen=True)
class PairedDifference:
    """a - b over the pairs both have: mean, sample std, the paired t-test's t and two-sided p,
    the 95 % t interval of the mean difference, and TOST's p at `margin` (NaN when none was given)."""

    pairs: int
    mean: float
    std: float
    t: float
    p: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    tost_p: float = math.nan


def paired_difference(a: pd.Series, b: pd.Series, margin: float | None = None) -> PairedDifference:
    """Compare two arms' values indexed by their pairing key (the seed).

    Only keys present (and non-null) in both count. t and p are NaN below two pairs, and
    when every difference is the same (no spread to test against); the interval and TOST
    below MIN_INTERVAL_N pairs. `margin` is in the values' own unit (accuracy: a fraction).
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
    low, high = t_interval(differences)
    tost = tost_p(differences, margin) if margin is not None else math.nan
    return PairedDifference(pairs=pairs, mean=mean, std=std, t=t, p=p, ci_low=low, ci_high=high, tost_p=tost)


def per_seed(trials: pd.DataFrame, arm: str, metric: str) -> pd.Series:
    """One arm's finished-trial values of `metric`, indexed by seed."""
    rows = finished(trials)
    rows = rows[rows["arm"] == arm]
    return pd.Series(rows[metric].astype("float64").to_numpy(), index=rows["seed"].astype("int64").to_numpy())
