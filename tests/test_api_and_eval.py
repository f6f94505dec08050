"""On a real local Ray: the docs/API.md example, eval of its checkpoints against the
trials' own figures, and a configuration error inside a trial that is not retried."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import ray

from analysis import load_results
from asib_sweeps import run_study
from asib_sweeps.api import StudyOptionError
from asib_sweeps.cli.sweep import main
from asib_sweeps.cli.sweep_runner import SweepSettings, run_experiment
from asib_sweeps.config import build_config, default_config
from search_spaces import STUDIES, StudyOptions
from search_spaces.study import Trial, grid_plan
from trainables import distill
from trainables.config_errors import MARKER_FILE

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.setenv("RAY_AIR_NEW_OUTPUT", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False)
        yield
        ray.shutdown()


@pytest.fixture(scope="module")
def api_example(tmp_path_factory) -> dict:
    """Run the python block of docs/API.md in a fresh folder; its variables come back."""
    block = re.search(r"```python\n(.*?)```", (REPO / "docs" / "API.md").read_text(), re.S).group(1)
    folder = tmp_path_factory.mktemp("api")
    namespace: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        exec(compile(block, "docs/API.md", "exec"), namespace)  # noqa: S102 - the documented example
    namespace["folder"] = folder
    return namespace


def eval_json(capsys, path: Path) -> dict:
    capsys.readouterr()
    assert main(["eval", str(path), "--json", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_api_example_runs_the_study_and_loads_its_tables(api_example):
    sweep, trials = api_example["sweep"], api_example["trials"]
    assert sweep == (api_example["folder"] / "results" / "finetune").resolve()  # absolute: the plan resolves paths
    assert len(trials) == 2 and set(trials["arm"]) == {"tiny_resnet", "tiny_vgg"}
    assert load_results(api_example["folder"] / sweep / "trials.parquet")[0].equals(trials)


def test_eval_of_the_studys_checkpoints_equals_the_trials_recorded_accuracy(api_example, capsys):
    folder, trials = api_example["folder"], api_example["trials"]
    experiment = folder / "results" / "finetune" / "tune" / "finetune"
    for row in trials.to_dict("records"):
        last_checkpoint = sorted((experiment / row["trial_dir"]).glob("checkpoint_*"))[-1]
        assert eval_json(capsys, last_checkpoint)["top1"] == pytest.approx(row["test_acc_final"], abs=1e-12)
        cached = eval_json(capsys, folder / "results" / "teachers" / row["param.teacher"])
        assert cached["kind"] == "teacher"
        assert cached["top1"] == pytest.approx(row["test_acc_best_val"], abs=1e-12)


def test_the_api_refuses_what_the_cli_refuses_before_ray_runs_anything(tmp_path):
    with pytest.raises(StudyOptionError, match="--seeds must be >= 1"):
        run_study("ablation", seeds=0, results=str(tmp_path))
    with pytest.raises(StudyOptionError, match="unknown config key 'optim.lrr'"):
        run_study("ablation", overrides={"optim.lrr": 0.1}, results=str(tmp_path))
    with pytest.raises(StudyOptionError, match="study must be one of"):
        run_study("eval", results=str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_a_configuration_error_inside_a_trial_fails_it_without_retrying_its_work(tmp_path):
    # Plan-time checks cannot see a worker's disk: here the folder data set is missing
    # where the trial runs. Built past the CLI, as a sweep planned on another machine would be.
    data = default_config("digits").model_dump()
    missing = tmp_path / "no-data"
    missing.mkdir()
    config = build_config(
        {**data, "data": {**data["data"], "dataset": "folder", "root": str(missing)}, "teachers": [],
         "method": {**data["method"], "name": "ce"}}
    )
    settings = SweepSettings(
        study=STUDIES["ablation"], options=StudyOptions(seeds=1), trials=[], teachers=[], results_dir=tmp_path, name="bad",
        teacher_cache=tmp_path / "teachers", cpus_per_trial=1, gpus_per_trial=0, max_concurrent=None,
        max_failures=3, checkpoint_every=1, resume=False,
    )
    trial = Trial(name="ce-s0", labels={"arm": "ce", "seed": 0}, config=config)
    constants = {"study": "bad", "code_revision": "test", "teacher_cache": str(settings.teacher_cache),
                 "checkpoint_every": 1}
    outcome = run_experiment(
        name="bad", study="bad", trainable=distill, plan=grid_plan([trial], settings.options, constants),
        expected_trials=1, settings=settings, out_dir=settings.sweep_dir,
    )
    assert outcome.failed == 1
    row = outcome.tables.trials.iloc[0]
    assert row["status"] == "ERROR" and row["epochs_done"] == 0
    trial_dir = settings.storage_dir / "bad" / row["trial_dir"]
    assert "DataError" in (trial_dir / MARKER_FILE).read_text()
    first, *retries = (trial_dir / "error.txt").read_text().split("Failure # ")[1:]
    assert "not retried" in first and "DataError" in first
    # Tune had queued one restart before the driver could act (NonRetryableTrials); it stops at the
    # marker, before any data is read, and no further retry follows although max_failures is 3.
    assert len(retries) == 1 and "an earlier attempt failed" in retries[0]
    assert row["num_failures"] == 2
    assert all("an earlier attempt failed on its configuration" in retry for retry in retries)
