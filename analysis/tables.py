"""Turn what Tune's files say about each trial into the two results tables (Arrow).

The rules of the results contract live here: a trial's status, de-duplication of
re-reported epochs (keep the last report of an epoch), the best-validation epoch
(earliest on ties), and one Arrow type per column (declared in analysis.schema or,
for config values and new metrics, inferred; values of varying types become text).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from analysis.best_epoch import best_validation_epoch
from analysis.component_effects import component_effects
from analysis.flatten import flatten_dict
from analysis.schema import (
    CONFIG_PREFIX,
    EPOCH_COLUMNS,
    PARAM_PREFIX,
    RENAMED_METRIC_SUFFIX,
    SCHEMA_VERSION,
    SCHEMA_VERSION_METADATA_KEY,
    TRIAL_COLUMNS,
    TYPES,
    Column,
    metric_type,
)
from analysis.tune_experiment import TUNE_RESULT_FIELDS, TrialFiles

STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PENDING")
TUNE_STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PENDING", "PAUSED")
REQUIRED_PARAMS = ("study", "arm", "seed", "teacher_keys", "code_revision", "config")
"""Param-space keys every trial of a sweep carries (trainables/ and the sweep CLI put them there)."""

_TRIAL_LEVEL_NAMES = frozenset({"trial_id", "study", "arm", "seed", "beta", "schema_version"})
REPEAT_INDEX = "__trial_index__"
"""Ray Tune's Repeater adds this key to the params of each repeat of a suggestion (a copy of
search_spaces.study.REPEAT_INDEX; a test keeps them equal): the repeat ran at the planned seed
plus this index, and its row says so."""


@dataclass(frozen=True)
class TrialIdentity:
    """The identifying fields of a trial, shared by its row and each of its epoch rows."""

    trial_id: str
    study: str
    arm: Any
    seed: Any
    beta: Any
    teacher_keys: Any
    code_revision: Any
    config: dict[str, Any]
    other_params: dict[str, Any]


def build_tables(trials: Sequence[TrialFiles], *, study: str) -> tuple[pa.Table, pa.Table]:
    """(trials, epochs) tables for the trials of one study's experiment."""
    trial_rows: list[dict[str, Any]] = []
    epoch_rows: list[dict[str, Any]] = []
    for trial in trials:
        identity = identify(trial, study=study)
        epochs = deduplicated_epochs(trial)
        trial_rows.append(_trial_row(trial, identity, epochs))
        epoch_rows.extend(_epoch_row(identity, metrics) for metrics in epochs)
    trial_table = _to_table(trial_rows, TRIAL_COLUMNS, lambda name: None)
    epoch_table = _to_table(epoch_rows, EPOCH_COLUMNS, metric_type)
    return trial_table, epoch_table


def identify(trial: TrialFiles, *, study: str) -> TrialIdentity:
    """Read the identifying fields from the trial's params, checking they are all there."""
    params = trial.params
    missing = [key for key in REQUIRED_PARAMS if key not in params]
    if missing:
        raise ValueError(
            f"trial {trial.trial_id}: params lack {', '.join(missing)}; every sweep trial's param space "
            f"holds {', '.join(REQUIRED_PARAMS)}"
        )
    if params["study"] != study:
        raise ValueError(f"trial {trial.trial_id} belongs to study={params['study']!r}, not study={study!r}")
    if not isinstance(params["config"], Mapping):
        raise ValueError(f"trial {trial.trial_id}: params config must be a nested dict; got {params['config']!r}")
    repeat = params.get(REPEAT_INDEX, 0)
    raw_config = dict(params["config"])
    if repeat:
        raw_config["seed"] += repeat
    config = flatten_dict(raw_config)
    method = config.get("method.name")
    return TrialIdentity(
        trial_id=trial.trial_id,
        study=study,
        arm=params["arm"],
        seed=params["seed"] + repeat,
        beta=config.get("method.asib.beta") if method == "asib" else None,
        teacher_keys=params["teacher_keys"],
        code_revision=params["code_revision"],
        config=config,
        other_params=flatten_dict({k: v for k, v in params.items() if k not in REQUIRED_PARAMS}),
    )


def deduplicated_epochs(trial: TrialFiles) -> list[dict[str, Any]]:
    """The metrics of each epoch, oldest epoch first; of re-reported epochs (a trial
    restored from an older checkpoint repeats them) the last report wins."""
    by_epoch: dict[Any, dict[str, Any]] = {}
    for number, report in enumerate(trial.reports, start=1):
        if "epoch" not in report:
            raise ValueError(
                f"trial {trial.trial_id}: report {number} has no 'epoch' metric; the trainables report one per epoch"
            )
        by_epoch[report["epoch"]] = {key: value for key, value in report.items() if key not in TUNE_RESULT_FIELDS}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def trial_status(trial: TrialFiles) -> str:
    """TERMINATED or ERROR as the driver last saved it; otherwise RUNNING once the trial
    has reported (also after a killed driver: it resumes there), else PENDING."""
    recorded = trial.recorded_status
    if recorded is not None and recorded not in TUNE_STATUSES:
        raise ValueError(f"trial {trial.trial_id}: status must be one of {', '.join(TUNE_STATUSES)}; got {recorded!r}")
    if recorded in ("TERMINATED", "ERROR"):
        return recorded
    return "RUNNING" if trial.reports else "PENDING"


