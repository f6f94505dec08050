"""Read a Ray Tune 2.60 experiment folder from its files alone.

Needs no Ray import and no running driver, so tables can be rebuilt after a driver
was killed. The layout (checked against ray/tune/execution/tune_controller.py and a
real run):

    <experiment>/experiment_state-<session time>.json   the driver's periodic save:
        {"trial_data": [[trial_state_json, run_metadata_json], ...], ...}; each
        trial state is itself a JSON string with trial_id, status, relative_logdir,
        config. A restored run writes a new file; the newest name is the current one.
    <experiment>/<trial folder>/params.json    the trial's resolved param space
    <experiment>/<trial folder>/result.json    one JSON object per tune.report call;
        a trial restored from a checkpoint appends and re-reports the epochs after
        that checkpoint
    <experiment>/<trial folder>/error.txt      "Failure # N (occurred at ...)" blocks,
        appended per failure, also for failures that a retry then recovered from

A file that cannot be parsed (a disk error, a node lost mid-write) costs only what it
holds: an `UnreadableFileWarning` names it (and the line, for result.json) and the
reading goes on: a bad result.json line is skipped, a bad params.json is replaced by
the state file's copy, and a bad state file by the next older one.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPERIMENT_STATE_GLOB = "experiment_state-*.json"
PARAMS_FILE = "params.json"
RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"

TUNE_RESULT_FIELDS = frozenset(
    {
        "training_iteration",
        "time_total_s",
        "time_this_iter_s",
        "time_since_restore",
        "iterations_since_restore",
        "timesteps_total",
        "timesteps_since_restore",
        "episodes_total",
        "timestamp",
        "date",
        "done",
        "trial_id",
        "experiment_tag",
        "node_ip",
        "hostname",
        "pid",
        "config",
        "checkpoint_dir_name",
        "should_checkpoint",
    }
)
"""Fields Tune adds to every reported result (ray.tune.result.AUTO_RESULT_KEYS and the
ones the function API and controller add); everything else in a row is a metric."""

class UnreadableFileWarning(UserWarning):
    """A Tune file that could not be parsed and was skipped; the message names it."""


def _skipped(message: str) -> None:
    warnings.warn(message, UnreadableFileWarning, stacklevel=3)


_FAILURE_HEADER = re.compile(r"^Failure # \d+ \(occurred at [^)]*\)$\n?", re.MULTILINE)
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class TrialFiles:
    """What Tune's files say about one trial."""

    trial_id: str
    params: Mapping[str, Any]
    """The resolved param space (params.json, or the state file's copy before the folder exists)."""
    recorded_status: str | None
    """The status in the newest experiment state file; None if the driver never saved this trial."""
    reports: list[dict[str, Any]]
    """result.json rows in file order, re-reported epochs included."""
    failures: list[str]
    """Text of each failure in error.txt, oldest first, terminal colour codes removed."""
    trial_dir: str | None
    """The trial folder relative to the experiment folder."""


def read_experiment(experiment_dir: Path) -> list[TrialFiles]:
    """Every trial the experiment folder knows of, sorted by trial id.

    A trial counts if the newest state file lists it or its folder has reports; a
    folder with neither (a trial starting while the driver had not saved yet) is
    left for the next read, because nothing but the folder name would identify it.
    """
    experiment_dir = Path(experiment_dir)
    if not experiment_dir.is_dir():
        raise FileNotFoundError(f"experiment_dir must be a Tune experiment folder; {experiment_dir} is not a directory")
    states = _read_trial_states(experiment_dir)
    trials: dict[str, TrialFiles] = {}
    folders_seen: set[str] = set()
    for trial_id, state in states.items():
        relative = state.get("relative_logdir")
        folder = experiment_dir / relative if relative else None
        if relative:
            folders_seen.add(relative)
        trials[trial_id] = _read_trial(trial_id, folder, state.get("config", {}), state["status"], experiment_dir)
    for folder in sorted(experiment_dir.iterdir()):
        if folder.name in folders_seen or not (folder / RESULT_FILE).is_file():
            continue
        reports = _read_reports(folder / RESULT_FILE)
        if reports:
            trial_id = str(reports[-1]["trial_id"])
            trials[trial_id] = _read_trial(trial_id, folder, {}, None, experiment_dir)
    return [trials[key] for key in sorted(trials)]


