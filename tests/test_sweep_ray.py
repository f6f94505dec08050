"""asib-sweep on a real local Ray (one start shared by the module; 2 CPUs and 1 logical GPU).

Tiny real sweeps of every study through the CLI's main(), fractional-GPU packing,
device placement of CPU trials on a GPU node, and a trial killed mid-run that is
retried from its checkpoint and ends with the metrics of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
import ray
import torch
from ray import tune

from published_reference import teacher_file

from analysis.results import read_results
from analysis.schema import EPOCH_COLUMNS, TRIAL_COLUMNS
from asib_sweeps.cli.report import main as report_main
from asib_sweeps.cli.sweep import main
from asib_sweeps.cli.sweep_runner import SweepSettings, experiment_constants, resolve_teachers, run_experiment
from asib_sweeps.config import METHOD_NAMES, apply_overrides, default_config
from asib_sweeps.training import TrainingRun
from search_spaces import STUDIES, StudyOptions
from search_spaces.ablation import ARMS as ABLATION_ARMS
from search_spaces.reproduce import ARMS as REPRODUCE_ARMS
from search_spaces.sota import ARMS as SOTA_ARMS
from search_spaces.finetune import teacher_trials
from search_spaces.study import Trial, grid_plan, trial_runs
from trainables import distill
from trainables.placement import choose_device, gpu_share, trial_device

pytestmark = pytest.mark.slow

TINY_OVERRIDES = [
    "epochs=2",
    "method.asib.stages=2",
    "method.asib.synergy_warmup_steps=5",
    "method.asib.a_min_steps=0",
    "method.dkd.warmup_epochs=1",
    "teacher_recipe.epochs=2",
]
TINY = [item for override in TINY_OVERRIDES for item in ("--set", override)]
"""Two student epochs (two CCCP stages), a one-epoch synergy warm-up, teachers trained for
two epochs: every code path, in seconds."""


CCCP_PHASES = ["W", *(["A"] * 2 + ["B"] * 2) * 2]
"""The epochs of cccp_trial (TINY at epochs=4): a 1-epoch synergy warm-up, then 2 stages of
2 A-epochs and 2 B-epochs (B: epochs // stages; A: as many under a_phase_budget `e2e`, the default)."""
CCCP_EPOCHS = len(CCCP_PHASES)


def run_to_run_varying(column: str) -> bool:
    """Wall-clock and memory readings (epoch_time_s, eval_time_s, peak_memory_mb)."""
    return column.endswith("_time_s") or column == "peak_memory_mb"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        patch.setenv("RAY_AIR_NEW_OUTPUT", "0")
        ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False)
        yield
        ray.shutdown()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """One results folder for the module's sweeps, so they share the teacher cache."""
    return tmp_path_factory.mktemp("results")


