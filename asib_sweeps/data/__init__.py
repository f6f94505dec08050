"""Data: the sources, the splits, and the on-device batch pipeline.

`load_data(config.data)` gives CPU tensors; move the bundle with `.to(device)` and draw
batches with `train_batches` / `eval_batches` from the split where it lies.

The names below are imported on first use (PEP 562), so the package's torch-free modules
(`probe`, `layouts`, `source_facts`, `positions`) can be imported by the plan without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DataBundle": "bundle",
    "Split": "bundle",
    "DataError": "errors",
    "load_data": "loading",
    "source_class_count": "source_facts",
    "eval_batches": "pipeline",
    "train_batches": "pipeline",
    "student_subset": "splits",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
