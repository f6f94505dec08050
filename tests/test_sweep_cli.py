"""asib-sweep without Ray: trial plans (--dry-run), option validation, and the pure pieces.

Nothing here starts Ray; the tests that do are in test_sweep_ray.py and
test_sweep_processes.py.
"""

from __future__ import annotations

import pytest
import ray
import torch

from asib_sweeps.cli.sweep import (
    COMMANDS,
    base_config,
    check_resume_record,
    main,
    recorded_options,
    request_from_argv,
)
from asib_sweeps.cli.sweep_record import read_record, resume_conflicts, sweep_record, write_record
from asib_sweeps.config import apply_overrides, default_config
from asib_sweeps.teacher_cache import TeacherCache, teacher_key
from search_spaces import STUDIES, StudyOptions
from search_spaces.overlap import overlap_config, split_classes
from search_spaces.study import VariantField, grid_param_space
from trainables.placement import choose_device, gpu_share


def dry_run(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main([*args, "--dry-run"]) == 0
    return capsys.readouterr().out.strip().splitlines()


@pytest.mark.parametrize(
    ("args", "count"),
    [
        (["ablation"], 21),
        (["ablation", "--seeds", "1"], 7),
        (["beta"], 96),  # 32 proposals x 3 seeds
        (["beta", "--samples", "5", "--asha"], 15),
        (["beta", "--samples", "5", "--seeds", "1"], 5),
        (["sota"], 39),
        (["sota", "--seeds", "2"], 26),
        (["overlap"], 75),
        (["overlap", "--overlaps", "0", "100", "--seeds", "1"], 10),
        (["finetune"], 6),  # each of the 3 seeds has its own two teachers (data.split_per_seed)
        (["finetune", "--for", "overlap"], 30),
        (["finetune", "--for", "overlap", "--set", "data.split_per_seed=false"], 10),
        (["tune", "ablation", "--budget", "2"], 12),  # 6 arms with a search space (ce has none) x 2
        (["tune", "sota", "--budget", "3", "--arms", "kd", "dkd"], 6),
    ],
)
def test_dry_run_counts_the_study_trials(capsys, tmp_path, args, count):
    lines = dry_run(capsys, *args, "--results", str(tmp_path))
    assert lines[-1] == f"{count} trials"
    assert sum(line.startswith("trial ") for line in lines) == count
    assert lines[0].startswith("teachers: ")


def test_dry_run_lists_teachers_and_each_trials_arm_seed_and_varying_values(capsys, tmp_path):
    lines = dry_run(capsys, "overlap", "--overlaps", "0", "100", "--seeds", "2", "--results", str(tmp_path))
    # 100 % overlap is the default teacher pair; 0 % adds one teacher per half of the classes; per seed.
    assert lines[0] == f"teachers: 8 to fine-tune, 0 cached in {tmp_path / 'teachers'}"
    assert sum(line.startswith("  fine-tune ") for line in lines) == 8
    trial_lines = [line for line in lines if line.startswith("trial ")]
    assert trial_lines[0] == "trial 1: overlap=0 arm=asib seed=0"
    assert [line.split(": ")[1] for line in trial_lines[:5]] == [
        f"overlap=0 arm={arm} seed=0" for arm in ("asib", "avg_kd", "ca_mkd", "ebkd", "ae_kd")
    ]
    assert trial_lines[-1] == "trial 20: overlap=100 arm=ae_kd seed=1"


def test_dry_run_skips_cached_teachers(capsys, tmp_path):
    config = default_config("digits")
    key = teacher_key(config, 0)
    TeacherCache(tmp_path / "teachers").store(key, {"w": torch.zeros(2)}, metrics={}, spec={})
    lines = dry_run(capsys, "finetune", "--results", str(tmp_path))  # seed 0's first teacher is cached
    assert lines[0].startswith("teachers: 5 to fine-tune, 1 cached")
    assert lines[-1] == "5 trials"
    assert key not in "\n".join(lines[1:])


def test_beta_dry_run_names_the_sampled_value(capsys, tmp_path):
    lines = dry_run(capsys, "beta", "--samples", "2", "--results", str(tmp_path))
    assert "trial 1: arm=full seed=0 beta=loguniform(1e-05, 0.1) by Optuna TPE" in lines
    assert "trial 2: arm=full seed=1 beta=loguniform(1e-05, 0.1) by Optuna TPE" in lines  # one proposal, 3 seeds


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["ablation", "--seeds", "0"], "--seeds"),
        (["beta", "--samples", "0"], "--samples"),
        (["ablation", "--gpus-per-trial", "-0.5"], "--gpus-per-trial"),
        (["ablation", "--gpus-per-trial", "1.5"], "--gpus-per-trial"),
        (["ablation", "--cpus-per-trial", "0"], "--cpus-per-trial"),
        (["ablation", "--max-concurrent", "0"], "--max-concurrent"),
        (["ablation", "--max-failures", "-1"], "--max-failures"),
        (["ablation", "--checkpoint-every", "0"], "--checkpoint-every"),
        (["ablation", "--set", "optim.lrr=0.1"], "optim.lrr"),
        (["ablation", "--set", "epochs=-3"], "epochs"),
        (["ablation", "--set", "epochs"], "--set"),
        (["ablation", "--set", "epochs=3"], "method.asib.stages"),  # CCCP rungs need epochs % stages == 0
        (["ablation", "--set", "runtime.device=cuda"], "--gpus-per-trial"),
        (["ablation", "--dataset", "cifar100"], "--data-root"),
        (["ablation", "--dataset", "imagenet32", "--data-root", "/does/not/exist"], "--data-root"),
        (["ablation", "--download"], "--download"),
        (["ablation", "--dataset", "mnist"], "--dataset"),
        (["ablation", "--samples", "3"], "--samples"),  # not an ablation option
        (["beta", "--seeds", "0"], "--seeds"),
        (["finetune", "--overlaps", "0"], "--overlaps"),
        (["overlap", "--overlaps", "0", "120"], "--overlaps"),
        (["ablation", "--name", "a/b"], "--name"),
        (["ablation", "--resume"], "--resume"),
        (["ablation", "--address", "127.0.0.1:6379", "--dashboard"], "--dashboard"),
        (["nonsense"], "nonsense"),
        (["ablation", "--gpus-per-trial", "64"], "--gpus-per-trial 64 is more than the"),
        (["ablation", "--set", "data.student_train_size=5"], "data.student_train_size=5"),
        (["overlap", "--set", "data.student_train_size=9", "--overlaps", "0"], "data.student_train_size=9"),
        (["ablation", "--set", "data.val_fraction=0.001"], "data.val_fraction"),
        (["ablation", "--set", "student.seed=1"], "student.seed"),
        (["ablation", "--set", "student.classes=[1, 2]"], "student.classes"),
        (["ablation", "--set", "optim.name=adamw", "--set", "optim.momentum=0.5"], "--set optim.momentum=0.5"),
        (["ablation", "--set", "optim.name=adamw", "--set", "optim.nesterov=true"], "--set optim.nesterov=true"),
        (["ablation", "--config", "/does/not/exist.yaml"], "--config /does/not/exist.yaml"),
        (["ablation", "--track", "comet"], "--track: invalid choice: 'comet'"),
        (["ablation", "--track", "none", "--track", "mlflow"], "--track none turns every tracker off"),
    ],
)
def test_bad_options_exit_2_naming_the_option_before_ray_starts(capsys, tmp_path, args, named):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--results", str(tmp_path)] if args[0] != "nonsense" else args)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert not ray.is_initialized()
    assert not (tmp_path / args[0]).exists()


