"""`asib-sweep tune ablation --budget 2` on a real local Ray, tiny: every tuned arm runs exactly its
budget, the ledger lands in Parquet and in the report, and the experiment file it writes is
accepted by the report run's --config with each arm's choice applied to that arm."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import ray
from test_sweep_ray import TINY

from analysis.tuning import LEDGER_FILE, chosen_settings
from asib_sweeps.cli import report
from asib_sweeps.cli.sweep import main
from asib_sweeps.cli.tune_runner import EXPERIMENT_FILE
from asib_sweeps.config import default_config
from asib_sweeps.config_files import arm_settings, layered_config, read_experiment_file
from search_spaces import STUDIES, StudyOptions

pytestmark = pytest.mark.slow

ARMS = ("baseline", "avg_kd", "ce")
"""An ASIB rung and a baseline (ce has nothing to tune), so the test stays within seconds per trial."""


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        patch.setenv("RAY_AIR_NEW_OUTPUT", "0")
        ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False)
        yield
        ray.shutdown()


def test_tune_gives_each_arm_its_budget_and_writes_a_ledger_and_an_experiment_file(tmp_path, capsys):
    argv = ["tune", "ablation", "--budget", "2", "--selection-seeds", "1", "--arms", *ARMS, "--results", str(tmp_path)]
    assert main([*argv, *TINY]) == 0
    folder = tmp_path / "tune"
    ledger = pd.read_parquet(folder / LEDGER_FILE)
    assert ledger.groupby("arm").size().to_dict() == {"baseline": 2, "avg_kd": 2}  # equal budgets, ce not tuned
    assert (ledger["status"] == "TERMINATED").all() and ledger["selection_score"].between(0, 1).all()
    assert (ledger["selection_score"] == ledger["val_acc_best_s100"]).all()  # one selection seed: its best val
    assert not any("test" in column for column in ledger.columns)  # the choice never sees test accuracy
    assert ledger["knob.method.avg_kd.tau"].dropna().between(1, 8).all()
    assert ledger.groupby("arm")["settings"].nunique().to_dict() == {"baseline": 2, "avg_kd": 2}  # TPE sampled
    record = json.loads((folder / "sweep.json").read_text())
    assert record["options"]["--budget"] == 2 and record["options"]["STUDY"] == "ablation"

    path = folder / EXPERIMENT_FILE
    layers = read_experiment_file(path)
    assert arm_settings(layers) == chosen_settings(ledger)
    chosen = chosen_settings(ledger)
    best_avg_kd = ledger[ledger["arm"] == "avg_kd"]["selection_score"].max()
    assert json.loads(ledger.loc[ledger["selection_score"] == best_avg_kd, "settings"].iloc[0]) == chosen["avg_kd"]
    base = layered_config(default_config("digits"), layers)
    assert base.epochs == 2  # the tuning's recipe travels with its choice
    trials = STUDIES["ablation"].trials(base, StudyOptions(seeds=1, arm_settings=arm_settings(layers)))
    configs = {trial.labels["arm"]: trial.config for trial in trials}
    assert configs["avg_kd"].method.avg_kd.tau == chosen["avg_kd"]["method.avg_kd.tau"]
    assert configs["baseline"].method.asib.w_kd == chosen["baseline"]["method.asib.w_kd"]
    assert configs["full"].method.asib.w_kd == base.method.asib.w_kd  # an arm not tuned keeps its settings
    capsys.readouterr()
    assert main(["ablation", "--config", str(path), "--seeds", "1", "--dry-run", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("7 trials")

    assert report.main([str(folder), "--out", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "tune: tuning ledger" in page and "2 trials per arm" in page