STUDENT_PHASES = ("joint", "B")
"""Phases in which the student trains; W and A epochs train only the synergy (and adapted teachers)."""


def phase_budget(epochs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a trial spent: epochs, optimiser steps and training seconds with the student
    training, and those spent on synergy-only phases on top (ASIB's W- and A-epochs)."""
    budget: dict[str, Any] = {}
    for side, inside in (("student", True), ("synergy_only", False)):
        rows = [m for m in epochs if (m.get("phase", "joint") in STUDENT_PHASES) == inside]
        budget[f"{side}_epochs"] = len(rows)
        budget[f"{side}_steps"] = sum(int(m.get("steps", 0)) for m in rows)
        budget[f"{side}_time_s"] = float(sum(m.get("epoch_time_s", 0.0) for m in rows))
    return budget


def _trial_row(trial: TrialFiles, identity: TrialIdentity, epochs: list[dict[str, Any]]) -> dict[str, Any]:
    status = trial_status(trial)
    best = best_validation_epoch(epochs)
    last = epochs[-1] if epochs else {}
    row: dict[str, Any] = {
        "trial_id": identity.trial_id,
        "study": identity.study,
        "arm": identity.arm,
        "seed": identity.seed,
        "beta": identity.beta,
        "status": status,
        "error": trial.failures[-1] if status == "ERROR" and trial.failures else None,
        "num_failures": len(trial.failures),
        "test_acc_final": last.get("test_acc"),
        "test_acc_best_val": best.get("test_acc") if best else None,
        "val_acc_best": best["val_acc"] if best else None,
        "best_epoch": best["epoch"] if best else None,
        "epochs_done": len(epochs),
        **phase_budget(epochs),
        **component_effects(epochs),
        "wall_time_s": trial.reports[-1].get("time_total_s") if trial.reports else None,
        "teacher_keys": identity.teacher_keys,
        "code_revision": identity.code_revision,
        "trial_dir": trial.trial_dir,
        "schema_version": SCHEMA_VERSION,
    }
    row.update({CONFIG_PREFIX + key: value for key, value in identity.config.items()})
    row.update({PARAM_PREFIX + key: value for key, value in identity.other_params.items()})
    return row


def _epoch_row(identity: TrialIdentity, metrics: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "trial_id": identity.trial_id,
        "study": identity.study,
        "arm": identity.arm,
        "seed": identity.seed,
        "beta": identity.beta,
        "schema_version": SCHEMA_VERSION,
    }
    for name, value in metrics.items():
        row[name + RENAMED_METRIC_SUFFIX if name in _TRIAL_LEVEL_NAMES else name] = value
    return row


def _to_table(
    rows: list[dict[str, Any]], fixed: Sequence[Column], declared_type: Callable[[str], pa.DataType | None]
) -> pa.Table:
    """One Arrow column per name: fixed columns first, then the others in order of appearance."""
    names = [column.name for column in fixed]
    types: dict[str, pa.DataType | None] = {column.name: column.arrow_type for column in fixed}
    for row in rows:
        for name in row:
            if name not in types:
                names.append(name)
                types[name] = declared_type(name)
    arrays = [_column(name, [row.get(name) for row in rows], types[name]) for name in names]
    metadata = {SCHEMA_VERSION_METADATA_KEY: str(SCHEMA_VERSION).encode()}
    return pa.Table.from_arrays(arrays, names=names).replace_schema_metadata(metadata)


def _column(name: str, values: list[Any], declared: pa.DataType | None) -> pa.Array:
    if declared is None:
        declared, values = _inferred(values)
    type_name = next(key for key, arrow_type in TYPES.items() if arrow_type == declared)
    for value in values:
        if value is not None and not _fits(value, type_name):
            raise ValueError(f"column {name} holds {type_name} values; got {name}={value!r}")
    return pa.array(values, type=declared)


def _fits(value: Any, type_name: str) -> bool:
    """Strict kinds: Arrow itself would silently truncate 3.5 into an int64 or turn True into 1.0."""
    if type_name == "int64":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "float64":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "bool":
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _inferred(values: list[Any]) -> tuple[pa.DataType, list[Any]]:
    """The narrowest of bool, int64, float64, string that holds every value; values of
    varying kinds, lists and dicts become text (Arrow takes one type per column)."""
    kinds = {_kind(value) for value in values if value is not None}
    if kinds == {"bool"}:
        return pa.bool_(), values
    if kinds == {"int"}:
        return pa.int64(), values
    if kinds and kinds <= {"int", "float"}:
        return pa.float64(), values
    if kinds <= {"str"}:
        return pa.string(), values
    return pa.string(), [None if value is None else _as_text(value) for value in values]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "other"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
