"""A configuration error inside a trial fails the trial for good: its retries end at once.

Tune (2.60) retries a failed trial by count (FailureConfig.max_failures), whatever the
error, and has no per-error policy. A ConfigError or DataError is deterministic: the
same params fail the same way on every attempt, so retrying it only wastes minutes of
data loading. The first attempt writes the error to a marker file in the trial's
folder; every retry Tune then makes finds the marker and fails before loading data or
building a model, with the original message, so the trial ends ERROR within moments.
(Most such errors are caught at plan time, before Ray starts; what can remain is the
environment of a worker node, e.g. a data root missing there.) Running out of memory
within the trial's GPU share is deterministic too, and is treated the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ray import tune

from asib_sweeps.config import ConfigError
from asib_sweeps.data import DataError
from trainables.placement import GPUShareTooSmall

MARKER_FILE = "config_error.txt"
DETERMINISTIC_ERRORS = (ConfigError, DataError, GPUShareTooSmall)


class TrialConfigError(RuntimeError):
    """The trial's configuration cannot run; retrying it cannot help."""


@contextmanager
def config_errors_not_retried() -> Iterator[None]:
    """Run the block unless an earlier attempt of this trial hit a configuration error."""
    marker = Path(tune.get_context().get_trial_dir()) / MARKER_FILE
    if marker.is_file():
        raise TrialConfigError(f"not retried, an earlier attempt failed on its configuration: {marker.read_text()}")
    try:
        yield
    except DETERMINISTIC_ERRORS as error:
        message = f"{type(error).__name__}: {error}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(message)
        raise TrialConfigError(f"configuration error (not retried): {message}") from error
