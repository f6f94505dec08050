"""What a report covers: the sweeps found, their trials by status, the errors, the config keys
that differ between arms, and the teachers the trials distilled from."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from analysis.arms import ordered_arms, study_of
from analysis.schema import CONFIG_PREFIX
from analysis.summary import status_counts

_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(\([\w.]+\))?: ")
TEACHER_VAL = re.compile(r"^teacher(\d+)_val_acc$")
IGNORED_KEYS = ("cfg.seed",)


def sweep_overview(sweeps: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per sweep (name -> trials table): sweep, study, trials, and the count of each status."""
    rows = []
    for name, trials in sweeps.items():
        studies = ", ".join(sorted(set(trials["study"].dropna())))
        rows.append({"sweep": name, "study": studies, "trials": len(trials), **status_counts(trials).to_dict()})
    return pd.DataFrame(rows)


def error_message(traceback: str) -> str:
    """The line of a traceback that states the error (`ValueError: ...`): the last such line, else the last line."""
    lines = [line.strip() for line in traceback.strip().splitlines() if line.strip()]
    stated = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return (stated or lines or [""])[-1]


def errors(trials: pd.DataFrame) -> pd.DataFrame:
    """trial_id, arm, seed, message: the ERROR trials with the line that states their error."""
    failed = trials[trials["status"] == "ERROR"]
    messages = [
        error_message(text) if isinstance(text, str) else "(no error text recorded)" for text in failed["error"]
    ]
    return pd.DataFrame(
        {"trial_id": failed["trial_id"], "arm": failed["arm"], "seed": failed["seed"], "message": messages}
    )


def config_differences(trials: pd.DataFrame, arm_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Config keys whose value differs between trials (the seed aside): index key, one column per arm.

    A cell is the arm's value, or "<n> values in [low, high]" (numbers) / "<n> values" where it varies within the arm.
    """
    columns = [c for c in trials.columns if c.startswith(CONFIG_PREFIX) and c not in IGNORED_KEYS]
    varying = [c for c in columns if trials[c].astype("string").nunique(dropna=False) > 1]
    arms = ordered_arms(trials["arm"].dropna(), study_of(trials), arm_order)
    table = {arm: [_cell(trials.loc[trials["arm"] == arm, c]) for c in varying] for arm in arms}
    return pd.DataFrame(table, index=pd.Index([c.removeprefix(CONFIG_PREFIX) for c in varying], name="key"))


def teachers_used(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """key, index, trials, val_acc, test_acc: each teacher the trials distilled from, with its accuracy
    at the first epoch before any adaptation (the fine-tuned weights from the cache)."""
    first = epochs.sort_values("epoch").groupby("trial_id").head(1).set_index("trial_id")
    rows = []
    for _, trial in trials.iterrows():
        keys = trial["teacher_keys"]
        if keys is None or trial["trial_id"] not in first.index:
            continue
        epoch = first.loc[trial["trial_id"]]
        for index, key in enumerate(keys):
            rows.append(
                {"key": key, "index": index, **{split: _initial(epoch, index, split) for split in ("val", "test")}}
            )
    if not rows:
        return pd.DataFrame(columns=["key", "index", "trials", "val_acc", "test_acc"])
    table = pd.DataFrame(rows)
    grouped = table.groupby(["key", "index"], sort=True)
    return grouped.agg(trials=("val", "size"), val_acc=("val", "mean"), test_acc=("test", "mean")).reset_index()


def _initial(epoch: pd.Series, index: int, split: str) -> float:
    """Teacher `index`'s accuracy before the epoch: the `_before` value where the epoch adapted it."""
    for name in (f"teacher{index}_{split}_acc_before", f"teacher{index}_{split}_acc"):
        if name in epoch.index and pd.notna(epoch[name]):
            return float(epoch[name])
    return float("nan")


def _cell(values: pd.Series) -> str:
    distinct = values.dropna().unique()
    if len(distinct) == 1 and not values.isna().any():
        return str(distinct[0])
    if len(distinct) > 1 and pd.api.types.is_numeric_dtype(values):
        return f"{len(distinct)} values in [{values.min():g}, {values.max():g}]"
    return f"{len(distinct)} values" + (" and nulls" if values.isna().any() else "")
