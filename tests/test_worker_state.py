"""A trial in a reused worker starts with the torch state of a fresh worker (trainables.worker_state).

The Ray side (Tune really reuses the worker, and the second trial sees the first one's
changes undone) is in test_sweep_ray.py.
"""

from __future__ import annotations

import sys
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
