"""Dotted-key view of a nested dict: the `cfg.<key>` columns of trials.parquet.

It lives here, on the tables' side, so that analysis/ reads and writes tables without
importing the training package (torch, pydantic); asib_sweeps.config uses this one.
"""

from __future__ import annotations

from typing import Any


def flatten_dict(data: dict[str, Any]) -> dict[str, Any]:
    """{"optim": {"lr": 0.1}, "teachers": [{"arch": "a"}]} -> {"optim.lr": 0.1, "teachers.0.arch": "a"}.

    Lists of dicts are walked by index; other lists (milestones, class subsets) are values.
    """
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}", item)
        else:
            out[prefix] = value

    walk("", data)
    return out
