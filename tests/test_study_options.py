"""Study options are declared once (search_spaces/options.py); StudyOptions, the parser and run_study follow."""

from __future__ import annotations

import dataclasses
import re

import pytest

from asib_sweeps.api import StudyOptionError, run_study
from asib_sweeps.cli.sweep_options import build_parser
from search_spaces import STUDIES, StudyOptions
from search_spaces.options import NOT_ON_THE_COMMAND_LINE, SPECS_BY_NAME, STUDY_OPTION_SPECS, option_default


def test_every_studyoptions_field_is_one_option_record_with_its_default() -> None:
    fields = {field.name: field for field in dataclasses.fields(StudyOptions)}
    set_by_options = {spec.field for spec in STUDY_OPTION_SPECS}
    assert set(fields) == set_by_options | set(NOT_ON_THE_COMMAND_LINE)
    for name in set_by_options:
        assert getattr(StudyOptions(), name) == option_default(name), name


def test_every_option_a_study_lists_is_declared() -> None:
    for study in STUDIES.values():
        assert set(study.options) <= set(SPECS_BY_NAME), study.name


def _flags(study: str) -> set[str]:
    parser = build_parser()
    sub = next(action for action in parser._subparsers._group_actions).choices[study]  # noqa: SLF001
    group = next(group for group in sub._action_groups if group.title == f"{study} options")  # noqa: SLF001
    return {action.option_strings[0] if action.option_strings else action.metavar for action in group._group_actions}  # noqa: SLF001


@pytest.mark.parametrize("study", list(STUDIES))
def test_the_parser_offers_exactly_the_options_the_study_lists(study: str) -> None:
    assert _flags(study) == {SPECS_BY_NAME[name].flag for name in STUDIES[study].options}


def test_parsed_options_become_studyoptions_with_the_records_defaults() -> None:
    from asib_sweeps.cli.sweep import request_from_argv
    from asib_sweeps.cli.sweep_options import study_options

    options = study_options(*request_from_argv(["tune", "sota", "--budget", "3", "--arms", "dkd", "kd"]))
    assert options == StudyOptions(target="sota", budget=3, arms=("dkd", "kd"))
    options = study_options(*request_from_argv(["finetune", "--for", "overlap", "--overlaps", "0", "50"]))
    assert options == StudyOptions(target="overlap", overlaps=(0, 50))


def test_a_minimum_is_checked_under_the_options_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["tune", "ablation", "--selection-seeds", "x"])
    assert exit_info.value.code == 2
    with pytest.raises(StudyOptionError, match="--selection-seeds must be >= 1, got --selection-seeds=0"):
        run_study("tune", target="ablation", selection_seeds=0, dry_run=True)


def test_run_study_refuses_a_study_option_the_study_does_not_take() -> None:
    with pytest.raises(StudyOptionError, match=r"study ablation takes no option budget=3; its study options: margin, seeds"):
        run_study("ablation", budget=3, dry_run=True)


@pytest.mark.parametrize(
    ("keywords", "argv"),
    [
        (
            {"target": "sota", "budget": 2, "arms": ["kd", "dkd"], "overrides": {"epochs": 4, "optim.lr": 0.05},
             "results": "r", "track": ["mlflow", "tensorboard"], "max_concurrent": 2},
            ["tune", "sota", "--budget", "2", "--arms", "kd", "dkd", "--set", "epochs=4", "--set", "optim.lr=0.05",
             "--results", "r", "--track", "mlflow", "--track", "tensorboard", "--max-concurrent", "2"],
        ),
        ({"samples": 4, "asha": True, "gpus_per_trial": 0.5}, ["beta", "--samples", "4", "--asha", "--gpus-per-trial", "0.5"]),
        (
            {"overrides": ["epochs=4"], "data_root": "/d", "dataset": "cifar100", "download": True, "seeds": 2},
            ["sota", "--set", "epochs=4", "--data-root", "/d", "--dataset", "cifar100", "--download", "--seeds", "2"],
        ),
        ({"target": "overlap", "overlaps": [0, 50], "no_submit": False}, ["finetune", "--for", "overlap", "--overlaps", "0", "50"]),
        ({"dashboard": False, "resume": True, "name": "n"}, ["ablation", "--no-dashboard", "--resume", "--name", "n"]),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else "",
)  # fmt: skip
def test_run_studys_keywords_make_the_request_the_command_line_makes(keywords, argv) -> None:
    """Two doors, one request: what follows (checks, plan, run) cannot tell them apart."""
    from asib_sweeps.api import study_request
    from asib_sweeps.cli.sweep import request_from_argv

    assert study_request(argv[0], keywords) == request_from_argv(argv)[0]


@pytest.mark.parametrize(
    ("study", "keywords", "named"),
    [
        ("ablation", {"seeds": "many"}, "run_study keyword seeds='many': Input should be a valid integer"),
        ("ablation", {"gpus_per_trial": [1]}, "run_study keyword gpus_per_trial=[1]: Input should be a valid number"),
        ("ablation", {"sedes": 2}, "run_study takes no keyword sedes=2"),
        ("tune", {"budget": 2}, "the study to tune (STUDY) is required; one of ablation, sota, overlap"),
        ("tune", {"target": "beta"}, "invalid choice: 'beta' (choose from ablation, sota, overlap)"),
        ("finetune", {"target": "nope"}, "--for: invalid choice: 'nope'"),
        ("ablation", {"track": ["comet"]}, "--track: invalid choice: 'comet'"),
        ("ablation", {"overrides": "epochs=4"}, "overrides must be a mapping or a list of KEY=VALUE strings"),
        ("ablation", {"overrides": ["epochs"]}, "--set expects KEY=VALUE, got 'epochs'"),
    ],
)
def test_run_study_refuses_a_keyword_naming_it_and_its_value(tmp_path, study, keywords, named) -> None:
    with pytest.raises(StudyOptionError, match=re.escape(named)):
        run_study(study, dry_run=True, results=str(tmp_path), **keywords)
    assert not any(tmp_path.iterdir())