def run_cli(results: Path, *args: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    assert main([*args, "--results", str(results), *TINY]) == 0
    return read_results(results / args[0])


def check_tables(trials: pd.DataFrame, epochs: pd.DataFrame, *, study: str, count: int) -> None:
    assert [c.name for c in TRIAL_COLUMNS] == list(trials.columns[: len(TRIAL_COLUMNS)])
    assert [c.name for c in EPOCH_COLUMNS if c.name in epochs.columns] == [c.name for c in EPOCH_COLUMNS]
    assert len(trials) == count and trials["trial_id"].is_unique
    assert (trials["status"] == "TERMINATED").all(), trials[["arm", "status", "error"]]
    assert (trials["study"] == study).all() and (epochs["study"] == study).all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    assert trials["epochs_done"].sum() == len(epochs)
    assert trials["test_acc_final"].between(0, 1).all()
    assert {"val_acc", "test_acc", "train_loss", "lr"} <= set(epochs.columns)
    assert (trials["code_revision"].str.len() > 0).all()


@pytest.fixture(scope="module")
def finetuned(results) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`asib-sweep finetune` into the module's results folder: the default teachers, cached."""
    return run_cli(results, "finetune", "--seeds", "1")


def test_finetune_study_fills_the_teacher_cache(results, finetuned):
    trials, epochs = finetuned
    check_tables(trials, epochs, study="finetune", count=2)
    assert set(trials["arm"]) == {"tiny_resnet", "tiny_vgg"}
    assert sorted(path.name for path in (results / "teachers").iterdir()) == sorted(trials["param.teacher_key"])


def test_ablation_sweep_reuses_the_cached_teachers(results, finetuned, capsys):
    trials, epochs = run_cli(results, "ablation", "--seeds", "1")
    out = capsys.readouterr().out
    assert "teachers: 0 to fine-tune, 2 cached" in out
    assert f"asib-report {results / 'ablation'}" in out
    check_tables(trials, epochs, study="ablation", count=7)
    assert sorted(trials["arm"]) == sorted(ABLATION_ARMS)
    cccp_epochs = epochs[epochs["arm"] == "cccp"]
    assert list(cccp_epochs["phase"]) == ["W", "A", "B", "A", "B"]  # warm-up, then 2 stages of one A- and one B-epoch
    by_arm = trials.set_index("arm")
    assert list(by_arm.loc["ce", "teacher_keys"]) == []
    assert len(by_arm.loc["full", "teacher_keys"]) == 2
    assert not by_arm.loc["baseline", "cfg.method.asib.use_ib"] and by_arm.loc["full", "cfg.method.asib.use_pf"]
    assert (trials["param.equivalence_margin"] == 1.0).all()  # the declared margin travels with every trial


def test_sota_sweep_runs_every_baseline(results, finetuned):
    trials, epochs = run_cli(results, "sota", "--seeds", "1")
    check_tables(trials, epochs, study="sota", count=len(SOTA_ARMS))
    assert set(trials["arm"]) == set(SOTA_ARMS)
    assert set(trials["cfg.method.name"]) == set(METHOD_NAMES)


def test_beta_sweep_samples_beta_with_optuna_and_asha(results, finetuned):
    trials, epochs = run_cli(results, "beta", "--samples", "2", "--seeds", "2", "--asha", "--max-concurrent", "2")
    check_tables(trials, epochs, study="beta", count=4)
    assert trials["beta"].between(1e-5, 1e-1).all()
    assert trials["beta"].nunique() == 2
    # Each proposed beta ran on seeds 0 and 1 (Tune's Repeater), and the run used that seed.
    assert sorted(trials.groupby("beta")["seed"].apply(sorted).tolist()) == [[0, 1], [0, 1]]
    assert (trials["cfg.seed"] == trials["seed"]).all()
    first_loss = epochs[epochs["epoch"] == 0].set_index("trial_id")["train_loss"]
    for _, repeats in trials.groupby("beta"):
        assert first_loss[repeats["trial_id"]].nunique() == 2  # different seeds, different runs
    assert (trials["arm"] == "full").all()


def test_overlap_sweep_trains_teachers_on_their_class_subsets(results, finetuned):
    trials, epochs = run_cli(results, "overlap", "--seeds", "1", "--overlaps", "0", "100")
    from search_spaces.overlap import ARMS as OVERLAP_ARMS

    check_tables(trials, epochs, study="overlap", count=2 * len(OVERLAP_ARMS))  # two overlaps x the arms
    assert sorted(trials["param.overlap"]) == [0] * len(OVERLAP_ARMS) + [100] * len(OVERLAP_ARMS)
    assert set(trials["arm"]) == set(OVERLAP_ARMS) == {"asib", "avg_kd", "ca_mkd", "ebkd", "ae_kd"}
    disjoint = trials[trials["param.overlap"] == 0].iloc[0]
    # Class lists (null in the 100 % trials) are stored as JSON text.
    first, second = (set(json.loads(disjoint[f"cfg.teachers.{i}.classes"])) for i in range(2))
    assert first.isdisjoint(second) and first | second == set(range(10))
    teachers, _ = read_results(results / "overlap" / "finetune")
    assert len(teachers) == 2  # the 100 % teachers came from the cache


def test_reproduce_sweep_measures_the_published_teacher_distils_and_reports_ours_beside_the_published(
    tmp_path, capsys
):
    """The shipped reproduction config at digits scale: a published-layout teacher file, no fine-tuning."""
    checkpoint = teacher_file(tmp_path, "resnet56", num_classes=10, accuracy=72.34)
    shipped = Path(__file__).resolve().parents[1] / "configs" / "cifar100" / "reproduce-resnet56-resnet20.yaml"
    # The data set is named once (a --set naming another than the --config is refused): a file over the shipped one.
    config = tmp_path / "reproduce-digits.yaml"
    config.write_text(f"extends: {shipped}\ndata:\n  dataset: digits\n")
    digits = ["data.image_size=16", "data.student_train_size=200", "method.crd.negatives=64"]
    options = [f"--set=teachers.0.checkpoint={checkpoint}", *(f"--set={item}" for item in digits)]
    trials, epochs = run_cli(tmp_path / "results", "reproduce", "--config", str(config), "--seeds", "1", *options)
    out = capsys.readouterr().out
    assert "teachers: 0 to fine-tune" in out and f"published file {checkpoint} measured as it is" in out
    check_tables(trials, epochs, study="reproduce", count=len(REPRODUCE_ARMS))
    assert not (tmp_path / "results" / "reproduce" / "finetune").exists()  # nothing was fine-tuned
    assert (trials["cfg.data.val_fraction"] == 0).all() and not trials["cfg.runtime.amp"].any()
    distilled = trials[trials["arm"] != "ce"]
    key = distilled["teacher_keys"].iloc[0][0]
    measured = json.loads((tmp_path / "results" / "teachers" / key / "teacher.json").read_text())["metrics"]
    first = epochs[(epochs["epoch"] == 0) & epochs["trial_id"].isin(distilled["trial_id"])]
    assert first["teacher0_test_acc"].tolist() == pytest.approx([measured["test_acc"]] * len(distilled))
    assert measured["recorded_accuracy"] == pytest.approx(72.34)

    assert report_main([str(tmp_path / "results" / "reproduce")]) == 0
    page = (tmp_path / "results" / "reproduce" / "report.html").read_text()
    assert "published numbers reproduced" in page and "resnet56 → resnet20" in page
    assert all(value in page for value in ("69.06", "70.66", "71.16", "71.97"))  # ce, kd, crd, dkd published


def test_four_quarter_gpu_trials_share_one_gpu_and_a_cpu_trial_stays_on_cpu(tmp_path):
    def probe(params):
        started = time.time()
        time.sleep(3)
        gpu_ids = ray.get_gpu_ids()
        share = gpu_share(ray.get_runtime_context().get_assigned_resources())
        device = trial_device("auto") if not gpu_ids else choose_device("auto", gpu_ids)
        tune.report(
            {"start": started, "end": time.time(), "gpus": len(gpu_ids), "share": share or 0.0, "device": str(device)}
        )

    shared = tune.Tuner(
        tune.with_resources(probe, {"cpu": 0.25, "gpu": 0.25}),
        param_space={"index": tune.grid_search([0, 1, 2, 3])},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="gpu", verbose=0),
    ).fit()
    rows = [result.metrics for result in shared]
    assert len(rows) == 4 and all(row["gpus"] == 1 and row["share"] == 0.25 for row in rows)
    assert {row["device"] for row in rows} == {"cuda:0"}
    assert max(row["start"] for row in rows) < min(row["end"] for row in rows)  # all four ran at once

    alone = tune.Tuner(
        tune.with_resources(probe, {"cpu": 1}),
        param_space={"index": 0},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="cpu", verbose=0),
    ).fit()
    assert ray.cluster_resources()["GPU"] == 1  # the node has a GPU ...
    assert alone[0].metrics["gpus"] == 0 and alone[0].metrics["device"] == "cpu"  # ... the CPU trial ignores it


