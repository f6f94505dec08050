"""Shared fixtures: small digits configs and fine-tuned tiny teachers, made once per session."""

from __future__ import annotations

import os
from pathlib import Path

# One intra-op thread per process: the test models are tiny, and two threads spinning
# on two shared cores (with Ray workers beside them) ran epochs up to 100x slower.
os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from asib_sweeps.config import RunConfig, apply_overrides, default_config
from asib_sweeps.teacher_cache import TeacherCache, teacher_key
from asib_sweeps.teachers import fine_tune_teacher

METRICS_THAT_VARY_RUN_TO_RUN = {"epoch_time_s", "eval_time_s", "peak_memory_mb"}


torch.set_num_threads(1)


def small_digits_config(*overrides: str) -> RunConfig:
    """The digits default shrunk to a few epochs: the shape of a real run, in seconds."""
    return apply_overrides(
        default_config("digits"),
        [
            "epochs=4",
            "method.asib.stages=2",
            "method.asib.synergy_warmup_steps=4",
            "method.asib.a_min_steps=4",
            "method.dkd.warmup_epochs=1",
            "teacher_recipe.epochs=3",
            "data.student_train_size=200",
            *overrides,
        ],
    )


def comparable(history: list[dict]) -> list[dict]:
    """Per-epoch metrics without the wall-clock and memory readings."""
    return [{k: v for k, v in row.items() if k not in METRICS_THAT_VARY_RUN_TO_RUN} for row in history]


def teacher_states(config: RunConfig, cache: TeacherCache) -> list[dict[str, Tensor]]:
    return [cache.load(teacher_key(config, index)) for index in range(len(config.teachers))]


@pytest.fixture(scope="session")
def teacher_cache(tmp_path_factory: pytest.TempPathFactory) -> TeacherCache:
    """The two default digits teachers, fine-tuned briefly once for the whole session."""
    cache = TeacherCache(tmp_path_factory.mktemp("teachers"))
    config = small_digits_config()
    for index in range(len(config.teachers)):
        fine_tune_teacher(config, index, cache)
    return cache


def fake_data_root(root: Path, dataset: str) -> Path:
    """Empty files where `dataset`'s reader looks for its files: enough for the plan's probe (dry runs)."""
    from asib_sweeps.data.cifar100 import CIFAR100_FILES, CIFAR100_FOLDER
    from asib_sweeps.data.imagenet32 import IMAGENET32_BATCHES

    if dataset == "cifar100":
        (root / CIFAR100_FOLDER).mkdir(parents=True, exist_ok=True)
        for name in CIFAR100_FILES:
            (root / CIFAR100_FOLDER / name).touch()
    elif dataset == "imagenet32":
        root.mkdir(parents=True, exist_ok=True)
        for name in IMAGENET32_BATCHES:
            (root / name).touch()
    elif dataset == "folder":
        for split in ("train", "test"):
            (root / split / "cat").mkdir(parents=True, exist_ok=True)
    return root