def test_an_existing_sweep_needs_resume_and_a_bad_auth_mode_is_refused(capsys, tmp_path, monkeypatch):
    (tmp_path / "ablation" / "tune" / "ablation").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        main(["ablation", "--results", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setenv("RAY_AUTH_MODE", "sometimes")
    with pytest.raises(SystemExit) as exit_info:
        main(["ablation", "--results", str(tmp_path / "other")])
    assert exit_info.value.code == 2
    assert "RAY_AUTH_MODE" in capsys.readouterr().err
    assert not ray.is_initialized()


def test_every_study_gives_each_trial_the_fields_the_results_writer_needs():
    base = apply_overrides(default_config("digits"), ["epochs=4", "method.asib.stages=2"])  # dkd warm-up 4 fits
    constants = {"study": "x", "code_revision": "abc", "teacher_cache": "/c", "checkpoint_every": 1}
    one_teacher = apply_overrides(base, ["teachers=[{arch: tiny_resnet}]"])  # the published protocol's
    for study in STUDIES.values():
        options = StudyOptions(seeds=2, samples=3, budget=2)
        trials = study.trials(one_teacher if study.name == "reproduce" else base, options)
        arms = [trials] if study.name != "tune" else [[t for t in trials if t.labels["arm"] == a] for a in ("ib", "avg_kd")]
        for arm_trials in arms:  # the tuning plans one experiment per arm
            plan = study.tune_plan(arm_trials, options, constants)
            assert {"study", "arm", "seed", "teacher_keys", "code_revision", "config"} <= set(plan.param_space), study.name
        assert len({trial.name for trial in trials}) == len(trials), study.name


def test_reproduce_refuses_more_than_one_teacher_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--results", str(tmp_path), "--dry-run"])  # digits' default has two teachers
    assert exit_info.value.code == 2
    assert "the published protocol distils from one teacher; got 2: teachers=['tiny_resnet', 'tiny_vgg']" in (
        capsys.readouterr().err
    )
    assert main(["reproduce", "--results", str(tmp_path), "--dry-run", "--set", "teachers=[{arch: tiny_vgg}]"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "12 trials"  # ce, kd, crd, dkd x 3 seeds


def test_grid_fields_follow_the_variant():
    base = default_config("digits")
    trials = STUDIES["ablation"].trials(base, StudyOptions(seeds=2))
    space = grid_param_space(trials, {"study": "ablation"})
    assert space["variant"] == {"grid_search": [trial.name for trial in trials]}
    config_of = space["config"].func
    assert isinstance(config_of, VariantField) and repr(config_of) == "VariantField('config')"
    tadapt = next(trial for trial in trials if trial.name == "tadapt-s1")
    assert config_of({"variant": "tadapt-s1"}) == tadapt.config.model_dump()
    assert space["seed"].func({"variant": "tadapt-s1"}) == 1
    assert tadapt.config.method.asib.use_tadapt and not tadapt.config.method.asib.use_pf
    ce = next(trial for trial in trials if trial.name == "ce-s0")
    assert space["teacher_keys"].func({"variant": "ce-s0"}) == [] and ce.config.method.name == "ce"
    assert len(space["teacher_keys"].func({"variant": "full-s0"})) == 2


@pytest.mark.parametrize("percent", [0, 25, 50, 75, 100])
def test_overlap_split_shares_the_head_of_a_seeded_permutation(percent):
    classes = list(range(10))
    first, second = split_classes(classes, percent, teachers=2, seed=3)
    shared = set(first) & set(second)
    assert len(shared) == int(percent * 10 / 100 + 0.5)  # round half up: 25 % of 10 -> 3
    assert set(first) | set(second) == set(classes)
    assert abs(len(first) - len(second)) <= 1
    assert split_classes(classes, percent, teachers=2, seed=3) == [first, second]


def test_overlap_at_100_percent_reuses_the_default_teachers_and_0_percent_does_not():
    base = default_config("digits")
    full, disjoint = overlap_config(base, 100), overlap_config(base, 0)
    assert [teacher_key(full, i) for i in range(2)] == [teacher_key(base, i) for i in range(2)]
    assert set(disjoint.teachers[0].classes).isdisjoint(disjoint.teachers[1].classes)
    assert teacher_key(disjoint, 0) != teacher_key(base, 0)


def test_device_comes_from_the_gpus_ray_assigned():
    assert choose_device("auto", []) == torch.device("cpu")
    assert choose_device("auto", [3]) == torch.device("cuda", 0)  # Ray's CUDA_VISIBLE_DEVICES renumbers
    assert choose_device("cpu", [0]) == torch.device("cpu")
    assert choose_device("cuda:1", [4, 5]) == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="needs a GPU"):
        choose_device("cuda", [])
    with pytest.raises(ValueError, match="holds 1 GPU"):
        choose_device("cuda:1", [0])
    assert gpu_share({"CPU": 1.0, "GPU": 0.25}) == 0.25
    assert gpu_share({"CPU": 1.0, "GPU": 1.0}) is None
    assert gpu_share({"CPU": 1.0}) is None


def test_running_out_of_a_gpu_share_names_the_share_and_what_to_try():
    from trainables.config_errors import DETERMINISTIC_ERRORS
    from trainables.placement import GPUShareTooSmall, out_of_memory_message

    assert out_of_memory_message(0.25, 80.0) == (
        "the trial ran out of GPU memory within its share: --gpus-per-trial 0.25 caps it at 20.0 of 80.0 GiB; "
        "try --gpus-per-trial 0.5"
    )
    assert "whole GPU (80.0 GiB)" in out_of_memory_message(None, 80.0)
    assert issubclass(GPUShareTooSmall, DETERMINISTIC_ERRORS)  # the same share fails the same way: no retries


def test_result_tables_are_rewritten_at_most_every_interval_and_on_each_trial_end(tmp_path, monkeypatch):
    from asib_sweeps.cli import results_callback

    writes = []
    monkeypatch.setattr(results_callback, "write_results", lambda *args, **kwargs: writes.append(args))
    callback = results_callback.ResultTablesCallback(tmp_path, tmp_path / "out", study="ablation", min_interval_s=60)
    for iteration in range(5):
        callback.on_trial_result(iteration, [], None, {})
    assert len(writes) == 1  # the first result writes, the next ones within the interval do not
    callback.on_trial_complete(5, [], None)
    callback.on_trial_error(6, [], None)
    assert len(writes) == 3
    assert writes[0] == (tmp_path, tmp_path / "out")


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in [*STUDIES, *COMMANDS])])
def test_the_top_level_and_every_subcommand_help_prints_and_exits_0(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: asib-sweep")
    if argv == ["--help"]:
        assert all(name in out for name in [*STUDIES, *COMMANDS])


def started_sweep(tmp_path, *argv: str) -> None:
    """A sweep folder as `asib-sweep ablation ARGV` leaves it once Tune has saved state."""
    request, fail = request_from_argv(["ablation", "--results", str(tmp_path), *argv])
    study = STUDIES["ablation"]
    cache = TeacherCache(tmp_path / "teachers")
    record = sweep_record(
        study="ablation", options=recorded_options(request, study, cache), config=base_config(request, fail)
    )
    write_record(tmp_path / "ablation", record)
    (tmp_path / "ablation" / "tune" / "ablation").mkdir(parents=True)


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        (["--seeds", "2"], "--seeds: saved 1, now 2"),
        (["--seeds", "1", "--set", "epochs=8"], "config key epochs (--dataset/--data-root/--config/--set): saved 4, now 8"),
        (["--seeds", "1", "--max-concurrent", "2"], "--max-concurrent: saved (not given), now 2"),
        (["--seeds", "1", "--checkpoint-every", "2"], "--checkpoint-every: saved 1, now 2"),
        (["--seeds", "1", "--teacher-cache", "elsewhere"], "--teacher-cache: saved"),
        (["--seeds", "1", "--track", "mlflow", "--track", "tensorboard"], "--track: saved (not given), now mlflow tensorboard"),
    ],
)
def test_resume_with_an_option_other_than_the_saved_sweep_names_it_and_both_values(capsys, tmp_path, changed, named):
    started_sweep(tmp_path, "--seeds", "1", "--set", "epochs=4")
    with pytest.raises(SystemExit) as exit_info:
        main(["ablation", "--results", str(tmp_path), "--set", "epochs=4", *changed, "--resume"])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert not ray.is_initialized()


