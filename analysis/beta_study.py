"""Beta sensitivity: accuracy and the I(X;Z) bound against beta, the best beta on validation,
and the Optuna search's trial history, its table of parameters and objective, and the
parameters' importance (both through analysis.param_search).

What Optuna saw is rebuilt from the tables: Tune gives the searcher each trial's last
reported `val_acc` (the study's metric), and trial ids number trials in the order the
searcher proposed them.
"""

from __future__ import annotations

import pandas as pd

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


def beta_spread(points: pd.DataFrame, metric: str = ACCURACY) -> pd.DataFrame:
    """Per distinct beta: n, mean and std of `metric` (std NaN where a beta ran once)."""
    rows = [(beta, *spread(group[metric])) for beta, group in points.groupby("beta")]
    return pd.DataFrame(rows, columns=["beta", "n", "mean", "std"])


def best_beta(points: pd.DataFrame) -> pd.Series:
    """The trial with the highest val_acc_best (the first listed on ties)."""
    if points["val_acc_best"].isna().all():
        raise MissingData("no finished trial reported val_acc")
    return points.loc[points["val_acc_best"].idxmax()]


def trial_history(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """number (proposal order), trial_id, beta, objective (last val_acc), best_so_far, for finished trials."""
    done = finished(trials).sort_values("trial_id")
    objective = last_epochs(epochs)[OBJECTIVE] if OBJECTIVE in epochs.columns else pd.Series(dtype="float64")
    history = pd.DataFrame(
        {
            "number": range(len(done)),
            "trial_id": done["trial_id"].to_numpy(),
            "beta": done["beta"].to_numpy(),
            "objective": done["trial_id"].map(objective).to_numpy(dtype="float64"),
        }
    )
    if history["objective"].isna().all():
        raise MissingData("no finished trial reported val_acc")
    history["best_so_far"] = history["objective"].cummax()
    return history


def searched_parameters(trials: pd.DataFrame) -> list[str]:
    """Numeric config columns whose value differs between the finished trials (the seed aside)."""
    done = finished(trials)
    return [
        column
        for column in done.columns
        if column.startswith(CONFIG_PREFIX)
        and column not in IGNORED_KEYS
        and pd.api.types.is_numeric_dtype(done[column])
        and not pd.api.types.is_bool_dtype(done[column])
        and done[column].nunique(dropna=True) > 1
    ]


def search_table(trials: pd.DataFrame, epochs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The search as analysis.param_search takes it: one row per finished trial in proposal
    order, its searched parameters (named without the `cfg.` prefix) and `objective`, the
    value Optuna saw; and the names of the parameter columns."""
    parameters = searched_parameters(trials)
    done = finished(trials).sort_values("trial_id")
    table = done[parameters].rename(columns=lambda column: column.removeprefix(CONFIG_PREFIX)).reset_index(drop=True)
    table["objective"] = trial_history(trials, epochs)["objective"].to_numpy()
    return table, [parameter.removeprefix(CONFIG_PREFIX) for parameter in parameters]


def parameter_importance(trials: pd.DataFrame, epochs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """parameter, importance of the search's parameters to its objective (analysis.param_search)."""
    table, parameters = search_table(trials, epochs)
    return param_importance(table, parameters, "objective", seed=seed)
