"""The protocol's plan, without Ray: equal budgets per arm, search spaces that hold the published and
the digits defaults inside their ranges, selection seeds refused by report runs, a fresh split and
fresh teachers per seed (checked on the drawn images), and the experiment file's `arms:`."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import torch

from asib_sweeps.cli.sweep import main
from asib_sweeps.config import METHOD_NAMES, apply_overrides, default_config
from asib_sweeps.config_files import arm_settings, read_experiment_file
from asib_sweeps.data import load_data, student_subset
from asib_sweeps.catalog.methods import method_entry, settings_types, tunable_space
from asib_sweeps.presets import RUNG_KNOBS, RUNGS
from asib_sweeps.tunable import Choice, IntRange, LogUniform, Uniform
from search_spaces import STUDIES, StudyOptions
from search_spaces.study import SELECTION_SEEDS, teacher_keys_used, trial_runs
from search_spaces.tuning import arm_space, untuned_arms


def digest(images: torch.Tensor) -> set[str]:
    """One fingerprint per image: which images a split drew, independent of their order."""
    return {hashlib.sha1(image.numpy().tobytes()).hexdigest() for image in images}


@pytest.mark.parametrize("study", ["ablation", "sota", "overlap"])
def test_every_tuned_arm_gets_exactly_the_budget(study):
    base = default_config("digits")
    trials = STUDIES["tune"].trials(base, StudyOptions(target=study, budget=5, selection_seeds=2))
    per_arm = Counter(trial.labels["arm"] for trial in trials)
    assert set(per_arm.values()) == {5}
    untuned = ["ce"] if study != "overlap" else []  # ce has nothing to tune: no trial (overlap has no ce)
    assert untuned_arms(base, StudyOptions(target=study)) == untuned
    assert set(per_arm) | set(untuned) == set(STUDIES[study].arm_configs(base, StudyOptions()))
    assert all(trial.extra["selection_seeds"] == [100, 101] for trial in trials)
    runs = trial_runs(trials)
    assert len(runs) == 2 * len(trials) and {run.seed for run in runs} == {100, 101}


def test_each_rung_tunes_its_own_knobs_and_every_method_declares_a_space_inside_its_validation():
    base = default_config("digits")
    configs = STUDIES["ablation"].arm_configs(base, StudyOptions())
    for rung in RUNGS:
        assert [key.rpartition(".")[2] for key in arm_space(configs[rung])] == list(RUNG_KNOBS[rung])
    assert len(arm_space(configs["full"])) > len(arm_space(configs["baseline"]))  # more knobs, the same budget
    assert arm_space(configs["avg_kd"]) == {f"method.avg_kd.{k}": d for k, d in tunable_space("avg_kd").items()}
    for name in METHOD_NAMES:  # every knob is a field of the section the method reads (avg_kd: kd's)
        section = method_entry(name).section
        fields = settings_types()[section].model_fields if section is not None else {}
        assert set(tunable_space(name)) <= set(fields), name


def inside(domain, value) -> bool:
    """Strictly inside the range (not at an edge), on the scale TPE samples."""
    if isinstance(domain, LogUniform):
        return 0.05 < domain.position(value) < 0.95
    if isinstance(domain, (Uniform, IntRange)):
        return domain.low < value < domain.high
    return isinstance(domain, Choice) and value in domain.values


@pytest.mark.parametrize("dataset", ["digits", "cifar100"])
def test_ranges_hold_the_current_and_published_defaults_away_from_an_edge(dataset):
    config = default_config(dataset)
    for name in METHOD_NAMES:
        section = method_entry(name).section
        if section is None:
            continue
        values = getattr(config.method, section)
        for knob, domain in tunable_space(name).items():
            if (name, knob) == ("asib", "synergy_student_weight"):  # off (0) is its range's lower end, by design
                assert domain.low == values.synergy_student_weight == 0
                continue
            assert inside(domain, getattr(values, knob)), (dataset, name, knob, getattr(values, knob), str(domain))


def test_a_report_run_refuses_a_selection_seed(capsys, tmp_path):
    for args in (["--set", "seed=100"], ["--set", "seed=98", "--seeds", "3"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["ablation", *args, "--dry-run", "--results", str(tmp_path)])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert "seed 100 is a selection seed" in error and "100..199" in error and "--set seed=0" in error
    assert main(["ablation", "--set", "seed=97", "--seeds", "3", "--dry-run", "--results", str(tmp_path)]) == 0
    assert 100 in SELECTION_SEEDS and 99 not in SELECTION_SEEDS


def test_each_report_seed_draws_its_own_split_and_teachers_and_none_is_a_selection_split():
    base = apply_overrides(default_config("digits"), ["epochs=4", "method.asib.stages=2"])
    report = STUDIES["ablation"].trials(base, StudyOptions(seeds=2))
    by_seed = {trial.labels["seed"]: trial.config for trial in report if trial.labels["arm"] == "full"}
    tuning = STUDIES["tune"].trials(base, StudyOptions(target="ablation", budget=1, selection_seeds=2))
    selection = {run.seed: run for run in trial_runs(tuning)}
    drawn = {}
    for seed, config in {**by_seed, **selection}.items():
        assert config.data.split_seed == seed and {t.seed for t in config.teachers} == {seed}
        bundle = load_data(config.data)
        subset = student_subset(bundle.train, config.data.student_train_size, seed=config.data.split_seed)
        drawn[seed] = (digest(bundle.val.images), digest(bundle.test.images), digest(subset.images))
    for part in range(3):  # val, test, the student's subset: every pair of seeds drew different images
        assert len({frozenset(images[part]) for images in drawn.values()}) == len(drawn)
    assert not {c.data.split_seed for c in by_seed.values()} & {c.data.split_seed for c in selection.values()}
    keys = {seed: teacher_keys_used(config) for seed, config in {**by_seed, **selection}.items()}
    assert len({key for pair in keys.values() for key in pair}) == 2 * len(keys)  # no teacher shared by two seeds
    same_seed = [trial.config for trial in report if trial.labels["seed"] == 0 and trial.config.method.name != "ce"]
    assert len({tuple(teacher_keys_used(config)) for config in same_seed}) == 1  # arms of one seed stay paired


def test_one_split_for_every_seed_when_the_switch_is_off(capsys, tmp_path):
    base = apply_overrides(default_config("digits"), ["data.split_per_seed=false"])
    trials = STUDIES["sota"].trials(base, StudyOptions(seeds=3))
    assert {trial.config.data.split_seed for trial in trials} == {0}
    assert {t.seed for trial in trials for t in trial.config.teachers} == {0}
    with pytest.raises(SystemExit) as exit_info:  # under the switch, a split seed of one's own would be ignored
        main(["sota", "--set", "data.split_seed=3", "--dry-run", "--results", str(tmp_path)])
    assert exit_info.value.code == 2 and "data.split_seed=3 would be replaced" in capsys.readouterr().err


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_experiment_files_arms_reach_their_arms_only(capsys, tmp_path):
    path = write(tmp_path / "tuned.yaml", "epochs: 8\narms:\n  kd: {method.kd.tau: 2.5}\n  asib:\n    method: {asib: {beta: 0.01}}\n")
    settings = arm_settings(read_experiment_file(path))
    assert settings == {"kd": {"method.kd.tau": 2.5}, "asib": {"method.asib.beta": 0.01}}
    trials = STUDIES["sota"].trials(default_config("digits"), StudyOptions(seeds=1, arm_settings=settings))
    configs = {trial.labels["arm"]: trial.config for trial in trials}
    assert configs["kd"].method.kd.tau == 2.5 and configs["avg_kd"].method.avg_kd.tau == 4.0  # avg_kd has its own section
    assert configs["asib"].method.asib.beta == 0.01 and configs["dkd"].method.asib.beta == 1e-3
    assert main(["sota", "--config", str(path), "--dry-run", "--results", str(tmp_path)]) == 0
    for args, named in (
        (["sota", "--config", str(write(tmp_path / "bad.yaml", "arms: {nope: {epochs: 2}}\n"))], "'nope' is not an arm of sota"),
        (["beta", "--config", str(path)], "arms: applies to the studies with arms"),
        (["sota", "--config", str(path), "--set", "method.kd.tau=3"], "--set method.kd.tau and arms.kd.method.kd.tau"),
        (["sota", "--config", str(write(tmp_path / "typo.yaml", "arms: {kd: {method.kd.tua: 2}}\n"))], "method.kd.tua"),
        (["tune", "sota", "--set", "method.kd.tau=3"], "method.kd.tau is sampled by the tuning of arm(s) kd ("),
        (["tune", "sota", "--arms", "kd", "nope"], "'nope' is not an arm of sota"),
        (["ablation", "--margin", "0"], "--margin must be a number of accuracy points"),
        (["tune", "sota", "--set", "data.split_per_seed=false"], "tune needs data.split_per_seed=true"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--dry-run", "--results", str(tmp_path)])
        assert exit_info.value.code == 2, args
        assert named in capsys.readouterr().err, args
    assert main(["tune", "sota", "--arms", "dkd", "--set", "method.kd.tau=3", "--dry-run", "--results", str(tmp_path)]) == 0


def test_overlap_tunes_at_its_first_overlap_and_applies_the_choice_at_every_overlap(tmp_path, capsys):
    base = default_config("digits")
    tuning = STUDIES["tune"].trials(base, StudyOptions(target="overlap", budget=1, overlaps=(0, 100)))
    assert [trial.labels["arm"] for trial in tuning] == ["asib", "avg_kd", "ca_mkd", "ebkd", "ae_kd"]
    complementary = [spec.classes for spec in tuning[0].config.teachers]
    assert all(classes is not None for classes in complementary)  # at 0 %: each teacher sees its own classes
    assert not set(complementary[0]) & set(complementary[1])
    settings = {"ca_mkd": {"method.ca_mkd.tau": 2.5}, "asib": {"method.asib.beta": 0.01}}
    trials = STUDIES["overlap"].trials(base, StudyOptions(seeds=1, overlaps=(0, 100), arm_settings=settings))
    assert {t.labels["overlap"] for t in trials if t.labels["arm"] == "ca_mkd" and t.config.method.ca_mkd.tau == 2.5} == {0, 100}
    assert {t.config.method.asib.beta for t in trials if t.labels["arm"] == "asib"} == {0.01}
    assert {t.config.method.ca_mkd.tau for t in trials if t.labels["arm"] == "avg_kd"} == {4.0}  # its own arm only
    path = write(tmp_path / "tuned.yaml", "arms:\n  ebkd: {method.ebkd.tau: 3.0}\n")
    assert main(["overlap", "--overlaps", "0", "--seeds", "1", "--config", str(path), "--dry-run", "--results", str(tmp_path)]) == 0
    assert main(["tune", "overlap", "--overlaps", "0", "--budget", "2", "--dry-run", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("10 trials")


def test_the_api_passes_the_tuned_study_as_the_positional_study(tmp_path, capsys):
    from asib_sweeps import run_study

    sweep = run_study("tune", target="sota", budget=2, arms=["kd"], dry_run=True, results=str(tmp_path))
    assert sweep == tmp_path / "tune"
    assert capsys.readouterr().out.strip().endswith("2 trials")


def test_the_margin_is_recorded_before_the_run(tmp_path):
    from asib_sweeps.cli.sweep import recorded_options, request_from_argv
    from asib_sweeps.cli.sweep_runner import SweepSettings, experiment_constants
    from asib_sweeps.teacher_cache import TeacherCache

    request, _ = request_from_argv(["ablation", "--margin", "0.5"])
    assert recorded_options(request, STUDIES["ablation"], TeacherCache(tmp_path))["--margin"] == 0.5  # sweep.json
    settings = SweepSettings(
        study=STUDIES["ablation"], options=StudyOptions(margin=0.5), trials=[], teachers=[], results_dir=tmp_path, name="x",
        teacher_cache=tmp_path, cpus_per_trial=1, gpus_per_trial=0, max_concurrent=None, max_failures=0,
        checkpoint_every=1, resume=False,
    )  # fmt: skip
    assert experiment_constants(settings, study="ablation")["equivalence_margin"] == 0.5  # every trial's params


def test_tpe_is_seeded_so_a_plan_proposes_the_same_settings_again():
    base = default_config("digits")
    options = StudyOptions(target="sota", budget=3, arms=("dkd",))
    trials = STUDIES["tune"].trials(base, options)
    constants = {"study": "tune", "code_revision": "x", "teacher_cache": "/c", "checkpoint_every": 1}

    def proposals() -> list[dict]:
        plan = STUDIES["tune"].tune_plan(trials, options, constants)
        plan.search_alg.set_search_properties(plan.metric, plan.mode, plan.param_space)
        return [plan.search_alg.suggest(f"trial-{index}")["config"]["method"]["dkd"] for index in range(3)]

    first = proposals()
    assert first == proposals()
    assert len({entry["beta"] for entry in first}) == 3 and all(0.5 <= entry["beta"] <= 32 for entry in first)


def test_every_method_with_settings_declares_what_tune_searches():
    """A method added with a config section but no search_space would sit out the equal budget unnoticed."""
    lacking = [name for name in METHOD_NAMES if method_entry(name).section and not tunable_space(name)]
    assert lacking == [], f"declare search_space in these method files (docs/ARCHITECTURE.md): {lacking}"


def test_a_stopped_arm_ends_the_tuning_but_failed_trials_do_not():
    from asib_sweeps.cli.tune_runner import arm_interrupted

    frame = pd.DataFrame({"status": ["TERMINATED", "ERROR", "TERMINATED"]})
    assert not arm_interrupted(frame, budget=3)  # an error is the arm's result, not a stop
    assert arm_interrupted(frame, budget=4)  # the stop came before the last trial started
    assert arm_interrupted(frame.assign(status=["TERMINATED", "INCOMPLETE", "ERROR"]), budget=3)


def test_a_failed_trial_spends_its_budget_and_the_arm_still_chooses_among_the_rest():
    from asib_sweeps.cli.tune_runner import unscored_arms

    ledger = pd.DataFrame({"arm": ["full", "full", "kd", "kd"], "status": ["ERROR", "TERMINATED", "ERROR", "ERROR"]})
    assert unscored_arms(ledger, ["full", "kd", "dkd"]) == ["kd", "dkd"]  # dkd: no trial at all
