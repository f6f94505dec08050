"""`--track`: tiny real sweeps whose tracker runs are read back with each tracker's own reader.

One ablation sweep (teachers included) writes both TensorBoard and MLflow; each trial's
per-epoch metrics there must equal the epochs.parquet rows of the same trial, and its
config must be the trial's. W&B (offline) runs on the two-trial finetune study, when
its package is installed.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import pandas as pd
import pytest
import ray

from analysis.results import read_results
from asib_sweeps.cli.sweep import main
from asib_sweeps.cli.mlflow_tracking import MLFLOW_STORE, mlflow_tracking_uri
from asib_sweeps.cli.trackers import WANDB_DIR

pytestmark = pytest.mark.slow

TINY = [
    *("--set", "epochs=2", "--set", "method.asib.stages=2", "--set", "teacher_recipe.epochs=2"),
    *("--set", "method.asib.synergy_warmup_steps=5", "--set", "method.asib.a_min_steps=0"),
    *("--set", "data.student_train_size=200", "--no-dashboard"),
]
"""Two student epochs, two-epoch teachers: each trial reports twice (see test_sweep_ray.TINY)."""


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        patch.setenv("RAY_AIR_NEW_OUTPUT", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False)
        yield
        ray.shutdown()


@pytest.fixture(scope="module")
def tracked_ablation(tmp_path_factory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """`asib-sweep ablation --seeds 1 --track tensorboard --track mlflow`: its folder and tables."""
    results = tmp_path_factory.mktemp("results")
    argv = ["ablation", "--seeds", "1", "--track", "tensorboard", "--track", "mlflow", "--results", str(results)]
    assert main([*argv, *TINY]) == 0
    trials, epochs = read_results(results / "ablation")
    return results / "ablation", trials, epochs


def expected_history(epochs: pd.DataFrame, trial_id: str, metric: str) -> list[tuple[int, float]]:
    """(step, value) of one trial's metric as epochs.parquet holds it; Tune's step is its report count."""
    rows = epochs[epochs["trial_id"] == trial_id].sort_values("epoch")
    return [(step, pytest.approx(value)) for step, value in enumerate(rows[metric], start=1)]


def test_mlflow_runs_hold_each_trials_per_epoch_metrics_and_config(tracked_ablation):
    from mlflow import MlflowClient

    sweep_dir, trials, epochs = tracked_ablation
    assert (sweep_dir / MLFLOW_STORE).is_file()
    client = MlflowClient(tracking_uri=mlflow_tracking_uri(sweep_dir))
    experiment = client.get_experiment_by_name("ablation")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == len(trials) == 7
    assert client.get_experiment_by_name("finetune") is not None  # the teachers, fine-tuned by this sweep
    by_trial = {trial_id_of(run.data.tags["trial_name"], trials): run for run in runs}
    assert set(by_trial) == set(trials["trial_id"])
    for trial in trials.itertuples():
        run = by_trial[trial.trial_id]
        assert run.info.status == "FINISHED"
        assert run.data.params["arm"] == trial.arm
        assert run.data.params["config/epochs"] == "2"
        for metric in ("val_acc", "test_acc", "train_loss"):
            history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, metric))
            assert history == expected_history(epochs, trial.trial_id, metric)
    artifacts = Path(experiment.artifact_location.removeprefix("file://"))
    assert artifacts.parent == sweep_dir.resolve()


def test_tensorboard_event_files_hold_each_trials_per_epoch_scalars(tracked_ablation):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sweep_dir, trials, epochs = tracked_ablation
    event_files = sorted((sweep_dir / "tune" / "ablation").glob("*/events.out.tfevents.*"))
    assert len(event_files) == len(trials)
    seen = set()
    for event_file in event_files:
        accumulator = EventAccumulator(str(event_file))
        accumulator.Reload()
        trial_id = trial_id_of(event_file.parent.name, trials)
        seen.add(trial_id)
        for metric in ("val_acc", "test_acc"):
            scalars = [(event.step, event.value) for event in accumulator.Scalars(f"ray/tune/{metric}")]
            assert scalars == expected_history(epochs, trial_id, metric)
        assert "ray/tune/config/epochs" not in accumulator.Tags()["scalars"]  # config goes to hparams, not scalars
    assert seen == set(trials["trial_id"])


def trial_id_of(name: str, trials: pd.DataFrame) -> str:
    """The trial a Tune trial folder or trial name (both hold the trial id) belongs to."""
    matching = [trial_id for trial_id in trials["trial_id"] if trial_id in name]
    assert len(matching) == 1, name
    return matching[0]


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed (pip install '.[wandb]')")
def test_wandb_offline_runs_hold_each_trials_metrics_and_config(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert main(["finetune", "--seeds", "1", "--track", "wandb", "--results", str(tmp_path), *TINY]) == 0
    trials, epochs = read_results(tmp_path / "finetune")
    runs = sorted((tmp_path / "finetune" / WANDB_DIR).glob("offline-run-*"))
    assert len(runs) == len(trials) == 2
    histories = {trial_id: wandb_history(run, trial_id) for run in runs for trial_id in [run.name.rsplit("-", 1)[1]]}
    assert set(histories) == set(trials["trial_id"])
    for trial_id, (config, history) in histories.items():
        assert config["study"] == "finetune" and config["config"]["teacher_recipe"]["epochs"] == 2
        assert [(row["_step"], row["val_acc"]) for row in history] == expected_history(epochs, trial_id, "val_acc")


def wandb_history(run_dir: Path, trial_id: str) -> tuple[dict, list[dict]]:
    """The config and the history rows of an offline run, read from its `.wandb` file.

    wandb 0.31 writes runs from its Go core and ships no Python reader of that file any
    more; the file is W&B's LevelDB-style record log (a 7-byte `:W&B` header, then 32 KiB
    blocks of records with a 7-byte header: checksum, length, type full/first/middle/last)
    whose records are wandb's own protobuf `Record`s, parsed here with wandb's classes.
    """
    from wandb.proto import wandb_internal_pb2

    config: dict = {}
    history: list[dict] = []
    for data in wandb_records((run_dir / f"run-{trial_id}.wandb").read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            history.append({"/".join(item.nested_key) or item.key: json.loads(item.value_json) for item in record.history.item})
    return config, history


def wandb_records(data: bytes) -> list[bytes]:
    block, header = 32768, 7
    assert data[:4] == b":W&B", data[:4]
    records, pending, position = [], b"", header
    while position + header <= len(data):
        left = block - position % block
        _, length, kind = struct.unpack("<IHB", data[position : position + header])
        if left < header or (length, kind) == (0, 0):  # the zero padding at a block's end
            position += left
            continue
        chunk = data[position + header : position + header + length]
        position += header + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # a full record, or the last part of one
            records.append(pending)
    return records


def test_the_runners_logger_switch_is_put_back_after_the_fit(monkeypatch):
    """A sweep run from Python must not leave Tune's default loggers off for the process's next experiment."""
    import os

    from asib_sweeps.cli.sweep_runner import environment_variable

    monkeypatch.delenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", raising=False)
    with environment_variable("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1"):
        assert os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "1"
    assert "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS" not in os.environ
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")
    with environment_variable("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1"):
        pass
    assert os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "0"