def test_resume_with_the_saved_options_passes_the_check_however_the_config_is_spelled(tmp_path):
    started_sweep(tmp_path, "--seeds", "1", "--set", "epochs=4")
    config_file = tmp_path / "same.yaml"
    config_file.write_text("epochs: 4\n")
    request, fail = request_from_argv(
        ["ablation", "--results", str(tmp_path), "--seeds", "1", "--config", str(config_file)]
    )
    cache = TeacherCache(tmp_path / "teachers")
    now = sweep_record(
        study="ablation", options=recorded_options(request, STUDIES["ablation"], cache), config=base_config(request, fail)
    )
    check_resume_record(tmp_path / "ablation", now, resume=True, fail=fail)  # would exit 2 on a conflict
    assert resume_conflicts(read_record(tmp_path / "ablation"), now) == []


def test_resume_of_a_sweep_without_a_record_is_refused(capsys, tmp_path):
    (tmp_path / "ablation" / "tune" / "ablation").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        main(["ablation", "--results", str(tmp_path), "--resume"])
    assert exit_info.value.code == 2
    assert "sweep.json" in capsys.readouterr().err


def test_a_tracker_whose_package_is_missing_names_the_pip_extra(capsys, tmp_path, monkeypatch):
    from asib_sweeps.cli import trackers

    monkeypatch.setitem(trackers.TRACKERS, "mlflow", "asib_sweeps_no_such_package")
    with pytest.raises(SystemExit) as exit_info:
        main(["ablation", "--results", str(tmp_path), "--track", "mlflow"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--track mlflow needs the package asib_sweeps_no_such_package" in err
    assert "pip install 'asib-sweeps[mlflow]'" in err
    assert not ray.is_initialized()


@pytest.mark.parametrize(
    ("track", "chosen"),
    [
        (None, ("tensorboard",)),
        (["mlflow"], ("mlflow",)),
        (["mlflow", "tensorboard", "mlflow"], ("mlflow", "tensorboard")),
        (["none"], ()),
    ],
)
def test_track_replaces_the_default_tensorboard_and_none_turns_all_off(track, chosen):
    from asib_sweeps.cli.trackers import chosen_trackers

    assert chosen_trackers(track) == chosen


def test_the_record_holds_the_arms_in_planned_order(tmp_path) -> None:
    """sweep.json's `arms`: each arm once, in the order of the study's planned trials (seeds repeat arms)."""
    from analysis.arm_order import recorded_arm_order
    from asib_sweeps.cli.sweep_record import arm_order, with_arm_order

    trials = STUDIES["ablation"].trials(default_config(), StudyOptions(seeds=2))
    planned = arm_order(trials)
    assert planned == ["baseline", "ib", "cccp", "tadapt", "full", "ce", "avg_kd"]
    assert len(trials) == 2 * len(planned)
    assert arm_order(list(reversed(trials))) == list(reversed(planned))
    record = sweep_record(study="ablation", options={}, config=default_config())
    write_record(tmp_path, with_arm_order(record, list(reversed(trials))))
    assert recorded_arm_order(tmp_path) == tuple(reversed(planned))
    assert resume_conflicts(read_record(tmp_path), record) == []  # the order is not an option a resume repeats
