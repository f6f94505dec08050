"""A published teacher file is used as it is: measured, cached, distilled from, never trained.

The files are made in the published layout (tests/published_reference.py) for the
digits data set's 10 classes, so everything runs in seconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from published_reference import published_file, randomised, reference, teacher_file

from asib_sweeps.config import ConfigError, DataConfig, ModelSpec, apply_overrides
from asib_sweeps.data import load_data
from asib_sweeps.models.published import read_published_checkpoint
from asib_sweeps.published_teachers import TeacherAccuracyWarning, import_published_teacher
from asib_sweeps.teacher_cache import TeacherCache, finetune_config, teacher_identity, teacher_key
from asib_sweeps.training import TrainingRun
from conftest import small_digits_config


def published_config(checkpoint: Path, *overrides: str):
    return small_digits_config(
        f"teachers=[{{arch: resnet8, checkpoint: '{checkpoint}'}}]",
        "student.arch=resnet8",
        "method.name=kd",
        "epochs=1",
        "data.student_train_size=null",
        *overrides,
    )


def test_val_fraction_zero_keeps_all_of_train_and_measures_val_on_test() -> None:
    held_out = load_data(DataConfig(dataset="digits", val_fraction=0.1))
    whole = load_data(DataConfig(dataset="digits", val_fraction=0))
    assert len(whole.train) == len(held_out.train) + len(held_out.val)
    assert whole.val is whole.test


def test_a_published_teacher_is_measured_cached_and_distilled_from_as_it_is(tmp_path: Path) -> None:
    path = teacher_file(tmp_path, "resnet8", num_classes=10, accuracy=75.0)
    config = published_config(path)
    key, identity = teacher_key(config, 0), teacher_identity(config, 0)
    assert identity["checkpoint"] == str(path.resolve()) and "recipe" not in identity
    cache = TeacherCache(tmp_path / "cache")
    with pytest.warns(TeacherAccuracyWarning, match=r"75\.00 % recorded in the file"):
        metrics = import_published_teacher(finetune_config(config, 0), str(path), cache, key, identity)

    assert metrics["recorded_accuracy"] == pytest.approx(75.0)
    assert metrics["recorded_accuracy_gap"] == pytest.approx(100 * metrics["test_acc"] - 75.0)
    assert cache.metadata(key)["metrics"]["test_acc"] == metrics["test_acc"]
    cached = cache.load(key)
    published = read_published_checkpoint(path, "resnet8").state_dict
    assert all(torch.equal(cached[name], published[name]) for name in published)

    run = TrainingRun.create(config, teacher_states=[cached], device=torch.device("cpu"))
    first = run.run_epoch()
    # The distillation run sees the very teacher that was measured: same weights, same test split.
    assert first["teacher0_test_acc"] == pytest.approx(metrics["test_acc"])
    assert all(torch.equal(run.teachers[0].state_dict()[name], value) for name, value in cached.items())


def test_the_key_follows_the_file_bytes_and_the_data_not_the_recipe(tmp_path: Path) -> None:
    path = teacher_file(tmp_path, "resnet8", num_classes=10)
    key = teacher_key(published_config(path), 0)
    other_recipe = apply_overrides(published_config(path), ["teacher_recipe.epochs=7", "teachers.0.seed=3"])
    assert teacher_key(other_recipe, 0) == key
    assert teacher_key(published_config(path, "data.val_fraction=0"), 0) != key
    other = randomised(reference("resnet8", 10), seed=99).state_dict()
    published_file(path.parent, other, accuracy=torch.tensor(75.0))
    assert teacher_key(published_config(path), 0) != key


def test_a_checkpoint_is_not_a_start_for_fine_tuning(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint is a finished teacher"):
        ModelSpec(arch="resnet8", checkpoint="x.pth", pretrained_path="y.pt")


def test_a_missing_or_mismatched_file_is_a_config_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"teachers\.0\.checkpoint='.*nope\.pth' does not exist"):
        teacher_key(published_config(tmp_path / "nope.pth"), 0)
    wrong = teacher_file(tmp_path, "resnet8", num_classes=100)
    expected = r"teachers\.0\.checkpoint: .*'classifier\.weight' \(published 'fc\.weight'\) has shape \(100, 64\)"
    with pytest.raises(ConfigError, match=expected):
        teacher_key(published_config(wrong), 0)
    with pytest.raises(ConfigError, match=r"teachers\.0: checkpoint is a finished teacher"):
        apply_overrides(published_config(wrong), ["teachers.0.pretrained_path=w.pt"])
