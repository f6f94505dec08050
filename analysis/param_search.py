"""Any search's trials as one table (a column per parameter, one score column), and the
importance of each parameter to the score, as Optuna Dashboard and W&B show them.

Generic on purpose: the beta study's Optuna search (analysis.beta_study.search_table)
and any other table of tuned trials give a frame, the names of its parameter columns and
of its score column; the functions here know nothing else of where it came from.
Numeric parameters are continuous, anything else (strings, booleans) categorical.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.stats import MissingData

MIN_PARAMETERS = 2
"""With one parameter its importance is 1 by construction and a parallel-coordinates plot is a scatter plot."""


def is_categorical(values: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values)


def scored_rows(table: pd.DataFrame, params: Sequence[str], score: str) -> pd.DataFrame:
    """The rows with a score and every parameter set, after checking the search has
    two or more parameters and each of them varies (else MissingData says which)."""
    missing = [column for column in [*params, score] if column not in table.columns]
    if missing:
        raise MissingData(f"the search table has no column {', '.join(missing)}")
    if len(params) < MIN_PARAMETERS:
        names = ", ".join(params) or "none"
        raise MissingData(f"needs two or more searched parameters; this study searched {names}")
    rows = table.dropna(subset=[*params, score])
    if len(rows) < 2:
        raise MissingData(f"needs two or more trials with a {score}; the search has {len(rows)}")
    constant = [column for column in params if rows[column].nunique() < 2]
    if constant:
        raise MissingData(f"parameter {', '.join(constant)} has one value over the scored trials")
    return rows


def param_importance(
    table: pd.DataFrame, params: Sequence[str], score: str, *, maximize: bool = True, seed: int = 0
) -> pd.DataFrame:
    """parameter, importance (summing to 1, largest first): Optuna's fANOVA evaluator on a
    study rebuilt from the table.

    fANOVA fits a random forest of the score on the parameters and splits the score's
    variance between them; it is Optuna's default evaluator and what Optuna Dashboard
    draws. The tables do not hold the search space, so each numeric parameter's
    distribution spans its observed values, on a log scale where all are positive and
    span two decades or more (as a learning rate or beta is searched); categorical
    parameters take their observed values as choices.
    """
    import optuna  # imported here: importing analysis (and drawing every other figure) does without it

    rows = scored_rows(table, params, score)
    if rows[score].nunique() < 2:  # fANOVA splits the score's variance; with none it has nothing to split
        raise MissingData(f"every scored trial has the same {score}: no parameter explains a difference")
    columns = {column: _optuna_values(rows[column]) for column in params}
    distributions = {column: _distribution(rows[column], columns[column]) for column in params}
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    for index, value in enumerate(rows[score].astype(float)):
        values = {column: columns[column][index] for column in params}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=distributions, value=value))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    importance = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    return pd.DataFrame({"parameter": list(importance), "importance": list(importance.values())})


def is_log_scaled(values: pd.Series) -> bool:
    """Positive values spanning two decades or more: searched, and best read, on a log scale."""
    low, high = float(values.min()), float(values.max())
    return low > 0 and high / low >= 100


def _optuna_values(values: pd.Series) -> list[object]:
    """A column as the Python values Optuna's distributions check: floats, or categories
    Optuna accepts (None, bool, int, float, str; anything else by its text)."""
    if not is_categorical(values):
        return [float(value) for value in values.tolist()]
    return [value if isinstance(value, bool | int | float | str) else str(value) for value in values.tolist()]


def _distribution(values: pd.Series, choices: list[object]):  # -> optuna.distributions.BaseDistribution
    import optuna

    if is_categorical(values):
        return optuna.distributions.CategoricalDistribution(sorted(set(choices), key=str))
    return optuna.distributions.FloatDistribution(min(choices), max(choices), log=is_log_scaled(values))
