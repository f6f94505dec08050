"""Ours against the published CIFAR-100 numbers, pair by pair, with the difference and its CI.

`PUBLISHED` is the one place the published numbers live. Each carries the selection its
paper used, because the two papers differ: CRD (Tian et al., ICLR 2020, RepDistiller's
README table) reports the last epoch's test accuracy averaged over runs; DKD (Zhao et
al., CVPR 2022, mdistiller's README table) the best epoch's test accuracy over 5 runs.
The published code chose that epoch on the test set, so the reproduction configs run
with `data.val_fraction: 0` (all 50k training images; val = test), where
`test_acc_best_val` is exactly the best epoch's test accuracy. Ours are both columns,
last and best; the difference is taken in the column of the published number's selection.

The published value is a constant here (its own run-to-run spread is not published), so
the 95 % CI of ours minus it is Student's t interval of our mean over seeds, shifted.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from analysis.schema import CONFIG_PREFIX
from analysis.stats import MissingData, finished, require_columns

Selection = Literal["last", "best"]
TEACHER_COLUMN = f"{CONFIG_PREFIX}teachers.0.arch"
STUDENT_COLUMN = f"{CONFIG_PREFIX}student.arch"
CRD_PAPER = "CRD (Tian et al. 2020), RepDistiller README"
DKD_PAPER = "DKD (Zhao et al. 2022), mdistiller README"


class Published(NamedTuple):
    teacher: str
    student: str
    method: str
    """`kd`, `dkd`, `crd`, or `ce` for the student trained alone."""
    accuracy: float
    """Top-1 test accuracy in percent."""
    selection: Selection
    source: str


def _pair_rows(teacher: str, student: str, ce: float, kd: float, crd: float, dkd: float) -> list[Published]:
    return [
        Published(teacher, student, "ce", ce, "last", CRD_PAPER),
        Published(teacher, student, "kd", kd, "last", CRD_PAPER),
        Published(teacher, student, "crd", crd, "last", CRD_PAPER),
        Published(teacher, student, "dkd", dkd, "best", DKD_PAPER),
    ]


PUBLISHED: tuple[Published, ...] = (
    *_pair_rows("resnet32x4", "resnet8x4", ce=72.50, kd=73.33, crd=75.51, dkd=76.32),
    *_pair_rows("resnet56", "resnet20", ce=69.06, kd=70.66, crd=71.16, dkd=71.97),
    *_pair_rows("resnet110", "resnet32", ce=71.14, kd=73.08, crd=73.48, dkd=74.11),
    *_pair_rows("wrn_40_2", "wrn_16_2", ce=73.26, kd=74.92, crd=75.48, dkd=76.23),
    *_pair_rows("wrn_40_2", "wrn_40_1", ce=71.98, kd=73.54, crd=74.14, dkd=74.81),
    *_pair_rows("vgg13", "vgg8", ce=70.36, kd=72.98, crd=73.94, dkd=74.68),
)
"""Published student accuracies on CIFAR-100 (the teachers' are in PUBLISHED_TEACHERS)."""

PUBLISHED_TEACHERS: dict[str, float] = {
    "resnet32x4": 79.42,
    "resnet56": 72.34,
    "resnet110": 74.31,
    "wrn_40_2": 75.61,
    "vgg13": 74.64,
}
"""The published teacher files' test accuracy in percent (CRD paper, Table 1)."""

COLUMNS = [
    "teacher", "student", "method", "n", "ours_last", "ours_best", "published", "selection",
    "difference", "ci_low", "ci_high", "source",
]


def published_value(teacher: str, student: str, method: str) -> Published | None:
    return next((p for p in PUBLISHED if (p.teacher, p.student, p.method) == (teacher, student, method)), None)


def reproduction_table(trials: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (teacher, student, method) of finished trials: ours (last and best epoch, % mean
    over seeds), the published value, ours − published in its selection's column and that
    difference's `confidence` CI (NaN below two seeds or without a published value)."""
    done = finished(trials)
    needed = (TEACHER_COLUMN, STUDENT_COLUMN, "arm", "test_acc_final", "test_acc_best_val")
    require_columns(done, needed, "trials.parquet (finished trials)")
    rows = []
    for (teacher, student, method), group in done.groupby([TEACHER_COLUMN, STUDENT_COLUMN, "arm"], sort=True):
        rows.append(_row(teacher, student, method, group, confidence))
    if not rows:
        raise MissingData("no finished trial yet")
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(teacher: str, student: str, method: str, group: pd.DataFrame, confidence: float) -> dict[str, object]:
    ours = {"last": 100 * group["test_acc_final"].dropna(), "best": 100 * group["test_acc_best_val"].dropna()}
    published = published_value(teacher, student, method)
    row: dict[str, object] = {
        "teacher": teacher, "student": student, "method": method, "n": len(ours["last"]),
        "ours_last": ours["last"].mean(), "ours_best": ours["best"].mean(),
        "published": np.nan, "selection": None, "difference": np.nan, "ci_low": np.nan, "ci_high": np.nan,
        "source": None,
    }
    if published is None:
        return row
    compared = ours[published.selection]
    difference = compared.mean() - published.accuracy
    half = _t_half_width(compared, confidence)
    row.update(
        published=published.accuracy, selection=published.selection, difference=difference,
        ci_low=difference - half, ci_high=difference + half, source=published.source,
    )
    return row


def _t_half_width(values: pd.Series, confidence: float) -> float:
    """Half-width of Student's t interval of the mean of `values` (NaN below two values)."""
    n = len(values)
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))


def readable_reproduction_table(table: pd.DataFrame) -> pd.DataFrame:
    """Two decimals as the papers print them; the CI as one `[low, high]` cell."""
    def number(value: float) -> str:
        return "—" if pd.isna(value) else f"{value:.2f}"

    def signed(value: float) -> str:
        return "—" if pd.isna(value) else f"{value:+.2f}"

    return pd.DataFrame(
        {
            "teacher → student": table["teacher"] + " → " + table["student"],
            "method": table["method"],
            "seeds": table["n"],
            "ours (last)": table["ours_last"].map(number),
            "ours (best)": table["ours_best"].map(number),
            "published": table["published"].map(number),
            "selection": table["selection"].fillna("—"),
            "difference": table["difference"].map(signed),
            "95 % CI": [
                "—" if math.isnan(low) else f"[{low:+.2f}, {high:+.2f}]"
                for low, high in zip(table["ci_low"], table["ci_high"])
            ],
        }
    )
