"""Teacher fine-tuning: the one fine-tuning path (the cache and its keys: teacher_cache.py).

`fine_tune_teacher` (tests, benchmarks, in-process use) and the Ray trainable
(trainables.finetune, which the CLI runs) both start the run with `start_fine_tuning`,
train it with `train_teacher` and cache it with `store_teacher`, so a cached teacher is
always its run's best-validation weights; the trainable only adds Tune's
restore/report/checkpoint around the epochs.

"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from asib_sweeps.config import RunConfig
from asib_sweeps.teacher_cache import TeacherCache, finetune_config, teacher_identity, teacher_key
from asib_sweeps.training.run import TrainingRun

EpochCallback = Callable[[TrainingRun, dict[str, Any]], None]
"""Called with the run and the epoch's metrics after every epoch `train_teacher` runs."""


def start_fine_tuning(run_config: RunConfig, *, device: torch.device | None = None) -> TrainingRun:
    """The run of a fine-tuning config (`finetune_config`'s CE run), keeping its best-validation weights."""
    return TrainingRun.create(run_config, device=device, keep_best_weights=True)


def train_teacher(run: TrainingRun, on_epoch: EpochCallback | None = None) -> None:
    """Run the remaining epochs of a fine-tuning run, calling `on_epoch(run, metrics)` after each."""
    while not run.finished:
        metrics = run.run_epoch()
        if on_epoch is not None:
            on_epoch(run, metrics)


def store_teacher(run: TrainingRun, cache: TeacherCache, key: str, spec: Mapping[str, Any]) -> None:
    """Cache a finished fine-tuning run as teacher `key`: its best-validation weights, its summary, `spec`."""
    if not run.finished:
        raise ValueError(f"fine-tuning teacher {key} stopped at epoch {run.next_epoch}; only a finished run is cached")
    if run.best_student_state is None:  # start_fine_tuning's run records it at the first epoch
        raise RuntimeError(f"fine-tuning teacher {key} kept no best-validation weights")
    cache.store(key, run.best_student_state, metrics=run.summary(), spec=dict(spec))


def fine_tune_teacher(config: RunConfig, teacher_index: int, cache: TeacherCache) -> str:
    """Fine-tune one teacher in this process (no Ray) unless it is cached; returns its key."""
    key = teacher_key(config, teacher_index)
    cache.repair(key)
    if cache.has(key):
        return key
    run = start_fine_tuning(finetune_config(config, teacher_index))
    train_teacher(run)
    store_teacher(run, cache, key, teacher_identity(config, teacher_index))
    return key
