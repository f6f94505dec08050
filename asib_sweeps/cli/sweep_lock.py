"""One driver per sweep folder: an exclusive lock on `<sweep>/sweep.lock` while a sweep runs.

Two drivers on one folder would both restore and rewrite Tune's experiment state and
the tables, and run the same trials twice. The lock is the kernel's (fcntl.flock on an
open file), so it is released whenever its holder ends, however it ends (a crash, a
SLURM kill, a requeue): there is no stale lock to remove by hand. The file keeps the
holder's description (host, pid, start time, command) so that a second driver can
name it. flock works on local disks and on NFSv4; on a shared file system without
locks, two drivers on two nodes are not detected.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from asib_sweeps.cli.input_checks import Fail

LOCK_FILE = "sweep.lock"


class SweepLock:
    """The lock of one sweep folder (see the module docstring)."""

    def __init__(self, sweep_dir: Path) -> None:
        self.path = sweep_dir / LOCK_FILE

    def holder(self) -> str | None:
        """Who holds the lock now (as its holder described itself), or None when nobody does. Creates nothing."""
        try:
            file = self.path.open("r")
        except FileNotFoundError:
            return None
        with file:
            if _try_lock(file, shared=True):
                return None
            return _described(file.read())

    def refuse_if_held(self, fail: Fail) -> None:
        holder = self.holder()
        if holder is not None:
            fail(f"{self.path.parent} is in use by another asib-sweep ({holder}); wait for it to end, or stop it")

    @contextmanager
    def held(self, fail: Fail) -> Iterator[None]:
        """Hold the lock for the block (creating the sweep folder); `fail` if another driver holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as file:
            if not _try_lock(file, shared=False):
                file.seek(0)
                fail(f"{self.path.parent} is in use by another asib-sweep ({_described(file.read())})")
            file.seek(0)
            file.truncate()
            file.write(json.dumps(_me()))
            file.flush()
            try:
                yield
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)


def _try_lock(file: IO[str], *, shared: bool) -> bool:
    try:
        fcntl.flock(file, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    if shared:
        fcntl.flock(file, fcntl.LOCK_UN)
    return True


def _me() -> dict[str, object]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join(sys.argv),
    }


def _described(text: str) -> str:
    try:
        me = json.loads(text)
        return f"pid {me['pid']} on {me['host']} since {me['since']}: {me['command']}"
    except (ValueError, KeyError, TypeError):
        return "a process that left no description"
