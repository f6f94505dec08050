"""Processes a job starts and must end itself: by their process group id, never a node-wide `ray stop`.

`ray stop` kills every Ray process of the user on the node (other jobs' included), so
each Ray node this code starts runs in its own session: stopping it sends SIGTERM to
the session's leader (`ray start --block` drains the node and stops its processes),
then SIGKILL to whatever is left of that process group after the grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence

STOP_GRACE_S = 15.0


def start_in_own_group(argv: Sequence[str]) -> subprocess.Popen:
    """Start `argv` as the leader of a new session (its group id is its pid), output to ours."""
    return subprocess.Popen(list(argv), start_new_session=True)


def stop_groups(processes: Sequence[subprocess.Popen], *, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the leaders (all at once; `ray start --block` then drains and stops its node's
    processes), give them `grace_s` to end, then SIGKILL whatever is left in their groups."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            continue  # past the grace period: SIGKILLed below with the rest of its group
    while any(_group_alive(process.pid) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in processes:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass  # every process of the group has ended


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
