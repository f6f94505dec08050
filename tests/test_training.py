"""The CE loop, checkpoints and exact resume, and the teacher cache."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from asib_sweeps.teacher_cache import TeacherCache, finetune_config, teacher_key
from asib_sweeps.teachers import fine_tune_teacher
from asib_sweeps.training import CheckpointError, TrainingRun, load_checkpoint, save_checkpoint
from conftest import comparable, small_digits_config


def _run_to_end(run: TrainingRun) -> list[dict]:
    while not run.finished:
        run.run_epoch()
    return run.history


def test_ce_run_reports_every_epoch_metric() -> None:
    run = TrainingRun.create(small_digits_config("method.name=ce", "epochs=2"))
    metrics = run.run_epoch()
    for key in ("epoch", "stage", "phase", "train_loss", "loss_ce", "train_acc", "val_acc", "test_acc",
                "trainable_params", "epoch_time_s", "peak_memory_mb", "lr"):
        assert key in metrics, key
    assert metrics["phase"] == "joint" and metrics["epoch"] == 0
    assert 0.0 <= metrics["val_acc"] <= 1.0
    assert metrics["trainable_params"] == sum(p.numel() for p in run.student.parameters())


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_resume_from_any_epoch_is_bit_identical(tmp_path: Path, stop_after: int) -> None:
    config = small_digits_config("method.name=ce")
    uninterrupted = _run_to_end(TrainingRun.create(config))

    first = TrainingRun.create(config)
    for _ in range(stop_after):
        first.run_epoch()
    save_checkpoint(first.state_dict(), tmp_path / "ckpt.pt")
    del first
    torch.manual_seed(12345)  # the resumed run must not depend on whatever ran in between
    resumed = TrainingRun.create(config)
    resumed.load_state_dict(load_checkpoint(tmp_path / "ckpt.pt"))
    assert resumed.next_epoch == stop_after
    assert comparable(_run_to_end(resumed)) == comparable(uninterrupted)


def test_summary_uses_the_best_validation_epoch() -> None:
    run = TrainingRun.create(small_digits_config("method.name=ce", "epochs=3"))
    history = _run_to_end(run)
    best = max(history, key=lambda row: (row["val_acc"], -row["epoch"]))
    summary = run.summary()
    assert summary["test_acc_best_val"] == best["test_acc"]
    assert summary["best_epoch"] == best["epoch"]
    assert summary["test_acc_final"] == history[-1]["test_acc"]


def test_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt.pt is corrupt"):
        load_checkpoint(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an asib-sweeps checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


class _Exploit:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_checkpoints_never_run_code(tmp_path: Path) -> None:
    path = tmp_path / "exploit.pt"
    with path.open("wb") as handle:
        pickle.dump({"format": "asib-sweeps/checkpoint-v1", "state": _Exploit()}, handle)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)


def test_teacher_key_follows_the_spec() -> None:
    config = small_digits_config()
    assert teacher_key(config, 0) == teacher_key(small_digits_config(), 0)
    assert teacher_key(config, 0) != teacher_key(config, 1)
    other_recipe = small_digits_config("teacher_recipe.optim.lr=0.1")
    assert teacher_key(other_recipe, 0) != teacher_key(config, 0)
    # What only concerns the student does not change the teacher.
    assert teacher_key(small_digits_config("optim.lr=0.2", "data.student_train_size=100"), 0) == teacher_key(config, 0)
    subset = small_digits_config("teachers.0.classes=[0, 1, 2]")
    assert teacher_key(subset, 0) != teacher_key(config, 0)
    assert finetune_config(subset, 0).data.classes == [0, 1, 2]


def test_teacher_is_trained_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = small_digits_config("teacher_recipe.epochs=1")
    cache = TeacherCache(tmp_path)
    key = fine_tune_teacher(config, 0, cache)
    assert cache.has(key)
    assert cache.metadata(key)["spec"]["arch"] == config.teachers[0].arch

    def refuse(*args, **kwargs):
        raise AssertionError("a cached teacher was trained again")

    monkeypatch.setattr(TrainingRun, "create", refuse)
    assert fine_tune_teacher(config, 0, cache) == key
    state = cache.load(key)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
