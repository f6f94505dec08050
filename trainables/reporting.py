"""The loop every trainable shares: resume from Tune's checkpoint, train epoch by epoch, report.

This is the only code that talks to Tune per epoch (`tune_reporter`, which teacher
fine-tuning passes to asib_sweeps.teachers.train_teacher). Each epoch's metrics are
reported as the training loop returns them (the trial's identity is in its params, which
Tune stores beside the reports). A checkpoint is the run's whole state_dict, so a retried
or restored trial continues bit-for-bit where the checkpoint left it; one is written
every `checkpoint_every` epochs and always after the last epoch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from asib_sweeps.training import TrainingRun, load_checkpoint, save_checkpoint

STATE_FILE = "run_state.pt"


def restore_from_tune(run: TrainingRun) -> bool:
    """Load the trial's latest checkpoint into `run`, if Tune has one (a retry or a resumed sweep)."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return False
    with checkpoint.as_directory() as folder:
        # CPU first: the state holds CPU RNG states; load_state_dict moves tensors to the run's device.
        run.load_state_dict(load_checkpoint(Path(folder) / STATE_FILE, map_location="cpu"))
    return True


def tune_reporter(*, checkpoint_every: int) -> Callable[[TrainingRun, dict[str, Any]], None]:
    """The per-epoch step after `run.run_epoch()`: report `metrics` to Tune, with a checkpoint
    every `checkpoint_every` epochs and after the last one."""
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got checkpoint_every={checkpoint_every}")

    def report(run: TrainingRun, metrics: dict[str, Any]) -> None:
        if run.finished or run.next_epoch % checkpoint_every == 0:
            with tempfile.TemporaryDirectory(prefix="asib-checkpoint-") as folder:
                save_checkpoint(run.state_dict(), Path(folder) / STATE_FILE)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        else:
            tune.report(metrics)

    return report


def train_and_report(run: TrainingRun, *, checkpoint_every: int) -> None:
    """Run the remaining epochs of `run`, reporting each one to Tune."""
    report = tune_reporter(checkpoint_every=checkpoint_every)
    restore_from_tune(run)
    while not run.finished:
        report(run, run.run_epoch())