def test_a_trial_killed_mid_run_is_retried_from_its_checkpoint_with_identical_metrics(tmp_path):
    marker = tmp_path / "crashed-once"
    crash_epoch = 3

    def distill_killed_once(params):
        """os._exit (the process dies, like an OOM kill) at `crash_epoch` on the first attempt only."""
        if params["variant"] != "killed" or marker.exists():
            return distill(params)
        original = TrainingRun.run_epoch

        def run_epoch(run):
            if run.next_epoch == crash_epoch:
                marker.touch()
                os._exit(1)
            return original(run)

        with mock.patch.object(TrainingRun, "run_epoch", run_epoch):
            return distill(params)

    def failing(params):
        if params["variant"] == "broken":
            raise RuntimeError("this trial always fails")
        return distill_killed_once(params)

    config = apply_overrides(default_config("digits"), [*TINY_OVERRIDES, "epochs=4"])
    cccp = STUDIES["ablation"].trials(config, StudyOptions(seeds=1))[2].config
    assert cccp.method.asib.use_cccp
    trials = [
        Trial(name=name, labels={"arm": "cccp", "seed": 0}, config=cccp) for name in ("killed", "intact", "broken")
    ]
    settings = SweepSettings(
        study=STUDIES["ablation"],
        options=StudyOptions(seeds=1),
        trials=trials,
        teachers=teacher_trials(trial_runs(trials)),
        results_dir=tmp_path,
        name="faults",
        teacher_cache=tmp_path / "teachers",
        cpus_per_trial=1,
        gpus_per_trial=0,
        max_concurrent=None,
        max_failures=1,
        checkpoint_every=1,
        resume=False,
    )
    assert resolve_teachers(settings).failed == 0
    constants = {"study": "ablation", "code_revision": "test", "teacher_cache": str(tmp_path / "teachers")}
    outcome = run_experiment(
        name="ablation",
        study="ablation",
        trainable=failing,
        # A checkpoint after every epoch, whatever its wall time: the retry resumes at crash_epoch.
        plan=grid_plan(trials, settings.options, {**constants, "checkpoint_every": 1, "checkpoint_every_s": 0}),
        expected_trials=3,
        settings=settings,
        out_dir=settings.sweep_dir,
    )
    assert marker.exists() and outcome.failed == 1 and not outcome.interrupted
    table, epochs = read_results(settings.sweep_dir)
    by_variant = table.set_index("param.variant")
    assert by_variant.loc["killed", "status"] == "TERMINATED" and by_variant.loc["killed", "num_failures"] == 1
    assert by_variant.loc["intact", "status"] == "TERMINATED" and by_variant.loc["intact", "num_failures"] == 0
    assert by_variant.loc["broken", "status"] == "ERROR"
    assert "this trial always fails" in by_variant.loc["broken", "error"]

    def history(variant: str) -> pd.DataFrame:
        trial_id = by_variant.loc[variant, "trial_id"]
        rows = epochs[epochs["trial_id"] == trial_id]
        rows = rows.drop(columns=["trial_id", *filter(run_to_run_varying, rows.columns)])
        return rows.sort_values("epoch").reset_index(drop=True)

    killed, intact = history("killed"), history("intact")
    assert list(killed["phase"]) == CCCP_PHASES and crash_epoch < CCCP_EPOCHS  # killed mid-run
    pd.testing.assert_frame_equal(killed, intact)


