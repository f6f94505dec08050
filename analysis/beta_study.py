"""Beta sensitivity: accuracy and the I(X;Z) bound against beta, the best beta on validation,
and the Optuna search's trial history, its table of parameters and objective, and the
parameters' importance (both through analysis.param_search).

Each beta the searcher proposed ran on several seeds (search_spaces/beta.py), so the
accuracy per beta is a mean over seeds with a 95 % t confidence interval. What Optuna saw
is rebuilt from the tables: Tune's Repeater gives the searcher the mean over a
proposal's seeds of each trial's last reported `val_acc` (the study's metric), and trial
ids number trials in the order they were proposed (a proposal's repeats in a row).
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from analysis.param_search import param_importance
from analysis.schema import CONFIG_PREFIX
from analysis.stats import MissingData, finished, require_columns, spread

OBJECTIVE = "val_acc"
ACCURACY = "test_acc_best_val"
IGNORED_KEYS = ("cfg.seed",)


def last_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    """Each trial's last reported epoch."""
    return epochs.sort_values("epoch").groupby("trial_id").tail(1).set_index("trial_id")


def beta_points(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """Per finished trial: trial_id, beta, the accuracies, val_acc_best, and i_xz at its last epoch (if reported)."""
    done = finished(trials)
    require_columns(done, ("beta",), "trials.parquet (finished trials)")
    points = done[["trial_id", "beta", "test_acc_best_val", "test_acc_final", "val_acc_best"]].copy()
    if "i_xz" in epochs.columns:
        points["i_xz_final"] = points["trial_id"].map(last_epochs(epochs)["i_xz"])
    return points.sort_values("beta").reset_index(drop=True)


def beta_spread(points: pd.DataFrame, metric: str = ACCURACY, confidence: float = 0.95) -> pd.DataFrame:
    """Per distinct beta: n, mean and std of `metric` over its seeds, and the two-sided t confidence
    interval of the mean, ci_low and ci_high (std and interval NaN where a beta ran once)."""
    rows = []
    for beta, group in points.groupby("beta"):
        n, mean, std = spread(group[metric])
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n) if n > 1 else math.nan
        rows.append((beta, n, mean, std, mean - half, mean + half))
    return pd.DataFrame(rows, columns=["beta", "n", "mean", "std", "ci_low", "ci_high"])


def best_beta(points: pd.DataFrame) -> pd.Series:
    """The beta with the highest val_acc_best averaged over its seeds (the smallest beta on ties):
    beta, n, and the means of val_acc_best and test_acc_best_val."""
    if points["val_acc_best"].isna().all():
        raise MissingData("no finished trial reported val_acc")
    means = points.groupby("beta").agg(
        n=("trial_id", "size"), val_acc_best=("val_acc_best", "mean"), test_acc_best_val=(ACCURACY, "mean")
    )
    return means.reset_index().loc[means["val_acc_best"].to_numpy().argmax()]


def trial_history(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """number (proposal order), trial_id (the proposal's first), beta, seeds, objective (mean over the
    proposal's finished seeds of their last val_acc: what the searcher was told), best_so_far."""
    done = finished(trials).sort_values("trial_id")
    objective = last_epochs(epochs)[OBJECTIVE] if OBJECTIVE in epochs.columns else pd.Series(dtype="float64")
    done = done.assign(objective=done["trial_id"].map(objective).astype("float64"))
    parameters = [*searched_parameters(trials), "beta"]
    proposals = done.groupby(parameters, sort=False, dropna=False).agg(
        trial_id=("trial_id", "first"), seeds=("trial_id", "size"), objective=("objective", "mean")
    )
    history = proposals.reset_index().sort_values("trial_id", ignore_index=True)
    history = history[["trial_id", "beta", "seeds", "objective", *parameters[:-1]]]
    history.insert(0, "number", range(len(history)))
    if history["objective"].isna().all():
        raise MissingData("no finished trial reported val_acc")
    history["best_so_far"] = history["objective"].cummax()
    return history


def searched_parameters(trials: pd.DataFrame) -> list[str]:
    """Numeric config columns whose value differs between the finished trials (the seeds aside: a
    proposal's repeats differ in their seed and, under data.split_per_seed, their split and teachers' seeds)."""
    done = finished(trials)
    return [
        column
        for column in done.columns
        if column.startswith(CONFIG_PREFIX)
        and column not in IGNORED_KEYS
        and not column.endswith((".seed", ".split_seed"))
        and pd.api.types.is_numeric_dtype(done[column])
        and not pd.api.types.is_bool_dtype(done[column])
        and done[column].nunique(dropna=True) > 1
    ]


def search_table(trials: pd.DataFrame, epochs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The search as analysis.param_search takes it: one row per proposal in proposal order
    (its seeds averaged: the value Optuna saw as `objective`), its searched parameters named
    without the `cfg.` prefix; and the names of the parameter columns."""
    parameters = searched_parameters(trials)
    history = trial_history(trials, epochs)
    table = history[[*parameters, "objective"]].rename(columns=lambda column: column.removeprefix(CONFIG_PREFIX))
    return table.reset_index(drop=True), [parameter.removeprefix(CONFIG_PREFIX) for parameter in parameters]


def parameter_importance(trials: pd.DataFrame, epochs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """parameter, importance of the search's parameters to its objective (analysis.param_search)."""
    table, parameters = search_table(trials, epochs)
    return param_importance(table, parameters, "objective", seed=seed)
