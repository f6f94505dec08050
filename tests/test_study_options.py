"""Study options are declared once (search_spaces/options.py); StudyOptions, the parser and run_study follow."""

from __future__ import annotations

import dataclasses

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
    from asib_sweeps.cli.sweep_options import _Fail, study_options

    parser = build_parser()
    args = parser.parse_args(["tune", "sota", "--budget", "3", "--arms", "dkd", "kd"])
    options = study_options(args, _Fail(parser, "tune"))
    assert options == StudyOptions(target="sota", budget=3, arms=("dkd", "kd"))
    args = parser.parse_args(["finetune", "--for", "overlap", "--overlaps", "0", "50"])
    assert study_options(args, _Fail(parser, "finetune")) == StudyOptions(target="overlap", overlaps=(0, 50))


def test_a_minimum_is_checked_under_the_options_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["tune", "ablation", "--selection-seeds", "x"])
    assert exit_info.value.code == 2
    with pytest.raises(StudyOptionError, match="--selection-seeds must be >= 1, got --selection-seeds=0"):
        run_study("tune", target="ablation", selection_seeds=0, dry_run=True)


def test_run_study_refuses_a_study_option_the_study_does_not_take() -> None:
    with pytest.raises(StudyOptionError, match=r"study ablation takes no option budget=3; its study options: margin, seeds"):
        run_study("ablation", budget=3, dry_run=True)
