"""Rebuild a trained model, and the data it was trained on, from a checkpoint asib-sweeps wrote.

Two kinds of file hold a model:

- a trial's checkpoint, `<trial>/checkpoint_NNNNNN/run_state.pt` (any study's trial,
  teacher fine-tunings included): the run's whole state, with its config (older
  checkpoints without one: the trial's `params.json` beside the checkpoint folder);
  the model is the trial's student as of that checkpoint;
- a teacher-cache entry, `<cache>/<key>/weights.pt`: the teacher's best-validation
  weights, described by `teacher.json` beside it.

Everything is read with weights_only=True (asib_sweeps.training.checkpoint).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from asib_sweeps.config import ConfigError, DataConfig, build_config
from asib_sweeps.teacher_cache import META_FILE, WEIGHTS_FILE
from asib_sweeps.training.checkpoint import CheckpointError, load_checkpoint

RUN_STATE_FILE = "run_state.pt"
PARAMS_FILE = "params.json"


@dataclass(frozen=True)
class SavedModel:
    path: Path
    kind: str
    """`trial` (a run_state.pt) or `teacher` (a teacher-cache entry)."""
    arch: str
    data: DataConfig
    eval_batch_size: int
    weights: dict[str, Tensor]
    recorded: dict[str, Any]
    """What the run itself measured for these weights (test_acc / val_acc), for comparison."""


def open_saved_model(path: str | Path) -> SavedModel:
    """Read a checkpoint file, or a folder holding one; a CheckpointError says why it cannot be used."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / RUN_STATE_FILE, path / WEIGHTS_FILE]
        found = [candidate for candidate in candidates if candidate.is_file()]
        if not found:
            raise CheckpointError(f"{path} holds neither {RUN_STATE_FILE} nor {WEIGHTS_FILE}")
        path = found[0]
    state = load_checkpoint(path)
    try:
        if "version" in state and "student" in state and "history" in state:
            return _from_run_state(path, state)
        if state and all(isinstance(value, Tensor) for value in state.values()):
            return _from_teacher_weights(path, state)
    except ConfigError as error:
        raise CheckpointError(f"{path}: the config stored with it is not valid here: {error}") from error
    raise CheckpointError(f"{path} is an asib-sweeps file but holds neither a run state nor model weights")


def _from_run_state(path: Path, state: dict[str, Any]) -> SavedModel:
    raw = state.get("config")
    if raw is None:
        params = path.parent.parent / PARAMS_FILE
        if not params.is_file():
            raise CheckpointError(f"{path} stores no config and there is no {params} beside its checkpoint folder")
        raw = json.loads(params.read_text())["config"]
    config = build_config(raw)
    last = state["history"][-1] if state["history"] else {}
    return SavedModel(
        path=path,
        kind="trial",
        arch=config.student.arch,
        data=config.data,
        eval_batch_size=config.data.eval_batch_size,
        weights=state["student"],
        recorded={key: last[key] for key in ("epoch", "val_acc", "test_acc") if key in last},
    )


def _from_teacher_weights(path: Path, weights: dict[str, Tensor]) -> SavedModel:
    meta_path = path.parent / META_FILE
    if not meta_path.is_file():
        raise CheckpointError(
            f"{path} holds bare model weights without the {META_FILE} a teacher-cache entry has beside them, "
            "so which model and data they belong to is unknown"
        )
    meta = json.loads(meta_path.read_text())
    try:
        spec = meta["spec"]
        data = DataConfig.model_validate(spec["data"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{meta_path} does not describe a teacher: {error}") from error
    metrics = meta.get("metrics", {})
    # Validated like any run's student, so an unknown arch is named with the known ones.
    arch = build_config({"student": {"arch": spec["arch"]}, "method": {"name": "ce"}, "data": data.model_dump()})
    recorded = {"epoch": metrics.get("best_epoch"), "val_acc": metrics.get("val_acc_best")}
    recorded["test_acc"] = metrics.get("test_acc_best_val")
    return SavedModel(
        path=path,
        kind="teacher",
        arch=arch.student.arch,
        data=data,
        eval_batch_size=data.eval_batch_size,
        weights=weights,
        recorded={key: value for key, value in recorded.items() if value is not None},
    )
