"""The catalog at the bottom: torch-free, and the one place a method or a data source is added.

Adding a method or a data source is one file plus one entry. The second test proves it
with a throwaway of each: one module written here (a settings class, a loss and a
reader), one `add_method` and one `add_source` call, and no other file touched; the
config, `--set`, the SOTA arms and a real training run then know both. It runs in a
fresh interpreter because entries must be added before the config is built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_FREE = [
    "asib_sweeps.catalog.methods",
    "asib_sweeps.catalog.data_sources",
    "asib_sweeps.catalog.models",
    "asib_sweeps.config",
    "asib_sweeps.presets",
    "asib_sweeps.teacher_cache",
    "asib_sweeps.data.label_plan",
    "asib_sweeps.data.probe",
    "asib_sweeps.data.source_facts",
    "search_spaces",
]

PLUGIN = '''
"""A throwaway method and data source, as a user would write them: one file."""
import torch
import torch.nn.functional as F
from pydantic import Field

from asib_sweeps.config_section import MethodSettings
from asib_sweeps.data.bundle import Split
from asib_sweeps.data.source import SourceData
from asib_sweeps.methods.base import DistillMethod, StepInput


class ThrowawaySettings(MethodSettings):
    """Weight of the pull toward the first teacher."""

    weight: float = Field(1.0, ge=0)


class Throwaway(DistillMethod):
    name = "throwaway"

    def forward(self, step: StepInput) -> dict:
        pull = F.mse_loss(step.student.logits, step.teachers[0].logits.detach())
        return {"ce": F.cross_entropy(step.student.logits, step.labels), "pull": self.settings.weight * pull}


def read_source(data) -> SourceData:
    generator = torch.Generator().manual_seed(data.split_seed)
    def split(count: int) -> Split:
        labels = torch.arange(count) % 3
        images = (labels.view(-1, 1, 1, 1) * 80 + torch.randint(0, 40, (count, 3, 8, 8), generator=generator))
        return Split(images.to(torch.uint8), labels.to(torch.int64))
    return SourceData(train=split(90), test=split(30), num_classes=3, class_names=("a", "b", "c"))
'''

SCRIPT = '''
import json, sys
from asib_sweeps.catalog.data_sources import DataSource, add_source
from asib_sweeps.catalog.methods import MethodEntry, add_method
from asib_sweeps.tunable import LogUniform
import throwaway_plugin

add_method(MethodEntry("throwaway", "throwaway_plugin:Throwaway", throwaway_plugin.ThrowawaySettings,
                       {"weight": LogUniform(0.01, 10.0)}))
add_source(DataSource("blobs", "throwaway_plugin:read_source", 3, needs_root=False))

from asib_sweeps.config import apply_overrides, default_config
from asib_sweeps.models import create_model
from asib_sweeps.training import TrainingRun
from search_spaces.sota import arms

config = apply_overrides(default_config("digits"), [
    "data.dataset=blobs", "method.name=throwaway", "method.throwaway.weight=0.5", "epochs=1",
    "data.student_train_size=null", "data.image_size=8",
])
teachers = [create_model(spec.arch, 3).state_dict() for spec in config.teachers]
run = TrainingRun.create(config, teacher_states=teachers)
metrics = run.run_epoch()
print(json.dumps({"weight": config.method.throwaway.weight, "in_sota": "throwaway" in arms(),
                  "keys": sorted(metrics), "val_acc": metrics["val_acc"], "classes": run.data.num_classes}))
'''


def run_python(code: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT), *([str(extra_path)] if extra_path else []), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def test_the_catalog_config_and_plan_modules_import_no_torch() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {TORCH_FREE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules} & {'torch', 'ray', 'timm', 'torchvision'})))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_an_entry_after_the_config_is_built_is_refused() -> None:
    code = (
        "import asib_sweeps.config\n"
        "from asib_sweeps.catalog.methods import MethodEntry, add_method\n"
        "try:\n    add_method(MethodEntry('late', 'x:Y'))\nexcept RuntimeError as error:\n    print(error)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "method 'late' was added after asib_sweeps.config was imported" in result.stdout


def test_a_method_and_a_data_source_are_one_file_and_one_entry_each(tmp_path: Path) -> None:
    (tmp_path / "throwaway_plugin.py").write_text(textwrap.dedent(PLUGIN))
    result = run_python(SCRIPT, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["weight"] == 0.5  # --set reached the new method's own section
    assert found["in_sota"]  # the studies list it
    assert found["classes"] == 3  # the run read the new source
    assert {"loss_pull", "loss_ce", "val_acc", "teacher1_val_acc"} <= set(found["keys"])  # its terms, logged
    assert 0.0 <= found["val_acc"] <= 1.0