def fault_settings(tmp_path: Path, trials: list[Trial], *, resume: bool = False, **options) -> SweepSettings:
    return SweepSettings(
        study=STUDIES["ablation"], options=StudyOptions(seeds=1), trials=trials,
        teachers=teacher_trials(trial_runs(trials)), results_dir=tmp_path, name="faults",
        teacher_cache=tmp_path / "teachers", cpus_per_trial=1, gpus_per_trial=0, max_concurrent=None,
        max_failures=1, checkpoint_every=1, resume=resume, **options,
    )  # fmt: skip


def cccp_trial(name: str) -> Trial:
    config = apply_overrides(default_config("digits"), [*TINY_OVERRIDES, "epochs=4"])
    cccp = STUDIES["ablation"].trials(config, StudyOptions(seeds=1))[2].config
    return Trial(name=name, labels={"arm": "cccp", "seed": 0}, config=cccp)


def checkpoint_rows(experiment: Path) -> list[tuple[int, int]]:
    """(training_iteration, iterations_since_restore) of each report that came with a checkpoint."""
    rows = []
    for result in experiment.glob("*/result.json"):
        for line in result.read_text().splitlines():
            row = json.loads(line)
            if row.get("checkpoint_dir_name"):
                rows.append((row["training_iteration"], row["iterations_since_restore"]))
    return sorted(rows)


def run_faults(tmp_path: Path, trainable, trials: list[Trial], settings: SweepSettings):
    constants = experiment_constants(settings, study="ablation")  # with checkpoint_every_s and stop_file
    return run_experiment(
        name="ablation", study="ablation", trainable=trainable, plan=grid_plan(trials, settings.options, constants),
        expected_trials=len(trials), settings=settings, out_dir=settings.sweep_dir,
    )  # fmt: skip


