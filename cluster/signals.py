"""Stop signals: SIGTERM saves and stops a sweep like SIGUSR1 does; a job forwards them to its driver.

Tune saves its state and stops on SIGUSR1 (and SIGINT), but SIGTERM, which `scancel`
and preemption send, hits `ray.init`'s handler (`sys.exit` in the middle of a fit, a
crash dump). In the driver, SIGTERM is turned into SIGUSR1 for whichever handler is
installed: during a fit the sweep's own (asib_sweeps.cli.stop_checkpoints lets the
running trials checkpoint, then calls Tune's), else Tune's. In a job, the batch step receives the time-limit signal
(`--signal=B:USR1@grace`) and forwards it to the driver, repeating it until the driver
ends: Tune only listens while a fit runs, so a signal that lands between two fits
(teachers, then the study) is sent again once the next one has started.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

RESEND_EVERY_S = 20.0
EXIT_INTERRUPTED = 130


_stop_requested = False


def stop_requested() -> bool:
    """Whether a SIGTERM came while sigterm_saves_and_stops was active (read between two fits:
    a signal that lands after one fit ended reaches no Tune, and must still stop the sweep)."""
    return _stop_requested


def _sigterm_as_sigusr1(signum: int, frame: FrameType | None) -> None:
    global _stop_requested
    _stop_requested = True
    if not callable(signal.getsignal(signal.SIGUSR1)):  # no fit has started: nothing to save yet
        print("SIGTERM received before the sweep started: stopping", flush=True)
        raise SystemExit(EXIT_INTERRUPTED)
    print("SIGTERM received: saving the sweep's state and stopping (as on SIGUSR1)", flush=True)
    os.kill(os.getpid(), signal.SIGUSR1)


@contextmanager
def sigterm_saves_and_stops() -> Iterator[None]:
    """For the block, SIGTERM makes Tune save and stop; the previous handler comes back after it."""
    global _stop_requested
    _stop_requested = False
    previous = signal.signal(signal.SIGTERM, _sigterm_as_sigusr1)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_requested = False  # a request belongs to the block's sweep only


class StopForwarder:
    """Forward SIGUSR1 and SIGTERM received by this process to a driver process, and remember them."""

    def __init__(self) -> None:
        self.received: set[signal.Signals] = set()
        self.driver: subprocess.Popen | None = None

    def install(self) -> None:
        for sig in (signal.SIGUSR1, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    @property
    def time_limit(self) -> bool:
        """True once the time-limit signal (SIGUSR1) came: the job should requeue."""
        return signal.SIGUSR1 in self.received

    @property
    def stop_requested(self) -> bool:
        return bool(self.received)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        self.received.add(sig)
        print(f"job: {sig.name} received, telling the sweep driver to save and stop", flush=True)
        self._forward(sig)

    def _forward(self, sig: signal.Signals) -> None:
        if self.driver is not None and self.driver.poll() is None:
            self.driver.send_signal(sig)

    def wait(self, driver: subprocess.Popen) -> int:
        """Wait for `driver` to end, re-sending the stop signal every RESEND_EVERY_S once one came."""
        self.driver = driver
        if self.stop_requested:  # it came while the driver was starting
            self._forward(signal.SIGUSR1)
        while True:
            try:
                return driver.wait(timeout=RESEND_EVERY_S)
            except subprocess.TimeoutExpired:
                if self.stop_requested:
                    self._forward(signal.SIGUSR1)