def newest_state_file(experiment_dir: Path) -> Path | None:
    """The current experiment state file; names embed the session start time, so the
    largest name is the newest (Tune's own `_find_newest_experiment_checkpoint` rule)."""
    candidates = sorted(Path(experiment_dir).glob(EXPERIMENT_STATE_GLOB))
    return candidates[-1] if candidates else None


def _read_trial_states(experiment_dir: Path) -> dict[str, dict[str, Any]]:
    """The trial states of the newest state file that can be read (older ones are earlier saves)."""
    for path in sorted(Path(experiment_dir).glob(EXPERIMENT_STATE_GLOB), reverse=True):
        try:
            state = _read_json_file(path)
            return {str(trial["trial_id"]): trial for trial in (json.loads(entry[0]) for entry in state["trial_data"])}
        except (ValueError, KeyError, TypeError, IndexError) as error:
            _skipped(f"{path} cannot be read ({error}); using an older experiment state file if there is one")
    return {}


def _read_trial(
    trial_id: str, folder: Path | None, state_params: Mapping[str, Any], status: str | None, experiment_dir: Path
) -> TrialFiles:
    if folder is None or not folder.is_dir():  # a pending trial: only the state file knows it
        return TrialFiles(trial_id, state_params, status, reports=[], failures=[], trial_dir=None)
    params_path, result_path, error_path = folder / PARAMS_FILE, folder / RESULT_FILE, folder / ERROR_FILE
    return TrialFiles(
        trial_id=trial_id,
        params=_read_params(params_path, state_params),
        recorded_status=status,
        reports=_read_reports(result_path) if result_path.is_file() else [],
        failures=_split_failures(error_path.read_text()) if error_path.is_file() else [],
        trial_dir=folder.relative_to(experiment_dir).as_posix(),
    )


def _read_json_file(path: Path, *, attempts: int = 5, pause_s: float = 0.1) -> Any:
    """Parse a JSON file the driver may be rewriting right now.

    Tune writes params.json and the state file in place (not atomically), so a reader
    during a live sweep can catch one half written; a short retry sees the finished
    file. A file still unreadable after that is broken, and the error says which.
    """
    for _ in range(attempts - 1):
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            time.sleep(pause_s)  # retried; the last attempt below reports the failure
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from error


def _read_params(path: Path, state_params: Mapping[str, Any]) -> Mapping[str, Any]:
    if not path.is_file():
        return state_params
    try:
        return _read_json_file(path)
    except ValueError as error:
        _skipped(f"{error}; using the experiment state file's copy of the trial's params")
        return state_params


def _read_reports(path: Path) -> list[dict[str, Any]]:
    """Parse result.json; a last line without its newline is still being written and is skipped,
    and a line that is not a JSON object is skipped with an UnreadableFileWarning naming it."""
    text = path.read_text()
    lines = text.split("\n")
    complete = lines[:-1]  # the piece after the last newline is empty or a partial write
    reports = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            report = json.loads(line)
        except json.JSONDecodeError as error:
            _skipped(f"{path} line {number} is not valid JSON ({error.msg}); skipped")
            continue
        if not isinstance(report, dict) or "trial_id" not in report:
            _skipped(f"{path} line {number} is not a Tune result (a JSON object with a trial_id); skipped")
            continue
        reports.append(report)
    return reports


def _split_failures(text: str) -> list[str]:
    blocks = _FAILURE_HEADER.split(_ANSI_ESCAPE.sub("", text))
    return [block.strip() for block in blocks[1:]]