def test_a_short_trial_with_the_default_time_limit_checkpoints_only_its_last_epoch(tmp_path):
    settings = fault_settings(tmp_path, [cccp_trial("short")])
    assert settings.checkpoint_every_s == 60  # the CLI's default; the trial takes seconds
    assert resolve_teachers(settings).failed == 0
    outcome = run_faults(tmp_path, distill, settings.trials, settings)
    assert outcome.failed == 0 and not outcome.interrupted
    trials, epochs = read_results(settings.sweep_dir)
    assert len(epochs) == CCCP_EPOCHS and trials.loc[0, "status"] == "TERMINATED"
    assert checkpoint_rows(settings.storage_dir / "ablation") == [(CCCP_EPOCHS, CCCP_EPOCHS)]


def test_a_stop_signal_checkpoints_the_running_trial_which_resumes_from_there(tmp_path):
    """SIGUSR1 to the driver mid-trial: the trial saves at its epoch's end (no timed checkpoint
    would come for an hour), Tune stops, and --resume continues from that checkpoint."""
    signalled = tmp_path / "signalled"
    driver = os.getpid()

    def signalling_distill(params):
        if signalled.exists():
            return distill(params)
        original = TrainingRun.run_epoch

        def run_epoch(run):
            if run.next_epoch == 2 and not signalled.exists():
                signalled.touch()
                os.kill(driver, signal.SIGUSR1)
                deadline = time.monotonic() + 30
                while not Path(params["stop_file"]).exists() and time.monotonic() < deadline:
                    time.sleep(0.05)  # the driver's callback writes it at once
            if signalled.exists():
                time.sleep(1)  # slow epochs from here: Tune stops the trial before it ends
            return original(run)

        with mock.patch.object(TrainingRun, "run_epoch", run_epoch):
            return distill(params)

    trials = [cccp_trial("stopped")]
    settings = fault_settings(tmp_path, trials, checkpoint_every_s=3600)
    assert resolve_teachers(settings).failed == 0
    outcome = run_faults(tmp_path, signalling_distill, trials, settings)
    assert signalled.exists() and outcome.interrupted
    assert not settings.stop_file.exists()  # removed when the fit ended
    saved = checkpoint_rows(settings.storage_dir / "ablation")
    assert saved and all(iteration >= 3 for iteration, _ in saved)  # only after the signal (epoch 2 done = 3 reports)
    last_saved = saved[-1][0]
    assert last_saved < CCCP_EPOCHS  # stopped before the trial's end

    resumed = run_faults(tmp_path, signalling_distill, trials, fault_settings(tmp_path, trials, resume=True))
    assert not resumed.interrupted and resumed.failed == 0
    table, epochs = read_results(settings.sweep_dir)
    assert table.loc[0, "status"] == "TERMINATED" and len(epochs) == CCCP_EPOCHS
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    rows = [json.loads(line) for path in (settings.storage_dir / "ablation").glob("*/result.json")
            for line in path.read_text().splitlines()]  # fmt: skip
    first_after_resume = min(
        (row for row in rows if row["iterations_since_restore"] == 1 and row["training_iteration"] > 1),
        key=lambda row: row["training_iteration"],
    )
    assert first_after_resume["training_iteration"] == last_saved + 1


def test_trials_with_the_same_resources_reuse_a_worker_with_a_fresh_torch_state(tmp_path):
    """One trial at a time (2 CPUs each): the second runs in the first one's process, and what the
    first changed process-wide (threads, matmul precision) is undone before the second builds its run."""

    def probe(params):
        trial_device("cpu")
        seen = {"pid": os.getpid(), "threads": torch.get_num_threads(), "precision": torch.get_float32_matmul_precision()}
        torch.set_num_threads(seen["threads"] + 1)  # a trial that changes process-wide state
        torch.set_float32_matmul_precision("medium")
        tune.report({**seen, "epoch": 0})

    trials = [cccp_trial(name) for name in ("first", "second", "third")]
    settings = dataclasses.replace(fault_settings(tmp_path, trials), cpus_per_trial=2)
    run_faults(tmp_path, probe, trials, settings)
    rows = [json.loads(path.read_text().splitlines()[-1]) for path in (settings.storage_dir / "ablation").glob("*/result.json")]
    assert len(rows) == 3 and len({row["pid"] for row in rows}) == 1  # one worker process for all three
    assert len({(row["threads"], row["precision"]) for row in rows}) == 1  # each saw the fresh worker's state
    assert rows[0]["precision"] != "medium"
