"""A trial in a reused worker starts with the torch state of a fresh worker (trainables.worker_state).

The Ray side (Tune really reuses the worker, and the second trial sees the first one's
changes undone) is in test_sweep_ray.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from trainables import worker_state


@pytest.fixture
def fresh_process(monkeypatch):
    """As if no trial had run in this process yet; the test's own torch settings are put back after."""
    before = worker_state.fresh_worker_state()
    monkeypatch.setattr(worker_state, "_fresh", None)
    yield
    torch.set_num_threads(before["threads"])
    torch.set_float32_matmul_precision(before["matmul_precision"])
    torch.backends.cudnn.benchmark = before["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = before["cudnn_deterministic"]
    torch.use_deterministic_algorithms(before["deterministic"], warn_only=before["deterministic_warn_only"])


def test_the_second_trial_of_a_worker_gets_the_first_ones_changes_undone(fresh_process, monkeypatch):
    fresh = worker_state.fresh_worker_state()
    assert worker_state.reset_worker_state() is False  # first trial: records only
    torch.set_num_threads(fresh["threads"] + 1)
    torch.set_float32_matmul_precision("medium" if fresh["matmul_precision"] != "medium" else "high")
    torch.backends.cudnn.benchmark = not fresh["cudnn_benchmark"]
    torch.use_deterministic_algorithms(not fresh["deterministic"], warn_only=True)
    resets: list[bool] = []
    monkeypatch.setitem(sys.modules, "torch._dynamo", SimpleNamespace(reset=lambda: resets.append(True)))
    assert worker_state.reset_worker_state() is True
    assert worker_state.fresh_worker_state() == fresh
    assert resets == [True]  # torch.compile's caches (and recompilation counts) are dropped too


def test_restoring_an_unchanged_state_imports_nothing_heavy():
    """torch.use_deterministic_algorithms imports torch._dynamo (seconds) on its first call: only when needed."""
    probe = (
        "import sys\n"
        "from trainables import worker_state\n"
        "worker_state.reset_worker_state()\n"
        "assert worker_state.reset_worker_state() is True\n"
        "print(sorted(name for name in ('torch._dynamo', 'torch._inductor') if name in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
