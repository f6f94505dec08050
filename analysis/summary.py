"""The first look at a study: accuracy per arm over its finished trials."""

from __future__ import annotations

import pandas as pd

from analysis.tables import STATUSES

SUMMARY_METRICS = ("test_acc_final", "test_acc_best_val")


def arm_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """count, mean and std of the final and best-validation test accuracy per (study, arm).

    Only TERMINATED trials count: a running trial's last epoch is not its final one,
    and an errored trial's never will be.
    """
    finished = trials[trials["status"] == "TERMINATED"]
    grouped = finished.groupby(["study", "arm"], sort=True)[list(SUMMARY_METRICS)]
    summary = grouped.agg(["count", "mean", "std"])
    summary.columns = [f"{metric}_{statistic}" for metric, statistic in summary.columns]
    return summary.reset_index()


def status_counts(trials: pd.DataFrame) -> pd.Series:
    """Trials per status, every status of the contract listed (zeros included)."""
    return trials["status"].value_counts().reindex(list(STATUSES), fill_value=0)
