"""A stop signal lets the running trials checkpoint before Tune saves and stops.

Tune stops at once on SIGUSR1 (and cluster.signals turns the driver's SIGTERM into
SIGUSR1), so each running trial would lose the epochs since its last checkpoint: up to
`--checkpoint-every-s` of work. While a fit runs, this callback takes SIGUSR1 first:

1. it creates the sweep's stop file, which each trial looks for after every epoch
   (trainables.reporting: while it exists, every epoch is checkpointed);
2. it waits until every trial that was running when the signal came has saved a
   checkpoint (or ended), at most `wait_s` (STOP_WAIT_S, so it fits in a SLURM job's
   `stop_grace_s` >= 30 with time left for Tune's own save);
3. then it hands the signal to Tune's handler, which saves the experiment and stops.

A signal repeated while it waits (a SLURM job sends it again every 20 s) changes
nothing. SIGINT (Ctrl+C) still goes straight to Tune. The stop file is removed when the
fit starts (a stale one of a killed driver) and when it ends.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.tune import Callback

STOP_FILE = ".stop-requested"
"""In the sweep folder (every node sees it, as it sees Tune's storage below it)."""
STOP_WAIT_S = 20.0


class CheckpointBeforeStop(Callback):
    """On SIGUSR1 during a fit: stop file, wait for the running trials' checkpoints, then Tune's stop."""

    def __init__(self, stop_file: Path, *, wait_s: float = STOP_WAIT_S, clock: Callable[[], float] = time.monotonic):
        self.stop_file = Path(stop_file)
        self.wait_s = wait_s
        self.clock = clock
        self._reset()

    def _reset(self) -> None:
        self._tune_handler: Any = None
        self._trials: list[Any] = []
        self._requested_at: float | None = None
        self._waiting: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:  # pickled into tuner.pkl: no handler or trial references
        return {"stop_file": self.stop_file, "wait_s": self.wait_s, "clock": self.clock}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def setup(self, **info: Any) -> None:
        """Called by Tune after it installed its own SIGUSR1 handler, before any trial starts."""
        self._reset()
        self.stop_file.unlink(missing_ok=True)
        handler = signal.getsignal(signal.SIGUSR1)
        if callable(handler) and threading.current_thread() is threading.main_thread():
            self._tune_handler = handler
            signal.signal(signal.SIGUSR1, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._requested_at is not None:
            return  # already stopping
        self._requested_at = self.clock()
        self._waiting = {trial.trial_id for trial in self._trials if trial.status == "RUNNING"}
        if not self._waiting:
            self._stop()
            return
        self.stop_file.parent.mkdir(parents=True, exist_ok=True)
        self.stop_file.touch()
        print(
            f"stop signal: the {len(self._waiting)} running trial(s) save a checkpoint at the end of their "
            f"epoch (waiting up to {self.wait_s:g} s), then the sweep saves its state and stops",
            flush=True,
        )

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        self._trials = trials

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        self._trials = trials
        if self._requested_at is None or self._tune_handler is None:
            return
        running = {trial.trial_id for trial in trials if trial.status == "RUNNING"}
        self._waiting &= running
        if not self._waiting or self.clock() - self._requested_at >= self.wait_s:
            if self._waiting:
                print(f"stop signal: {len(self._waiting)} trial(s) saved no checkpoint within {self.wait_s:g} s; "
                      "they resume from their last one", flush=True)  # fmt: skip
            self._stop()

    def on_checkpoint(self, iteration: int, trials: list[Any], trial: Any, checkpoint: Any, **info: Any) -> None:
        self._waiting.discard(trial.trial_id)

    def _stop(self) -> None:
        handler, self._tune_handler = self._tune_handler, None
        if handler is None:
            return
        signal.signal(signal.SIGUSR1, handler)
        handler(signal.SIGUSR1, None)  # Tune's: save the experiment and stop after this step

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        if self._tune_handler is not None and signal.getsignal(signal.SIGUSR1) == self._on_signal:
            signal.signal(signal.SIGUSR1, self._tune_handler)
        self._tune_handler = None
        self.stop_file.unlink(missing_ok=True)
