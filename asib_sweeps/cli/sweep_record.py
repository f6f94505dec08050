"""What a sweep was started with, so `--resume` can refuse to continue it differently.

Tune restores a saved experiment with its saved trials, param space, TuneConfig and
RunConfig; options given again with `--resume` cannot change any of them. So the
options are written to `<sweep>/sweep.json` when a sweep starts, and a resume whose
options differ is an error naming each option, its saved value and the new one.
Passing the very same options again (the SLURM requeue path) continues the sweep.

Only where the sweep runs may change on resume: `--address` and
`--dashboard/--no-dashboard` are not recorded (they change no trial and no result).

The record also holds the sweep's arms in planned order (`arms`, `arm_order`), the order
the report and the console tables show them in (analysis.arm_order.recorded_arm_order). It is
not compared on resume: the same options plan the same trials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.arm_order import ARMS_FIELD, SWEEP_RECORD

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig
    from search_spaces.study import Trial

RECORD_FILE = SWEEP_RECORD
FORMAT = "asib-sweeps/sweep-record-v1"
RESUME_MAY_CHANGE = ("--address", "--dashboard/--no-dashboard")
ADDED_SINCE_V1 = ("--checkpoint-every-s", "--margin", "--seeds", "--track")
"""Options a record of an older sweep lacks: not compared then (its saved trials run as they were planned).
`--seeds` is one only for finetune (its teachers became per seed); the other studies always recorded it."""


def sweep_record(*, study: str, options: dict[str, Any], config: RunConfig) -> dict[str, Any]:
    """The record of a sweep: its study, its run options and its resolved base config.

    The config is recorded resolved (data options, --config and --set applied), so a
    resume is compared on what the trials run, whichever way it was spelled.
    """
    from asib_sweeps.config import flatten

    record = {"format": FORMAT, "study": study, "options": options, "config": flatten(config)}
    return json.loads(json.dumps(record))  # the JSON form (tuples as lists), as it is read back


def arm_order(trials: Sequence[Trial]) -> list[str]:
    """The planned trials' arms (`labels["arm"]`) in order of first appearance: how the sweep's results are shown."""
    return list(dict.fromkeys(trial.labels["arm"] for trial in trials))


def with_arm_order(record: dict[str, Any], trials: Sequence[Trial]) -> dict[str, Any]:
    """The record with the sweep's arms in planned order (`arms`), as write_record should save it."""
    return {**record, ARMS_FIELD: arm_order(trials)}


def write_record(sweep_dir: Path, record: dict[str, Any]) -> None:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    temporary = sweep_dir / f".{RECORD_FILE}.tmp"
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True))
    temporary.replace(sweep_dir / RECORD_FILE)


def read_record(sweep_dir: Path) -> dict[str, Any] | None:
    """The saved record, or None when the sweep folder has none."""
    path = sweep_dir / RECORD_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path} is not a sweep record of this version (expected format {FORMAT!r})")
    return record


def resume_conflicts(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """One line per option (or config key) whose value differs between the saved sweep and now."""
    lines = []
    if saved["study"] != now["study"]:
        lines.append(f"study: saved {saved['study']}, now {now['study']}")
    for option in sorted(set(saved["options"]) | set(now["options"])):
        if option in ADDED_SINCE_V1 and option not in saved["options"]:
            continue
        before, after = saved["options"].get(option), now["options"].get(option)
        if before != after:
            lines.append(f"{option}: saved {_shown(before)}, now {_shown(after)}")
    for key in sorted(set(saved["config"]) | set(now["config"])):
        before, after = saved["config"].get(key), now["config"].get(key)
        if before != after:
            lines.append(f"config key {key} (--dataset/--data-root/--config/--set): saved {before!r}, now {after!r}")
    return lines


def _shown(value: Any) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)
