"""The CLI answers `--help`, usage errors and `--dry-run` without importing torch, Ray, timm or torchvision.

Each of those costs seconds to import, and none of them is needed to print help or to
refuse a bad option. Each case runs the CLI in a fresh interpreter under
`python -X importtime` and reads the modules it imported from that trace: an
assertion on what is imported, not on how long it took (timings are
benchmarks/cli_latency.py's job).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asib_sweeps.cli.sweep import COMMANDS, DATASET_NAMES
from search_spaces import STUDIES

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "ray", "timm", "torchvision"}


def imported_by(*argv: str, module: str = "asib_sweeps.cli.sweep", expect_exit: int = 0) -> set[str]:
    """The top-level packages a fresh `python -m module *argv` imported."""
    return {name.split(".")[0] for name in modules_imported_by(*argv, module=module, expect_exit=expect_exit)}


def modules_imported_by(*argv: str, module: str = "asib_sweeps.cli.sweep", expect_exit: int = 0) -> set[str]:
    """The modules (full dotted names) a fresh `python -m module *argv` imported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, *argv],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    trace = [line for line in completed.stderr.splitlines() if line.startswith("import time:")]
    assert completed.returncode == expect_exit, completed.stderr[-3000:]
    assert trace, "python -X importtime printed no import trace"
    return {line.rsplit("|", 1)[1].strip() for line in trace}


@pytest.mark.parametrize(
    "argv", [["--help"], *([name, "--help"] for name in [*STUDIES, *COMMANDS, "status"])], ids=" ".join
)
def test_help_imports_neither_torch_nor_ray(argv):
    assert imported_by(*argv) & HEAVY == set()


@pytest.mark.parametrize(
    "argv",
    [
        ["ablation", "--seeds", "0"],
        ["ablation", "--gpus-per-trial", "-1"],
        ["ablation", "--gpus-per-trial", "1.5"],
        ["beta", "--samples", "0"],
        ["ablation", "--checkpoint-every", "0"],
        ["ablation", "--checkpoint-every-s", "-1"],
        ["overlap", "--overlaps", "101"],
        ["ablation", "--name", "a/b"],
    ],
    ids=" ".join,
)
def test_a_bad_option_is_refused_without_torch_or_ray(argv):
    assert imported_by(*argv, expect_exit=2) & HEAVY == set()


@pytest.mark.parametrize("study", ["ablation", "sota", "overlap", "beta", "finetune"])
def test_dry_run_plans_from_the_catalog_without_torch_ray_timm_torchvision_or_sklearn(tmp_path, study):
    """The plan reads the torch-free catalog, config and teacher keys, and proves the digits splits from class counts."""
    modules = modules_imported_by(study, "--dry-run", "--results", str(tmp_path))
    assert {"pydantic", "asib_sweeps.data.split_bounds"} <= modules  # the trace is of a real plan, splits checked
    assert {name.split(".")[0] for name in modules} & (HEAVY | {"sklearn"}) == set()


def test_a_dry_run_the_counts_cannot_prove_draws_the_splits_with_sklearn(tmp_path):
    """A split the class counts cannot vouch for is drawn exactly, so its refusal is scikit-learn's own."""
    imported = imported_by(
        "ablation", "--dry-run", "--results", str(tmp_path), "--set", "data.val_fraction=0.001", expect_exit=2
    )
    assert "sklearn" in imported
    assert imported & HEAVY == set()


def test_report_help_imports_neither_pandas_nor_plotly():
    imported = imported_by("--help", module="asib_sweeps.cli.report")
    assert imported & (HEAVY | {"pandas", "plotly"}) == set()


def test_the_clis_dataset_names_are_the_configs():
    from asib_sweeps.config import DATASET_NAMES as CONFIG_DATASET_NAMES

    assert DATASET_NAMES == CONFIG_DATASET_NAMES
