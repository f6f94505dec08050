"""One teacher fine-tuning path: the cache holds the best-validation weights.

The CLI's Tune trainable (trainables/finetune.py) and `fine_tune_teacher` both train
with `train_teacher` and cache with `store_teacher`; tests/test_sweep_ray.py runs the
trainable on a real Ray. Here the last fine-tuning epoch is made to validate at chance,
so the best epoch is an earlier one and the final weights are not what the cache must
hold; a run without best-validation weights is never cached (no fall-back to its final
weights).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from asib_sweeps.teacher_cache import TeacherCache, finetune_config, teacher_identity, teacher_key
from asib_sweeps.teachers import fine_tune_teacher, store_teacher, train_teacher
from asib_sweeps.training import TrainingRun
from conftest import small_digits_config

def _zero_logits_in_eval(module: torch.nn.Module, inputs: Any, output: Any) -> Any:
    if not module.training:
        return dataclasses.replace(output, logits=torch.zeros_like(output.logits))
    return None


def _last_epoch_validates_at_chance(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Tensor]]:
    """Patch every run so that its last epoch's evaluation predicts class 0 for every
    image (training is untouched); returns the student's weights after each epoch run."""
    weights: list[dict[str, Tensor]] = []
    original = TrainingRun.run_epoch

    def run_epoch(run: TrainingRun) -> dict[str, Any]:
        last = run.next_epoch == run.config.epochs - 1
        hook = run.student.register_forward_hook(_zero_logits_in_eval) if last else None
        try:
            metrics = original(run)
        finally:
            if hook is not None:
                hook.remove()
        weights.append(copy.deepcopy(run.student.state_dict()))
        return metrics

    monkeypatch.setattr(TrainingRun, "run_epoch", run_epoch)
    return weights


def _equal(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def _check_best_validation_weights_cached(cache: TeacherCache, key: str, weights: list[dict[str, Tensor]]) -> None:
    metrics = cache.metadata(key)["metrics"]
    assert len(weights) == 3  # small_digits_config's teacher_recipe.epochs
    assert metrics["val_acc_final"] < metrics["val_acc_best"]
    assert metrics["best_epoch"] < len(weights) - 1
    stored = cache.load(key)
    assert _equal(stored, weights[metrics["best_epoch"]])
    assert not _equal(stored, weights[-1])


def test_fine_tune_teacher_caches_the_best_validation_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = _last_epoch_validates_at_chance(monkeypatch)
    cache = TeacherCache(tmp_path)
    key = fine_tune_teacher(small_digits_config(), 0, cache)
    _check_best_validation_weights_cached(cache, key, weights)


def test_only_a_finished_run_with_best_validation_weights_is_cached(tmp_path: Path) -> None:
    config = small_digits_config("teacher_recipe.epochs=1")
    cache = TeacherCache(tmp_path)
    key, spec = teacher_key(config, 0), teacher_identity(config, 0)
    unkept = TrainingRun.create(finetune_config(config, 0), keep_best_weights=False)
    with pytest.raises(ValueError, match="only a finished run is cached"):
        store_teacher(unkept, cache, key, spec)
    train_teacher(unkept)
    with pytest.raises(RuntimeError, match="kept no best-validation weights"):  # never the final weights instead
        store_teacher(unkept, cache, key, spec)
    assert not cache.has(key)
