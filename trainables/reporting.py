"""The loop every trainable shares: resume from Tune's checkpoint, train epoch by epoch, report.

This is the only code that talks to Tune per epoch (`tune_reporter`, which teacher
fine-tuning passes to asib_sweeps.teachers.train_teacher). Each epoch's metrics are
reported as the training loop returns them (the trial's identity is in its params, which
Tune stores beside the reports). A checkpoint is the run's whole state_dict, so a retried
or restored trial continues bit-for-bit where the checkpoint left it.

When a checkpoint is written (CheckpointPolicy): after every `checkpoint_every`-th epoch
once at least `checkpoint_every_s` seconds of wall time have passed since the trial's
last checkpoint (or its start), so a short trial saves little and a long one loses at
most about that much work; always after the last epoch; and after every epoch while the
sweep's stop file exists (asib_sweeps.cli.stop_checkpoints: a stop signal lets the
running trials save before Tune stops them).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import Any

from ray import tune

from asib_sweeps.training import CheckpointError, TrainingRun, load_checkpoint, save_checkpoint

STATE_FILE = "run_state.pt"


def restore_from_tune(run: TrainingRun) -> bool:
    """Load the trial's latest readable checkpoint into `run`, if Tune has one (a retry or a resumed sweep).

    Tune hands over its latest checkpoint only. When that one cannot be read (a node
    died while it was copied, a disk error), the trial's earlier checkpoints beside it
    (Tune keeps CHECKPOINTS_KEPT) are tried, newest first, so a retry loses only the
    epochs since that one instead of failing on the same file at every attempt; each
    skipped file is named in the trial's log. None readable is a CheckpointError,
    which is not retried (trainables.config_errors).
    """
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return False
    with checkpoint.as_directory() as folder:
        candidates = checkpoint_candidates(Path(folder))
        problems = []
        for candidate in candidates:
            try:
                # CPU first: the state holds CPU RNG states; load_state_dict moves tensors to the run's device.
                state = load_checkpoint(candidate / STATE_FILE, map_location="cpu")
            except CheckpointError as error:
                problems.append(str(error))
                print(f"skipping an unreadable checkpoint: {error}", flush=True)
                continue
            run.load_state_dict(state)
            return True
    raise CheckpointError("no checkpoint of this trial can be read: " + "; ".join(problems))


def checkpoint_candidates(latest: Path) -> list[Path]:
    """`latest`, then the trial's other `checkpoint_<n>` folders beside it, newest (highest n) first."""
    prefix, _, index = latest.name.rpartition("_")
    if not prefix or not index.isdigit():
        return [latest]
    older = [
        path
        for path in latest.parent.glob(f"{prefix}_*")
        if path.name.rpartition("_")[2].isdigit() and int(path.name.rpartition("_")[2]) < int(index)
    ]
    return [latest, *sorted(older, key=lambda path: int(path.name.rpartition("_")[2]), reverse=True)]


@dataclass
class CheckpointPolicy:
    """Which epochs of a trial end with a checkpoint (see the module docstring)."""

    every: int = 1
    """checkpoint_every: only every this many epochs (counted from the run's first)."""
    every_s: float = 0.0
    """checkpoint_every_s: at least this many seconds after the last checkpoint; 0 = no limit."""
    stop_file: str | None = None
    """While this file exists, every epoch is checkpointed."""
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got checkpoint_every={self.every}")
        if not math.isfinite(self.every_s) or self.every_s < 0:
            raise ValueError(f"checkpoint_every_s must be a finite number >= 0, got checkpoint_every_s={self.every_s}")
        self._last = monotonic()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CheckpointPolicy:
        """The trial params' policy; a sweep planned before checkpoint_every_s existed keeps every epoch."""
        return cls(params["checkpoint_every"], float(params.get("checkpoint_every_s", 0.0)), params.get("stop_file"))

    def due(self, run: TrainingRun) -> bool:
        """Whether the epoch `run` just finished ends with a checkpoint."""
        if run.finished or (self.stop_file is not None and os.path.exists(self.stop_file)):
            return True
        return run.next_epoch % self.every == 0 and monotonic() - self._last >= self.every_s

    def saved(self) -> None:
        self._last = monotonic()


def tune_reporter(
    *, checkpoint_every: int, checkpoint_every_s: float = 0.0, stop_file: str | None = None
) -> Callable[[TrainingRun, dict[str, Any]], None]:
    """The per-epoch step after `run.run_epoch()`: report `metrics` to Tune, with a checkpoint
    when CheckpointPolicy says so (the wall-time interval counts from this call)."""
    policy = CheckpointPolicy(checkpoint_every, checkpoint_every_s, stop_file)

    def report(run: TrainingRun, metrics: dict[str, Any]) -> None:
        if policy.due(run):
            with tempfile.TemporaryDirectory(prefix="asib-checkpoint-") as folder:
                save_checkpoint(run.state_dict(), Path(folder) / STATE_FILE)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
            policy.saved()
        else:
            tune.report(metrics)

    return report


def checkpoint_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """tune_reporter's keyword arguments from a trial's params (CheckpointPolicy.from_params)."""
    policy = CheckpointPolicy.from_params(params)
    return {"checkpoint_every": policy.every, "checkpoint_every_s": policy.every_s, "stop_file": policy.stop_file}


def train_and_report(
    run: TrainingRun, *, checkpoint_every: int, checkpoint_every_s: float = 0.0, stop_file: str | None = None
) -> None:
    """Run the remaining epochs of `run`, reporting each one to Tune."""
    report = tune_reporter(checkpoint_every=checkpoint_every, checkpoint_every_s=checkpoint_every_s, stop_file=stop_file)
    restore_from_tune(run)
    while not run.finished:
        report(run, run.run_epoch())
