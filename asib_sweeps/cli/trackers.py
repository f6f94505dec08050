"""Experiment trackers (`--track`): TensorBoard, MLflow and Weights & Biases, the Ray Tune way.

Each tracker is one of Ray Tune's logger callbacks on the driver, so the trials and the
trainable know nothing about it: every `tune.report` of a trial (one per epoch) becomes a
step of that trial's run, and the trial's params (its labels and its whole `RunConfig`
as the nested `config` dict) become the run's config.

- `tensorboard`: `ray.tune.logger.TBXLoggerCallback`, event files in each trial's folder
  under `<sweep>/tune/<experiment>/` (`tensorboard --logdir <sweep>/tune`).
- `mlflow`: `ray.air.integrations.mlflow.MLflowLoggerCallback` to a local SQLite store,
  `<sweep>/mlflow.db` (`mlflow ui --backend-store-uri sqlite:///<sweep>/mlflow.db`); one
  MLflow experiment per Tune experiment (the study, and `finetune` for its teachers).
  MLflow 3 refuses its old `./mlruns` file store unless told otherwise, so SQLite it is;
  each report is written in one call (asib_sweeps.cli.mlflow_tracking).
- `wandb`: `ray.air.integrations.wandb.WandbLoggerCallback` in offline mode unless
  `WANDB_MODE` says otherwise (compute nodes often have no internet), runs under
  `<sweep>/wandb/`; `wandb sync <sweep>/wandb/offline-run-*` uploads them later.

Ray Tune adds CSV, JSON and TensorBoard loggers of its own unless
`TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`; the runner sets it and passes the CSV and JSON
loggers itself (Tune's result.json is what analysis.tune_experiment reads), so
TensorBoard is written exactly when it is tracked, and `--track none` writes no tracker
at all. TensorBoard is the default, as it was before `--track` existed (Tune's own
default); benchmarks/tracker_overhead.py measures what it costs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ray.tune import Callback

TRACKERS: dict[str, str] = {"tensorboard": "tensorboardX", "mlflow": "mlflow", "wandb": "wandb"}
"""Each tracker and the package its callback needs (installed by the pip extra of the tracker's name)."""
NO_TRACKER = "none"
DEFAULT_TRACKERS: tuple[str, ...] = ("tensorboard",)
WANDB_DIR = "wandb"
"""The folder wandb.init(dir=<sweep>) keeps its runs in, under the sweep."""
WANDB_DEFAULT_MODE = "offline"


def add_track_option(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--track",
        action="append",
        choices=[*TRACKERS, NO_TRACKER],
        help="experiment tracker of every trial's per-epoch metrics and config (repeatable; default: tensorboard; "
        "none: no tracker); mlflow writes <sweep>/mlflow.db, wandb runs offline unless WANDB_MODE is set",
    )


def chosen_trackers(track: Sequence[str] | None) -> tuple[str, ...]:
    """The `--track` values as a tuple without repeats; no `--track` means the default."""
    if track is None:
        return DEFAULT_TRACKERS
    if NO_TRACKER in track:
        return ()
    return tuple(dict.fromkeys(track))


def tracker_problem(track: Sequence[str] | None) -> str | None:
    """Why `--track` cannot be honoured (an unknown one, a missing package, `none` beside a tracker), or None.

    Only looks the packages up (importlib.util.find_spec), so it costs no import.
    """
    unknown = [name for name in track or () if name not in (*TRACKERS, NO_TRACKER)]
    if unknown:
        return f"--track: invalid choice: {unknown[0]!r} (choose from {', '.join([*TRACKERS, NO_TRACKER])})"
    if track is not None and NO_TRACKER in track and len(set(track)) > 1:
        others = " ".join(f"--track {name}" for name in dict.fromkeys(track) if name != NO_TRACKER)
        return f"--track none turns every tracker off; it cannot go with {others}"
    for tracker in chosen_trackers(track):
        package = TRACKERS[tracker]
        if importlib.util.find_spec(package) is None:
            return (
                f"--track {tracker} needs the package {package}, which is not installed: "
                f"pip install 'asib-sweeps[{tracker}]'"
            )
    return None


def tracker_callbacks(trackers: tuple[str, ...], *, sweep_dir: Path, experiment: str) -> list[Callback]:
    """Tune's CSV and JSON loggers (always: the tables are read from result.json) and one
    logger callback per tracker, for the Tune experiment `experiment` of the sweep."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    callbacks: list[Callback] = [CSVLoggerCallback(), JsonLoggerCallback()]
    if "tensorboard" in trackers:
        from ray.tune.logger import TBXLoggerCallback

        callbacks.append(TBXLoggerCallback())
    if "mlflow" in trackers:
        from asib_sweeps.cli.mlflow_tracking import mlflow_callback  # imports mlflow and Ray

        callbacks.append(mlflow_callback(sweep_dir.resolve(), experiment))
    if "wandb" in trackers:
        callbacks.append(wandb_callback(sweep_dir.resolve(), experiment))
    return callbacks


def wandb_callback(sweep_dir: Path, experiment: str) -> Callback:
    """W&B runs under `<sweep>/wandb/`, offline unless WANDB_MODE is set, project = experiment.

    Ray asks for an API key unless WANDB_MODE is offline or disabled in the driver's
    environment, and starts each run in a logging actor whose environment is the Ray
    cluster's, so the mode is both set here and passed to `wandb.init`.
    """
    from ray.air.integrations.wandb import WandbLoggerCallback

    mode = os.environ.setdefault("WANDB_MODE", WANDB_DEFAULT_MODE)
    return WandbLoggerCallback(project=experiment, dir=str(sweep_dir), mode=mode)
