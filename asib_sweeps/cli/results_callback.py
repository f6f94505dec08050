"""Keep a sweep's Parquet tables current while its trials run.

Tune writes each trial's reports on the driver and copies them to the experiment's
storage folder at its own pace (every ~10 s, and after checkpoints); the tables are
rebuilt from that storage folder, the one place that holds every trial also after a
driver restart. Rebuilding reads the whole folder, so it is rate-limited; the sweep
driver writes the tables once more after Tune's final save.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from analysis.results import write_results

logger = logging.getLogger(__name__)

DEFAULT_MIN_INTERVAL_S = 5.0


class ResultTablesCallback(Callback):
    """Rewrite trials.parquet and epochs.parquet on trial results, at most every `min_interval_s`,
    and on every trial completion or failure."""

    def __init__(
        self, experiment_dir: Path, out_dir: Path, *, study: str, min_interval_s: float = DEFAULT_MIN_INTERVAL_S
    ):
        self.experiment_dir = Path(experiment_dir)
        self.out_dir = Path(out_dir)
        self.study = study
        self.min_interval_s = min_interval_s
        self._last_write = float("-inf")

    def on_trial_result(self, iteration: int, trials: list[Any], trial: Any, result: dict, **info: Any) -> None:
        if time.monotonic() - self._last_write >= self.min_interval_s:
            self._write()

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._write()

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._write()

    def _write(self) -> None:
        self._last_write = time.monotonic()
        if not self.experiment_dir.is_dir():  # Tune has not saved the experiment yet
            return
        try:
            write_results(self.experiment_dir, self.out_dir, study=self.study)
        except Exception:  # a table update must not stop the trials; the final write raises
            logger.exception("could not update the results tables in %s (will retry)", self.out_dir)
