"""A deterministic error inside a trial fails the trial for good: it is not retried.

Tune (2.60) retries a failed trial by count (FailureConfig.max_failures), whatever the
error, and has no per-error policy. A ConfigError, a DataError or any
asib_sweeps.errors.NonRetryableError (a non-finite loss, a corrupt checkpoint or
weights file, a missing teacher, a device the trial lacks, running out of its GPU
share) is deterministic: the same params fail the same way on every attempt, so a
retry only wastes minutes of data loading and then repeats the message.

So the attempt that hits one writes it to a marker file in the trial's folder and
raises. Tune's own recovery then calls the sweep's `NonRetryableTrials` callback
(on_trial_recover), which finds the marker and spends the trial's remaining retries,
so the single restart Tune has already queued is the last: it finds the marker and
fails before loading data or building a model, with the original message, and the
trial ends ERROR. (Tune offers no hook between an error and its retry decision; this is
the earliest point at which the driver can act.) On `--resume` the markers are cleared
(asib_sweeps.cli.sweep_runner), so a trial whose cause was fixed runs again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ray import tune

from asib_sweeps.config import ConfigError
from asib_sweeps.data import DataError
from asib_sweeps.errors import NonRetryableError

MARKER_FILE = "config_error.txt"
DETERMINISTIC_ERRORS = (ConfigError, DataError, NonRetryableError)


class TrialConfigError(RuntimeError):
    """The trial's configuration cannot run; retrying it cannot help."""


@contextmanager
def config_errors_not_retried() -> Iterator[None]:
    """Run the block unless an earlier attempt of this trial hit a configuration error."""
    marker = trial_folder() / MARKER_FILE
    if marker.is_file():
        raise TrialConfigError(f"not retried, an earlier attempt failed on its configuration: {marker.read_text()}")
    try:
        yield
    except DETERMINISTIC_ERRORS as error:
        message = f"{type(error).__name__}: {error}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(message)
        raise TrialConfigError(f"not retried (the same attempt fails the same way): {message}") from error


def trial_folder() -> Path:
    """The trial's folder in the sweep's storage, the one `Trial.path` names on the driver.

    Not `get_trial_dir()`: that is a node-local scratch folder, and another one in a
    worker Tune reuses, so a marker written there is not found by the retry.
    """
    return Path(tune.get_context().get_storage().trial_fs_path)


class NonRetryableTrials(tune.Callback):
    """Driver side: a trial whose attempt left the marker gets no retries beyond the one Tune already queued."""

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if trial.path is not None and (Path(trial.path) / MARKER_FILE).is_file():
            # Spends the retries without faking failures: the count in the tables stays the true one.
            trial.max_failures = min(trial.max_failures, trial.run_metadata.num_failures)


def clear_markers(experiment_dir: Path) -> list[Path]:
    """Remove the markers of an experiment's trials (on --resume: their causes may be fixed); returns them."""
    markers = sorted(experiment_dir.glob(f"*/{MARKER_FILE}"))
    for marker in markers:
        marker.unlink()
    return markers
