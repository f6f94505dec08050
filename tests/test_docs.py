"""Docs that cannot drift: the generated config reference, the shipped experiment files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from published_reference import teacher_file

from asib_sweeps.cli.sweep import main
from asib_sweeps.config import RunConfig
from asib_sweeps.config_files import dataset_of, read_experiment_file
from asib_sweeps.docs_config import COMMAND, render, rows
from conftest import fake_data_root
from search_spaces import STUDIES

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))


def test_configuration_md_is_what_the_generator_prints():
    written = (REPO / "docs" / "CONFIGURATION.md").read_text()
    assert written == render(), f"docs/CONFIGURATION.md is out of date; regenerate it with: {COMMAND}"


def test_the_generator_runs_as_documented_and_lists_every_key():
    printed = subprocess.run(
        [sys.executable, "-m", "asib_sweeps.docs_config"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert printed == render()
    keys = [key for key, _ in rows(RunConfig)]
    assert len(keys) > 60 and all(f"| `{key}` |" in printed for key in keys)
    assert "| `optim.name` | `str` | `\"sgd\"` |" in printed and "`sgd` / `adamw`" in printed


def study_of(path: Path) -> str:
    """A shipped file is for the study its name starts with; base files suit any (checked with ablation)."""
    prefix = path.stem.split("-")[0]
    return prefix if prefix in STUDIES else "ablation"


def test_configs_are_shipped():
    assert {study_of(path) for path in CONFIGS} >= {"ablation", "sota", "overlap", "reproduce"}


def published_teacher_options(path: Path, folder: Path) -> list[str]:
    """A reproduce config names a published teacher file; the test makes one in the published layout."""
    teachers = yaml.safe_load(path.read_text()).get("teachers", [])
    return [
        f"--set=teachers.{index}.checkpoint={teacher_file(folder, spec['arch'])}"
        for index, spec in enumerate(teachers)
        if "checkpoint" in spec
    ]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_shipped_config_validates_with_dry_run(capsys, tmp_path, path):
    dataset = dataset_of(read_experiment_file(path)) or "digits"
    root = fake_data_root(tmp_path / "data", dataset)
    args = [study_of(path), "--config", str(path), "--data-root", str(root), "--results", str(tmp_path)]
    args += published_teacher_options(path, tmp_path / "teachers")
    assert main([*args, "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith(" trials")
