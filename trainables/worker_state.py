"""Each trial starts with the process-wide torch state of a fresh worker, also in a reused one.

Tune runs the next trial that asks for the same resources in the worker process of a
finished one (`reuse_actors=True` in asib_sweeps.cli.sweep_runner), so the worker's
start (a process, its interpreter, torch and the training code imported) is paid once
per worker instead of once per trial. Whatever a trial changed process-wide would then
leak into the next one: the intra-op thread count, float32 matmul precision, the cuDNN
and determinism flags, torch.compile's caches (dynamo counts recompilations of a code
object across trials and falls back to eager past its limit, and holds the previous
trial's graphs), and the CUDA caching allocator's blocks. The first call in a process
records the fresh values; every later call restores them and drops those caches.
The GPU memory fraction is set per trial by trainables.placement.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import torch

_fresh: dict[str, Any] | None = None


def fresh_worker_state() -> dict[str, Any]:
    """The process-wide settings a trial may change, as they are now."""
    return {
        "threads": torch.get_num_threads(),
        "matmul_precision": torch.get_float32_matmul_precision(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
    }


def reset_worker_state() -> bool:
    """Record the fresh state (first trial of this process) or restore it; True when it restored."""
    global _fresh
    if _fresh is None:
        _fresh = fresh_worker_state()
        return False
    now = fresh_worker_state()
    if now["threads"] != _fresh["threads"]:
        torch.set_num_threads(_fresh["threads"])
    if now["matmul_precision"] != _fresh["matmul_precision"]:
        torch.set_float32_matmul_precision(_fresh["matmul_precision"])
    torch.backends.cudnn.benchmark = _fresh["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = _fresh["cudnn_deterministic"]
    determinism = ("deterministic", "deterministic_warn_only")
    if any(now[key] != _fresh[key] for key in determinism):
        # Only when changed: its first call imports torch._dynamo (about 2 s here).
        torch.use_deterministic_algorithms(_fresh["deterministic"], warn_only=_fresh["deterministic_warn_only"])
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is not None:  # imported once something was compiled (or determinism was switched)
        dynamo.reset()
    if torch.cuda.is_initialized():
        gc.collect()  # the previous trial's tensors, so that their CUDA blocks can be released
        torch.cuda.empty_cache()
    return True
