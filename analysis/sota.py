"""The SOTA comparison (methods x test accuracy, paired against ce and asib) and the class-overlap curve."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.arms import OVERLAP_ARMS
from analysis.stats import finished, require_columns, spread
from analysis.summary import COMPARED, OVERLAP_COLUMN, arm_table, compared_to



def sota_table(trials: pd.DataFrame, arm_order: Sequence[str] | None = None) -> pd.DataFrame:
    """arm_table in the sweep's recorded order (else the SOTA order), with paired differences to ce and to asib."""
    return arm_table(trials, references=compared_to("sota"), study="sota", arm_order=arm_order)


def overlap_curve(trials: pd.DataFrame, metric: str = COMPARED) -> pd.DataFrame:
    """overlap, arm, n, mean, std of `metric` over seeds, for the overlap study's arms."""
    done = finished(trials)
    require_columns(done, (OVERLAP_COLUMN,), "trials.parquet (finished trials)")
    rows = []
    for (overlap, arm), group in done[done["arm"].isin(OVERLAP_ARMS)].groupby([OVERLAP_COLUMN, "arm"], sort=True):
        rows.append((int(overlap), arm, *spread(group[metric])))
    return pd.DataFrame(rows, columns=["overlap", "arm", "n", "mean", "std"])
