"""The arm order a sweep recorded when it started: `arms` in `<sweep>/sweep.json`.

The sweep's planned trials decide the order its arms are shown in (asib_sweeps/cli/sweep_record.py
writes it); this module reads it back for the report and the console tables, with the
standard library only, so the CLI that writes the record loads no pandas for it.
"""

from __future__ import annotations

import json
from pathlib import Path

SWEEP_RECORD = "sweep.json"
"""The file a sweep records what it was started with (asib_sweeps/cli/sweep_record.py)."""
ARMS_FIELD = "arms"
"""Its field holding the sweep's arms in planned order (absent in sweeps started before it was recorded)."""


def recorded_arm_order(sweep_dir: Path) -> tuple[str, ...] | None:
    """The arms the sweep in `sweep_dir` planned, in order, from its sweep.json; None when it has no
    record or the record no `arms` (a sweep started before they were recorded)."""
    path = Path(sweep_dir) / SWEEP_RECORD
    if not path.is_file():
        return None
    try:
        arms = json.loads(path.read_text()).get(ARMS_FIELD)
    except (json.JSONDecodeError, AttributeError) as error:
        raise ValueError(f"{path} is not a sweep record (a JSON object): {error}") from error
    if arms is None:
        return None
    if not isinstance(arms, list) or not all(isinstance(arm, str) for arm in arms):
        raise ValueError(f"{path}: `{ARMS_FIELD}` must be a list of arm names; got {arms!r}")
    return tuple(arms)
