"""`--track mlflow`: Ray Tune's MLflowLoggerCallback, writing each report in one MLflow call.

Ray's callback writes every metric of a report, and every param of a trial, with its own
`log_metric` / `log_param` call, each a transaction of the SQLite store (after a lookup
of the run): about fifty per epoch report and a few hundred per trial start here (the
whole RunConfig is logged as params). The driver handles every trial's reports in turn,
so in a test sweep on a busy 2-core machine Tune warned of over a second spent in this
callback per report. `BatchedMLflowUtil` keeps Ray's callback (runs, tags, status, step
= training_iteration) and replaces only those two writes with `log_batch`, MLflow's call
for many values at once; Ray's own flattening (`config/optim/lr`) and float conversion
are kept, so the runs hold what Ray's callback would write.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from ray._private.dict import flatten_dict
from ray.air._internal.mlflow import _MLflowLoggerUtil
from ray.air.integrations.mlflow import MLflowLoggerCallback

MLFLOW_STORE = "mlflow.db"
MLFLOW_ARTIFACTS = "mlflow-artifacts"
PARAMS_PER_BATCH = 100
"""MLflow's limit on params in one log_batch."""


class BatchedMLflowUtil(_MLflowLoggerUtil):
    """Ray's MLflow helper whose metric and param writes are one log_batch each (per 100 params)."""

    def log_params(self, params_to_log: dict[str, Any], run_id: str | None = None) -> None:
        params = [Param(key, str(value)) for key, value in flatten_dict(params_to_log).items()]
        client = self._get_client()
        for start in range(0, len(params), PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[start : start + PARAMS_PER_BATCH])

    def log_metrics(self, step: int, metrics_to_log: dict[str, Any], run_id: str | None = None) -> None:
        now_ms = int(time.time() * 1000)
        values = self._parse_dict(flatten_dict(metrics_to_log))  # Ray's: what converts to float, as float
        self._get_client().log_batch(run_id, metrics=[Metric(key, value, now_ms, step) for key, value in values.items()])


def mlflow_tracking_uri(sweep_dir: Path) -> str:
    return f"sqlite:///{(sweep_dir / MLFLOW_STORE).resolve()}"


def mlflow_callback(sweep_dir: Path, experiment: str) -> MLflowLoggerCallback:
    """MLflow runs in `<sweep>/mlflow.db`, one per trial, params and per-epoch metrics only.

    The experiment is created here with its artifact folder under the sweep: left to
    MLflow, it would point at `./mlruns` of whatever folder the driver started in.
    Checkpoints are not copied in as artifacts (save_artifact=False): they stay in Tune's
    storage, which resume and `asib-sweep eval` read.
    """
    uri = mlflow_tracking_uri(sweep_dir)
    client = MlflowClient(tracking_uri=uri)
    if client.get_experiment_by_name(experiment) is None:
        client.create_experiment(experiment, artifact_location=(sweep_dir / MLFLOW_ARTIFACTS).as_uri())
    callback = MLflowLoggerCallback(tracking_uri=uri, experiment_name=experiment, save_artifact=False)
    callback.mlflow_util = BatchedMLflowUtil()
    return callback
