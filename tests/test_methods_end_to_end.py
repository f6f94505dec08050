"""Every method and every ladder rung trains on digits end to end and resumes exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asib_sweeps.config import METHOD_NAMES
from asib_sweeps.presets import RUNGS, apply_preset
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.training import NonFiniteLossError, TrainingRun, load_checkpoint, save_checkpoint
from conftest import comparable, small_digits_config, teacher_states


def _create(config, cache: TeacherCache) -> TrainingRun:
    return TrainingRun.create(config, teacher_states=teacher_states(config, cache) if config.method.name != "ce" else ())


def _check_exact_resume(config, cache: TeacherCache, tmp_path: Path, stop_after: int) -> list[dict]:
    uninterrupted = _create(config, cache)
    while not uninterrupted.finished:
        uninterrupted.run_epoch()

    first = _create(config, cache)
    for _ in range(stop_after):
        first.run_epoch()
    save_checkpoint(first.state_dict(), tmp_path / "ckpt.pt")
    torch.manual_seed(999)
    resumed = _create(config, cache)
    resumed.load_state_dict(load_checkpoint(tmp_path / "ckpt.pt"))
    while not resumed.finished:
        resumed.run_epoch()
    assert comparable(resumed.history) == comparable(uninterrupted.history)
    for name, tensor in uninterrupted.student.state_dict().items():
        assert torch.equal(tensor, resumed.student.state_dict()[name]), name
    return uninterrupted.history


@pytest.mark.parametrize("method", [m for m in METHOD_NAMES if m != "asib"])
def test_baseline_trains_and_resumes_exactly(method: str, teacher_cache: TeacherCache, tmp_path: Path) -> None:
    config = small_digits_config(f"method.name={method}", "epochs=2")
    history = _check_exact_resume(config, teacher_cache, tmp_path, stop_after=1)
    assert [row["phase"] for row in history] == ["joint", "joint"]
    assert any(key.startswith("loss_") for key in history[0])


@pytest.mark.parametrize("method", [m for m in METHOD_NAMES if m != "asib"])
def test_training_moves_the_student(method: str, teacher_cache: TeacherCache) -> None:
    config = small_digits_config(f"method.name={method}", "epochs=1")
    run = _create(config, teacher_cache)
    before = {name: tensor.clone() for name, tensor in run.student.state_dict().items()}
    run.run_epoch()
    changed = [name for name, tensor in run.student.state_dict().items() if not torch.equal(tensor, before[name])]
    weights = [name for name in before if name.endswith("weight")]
    assert set(weights) <= set(changed), f"untrained student weights: {sorted(set(weights) - set(changed))}"


@pytest.mark.parametrize("rung", RUNGS)
def test_ladder_rung_trains_and_resumes_exactly(rung: str, teacher_cache: TeacherCache, tmp_path: Path) -> None:
    config = apply_preset(small_digits_config("epochs=2", "method.asib.stages=2"), rung)
    # Stop inside the run: after the first epoch (for CCCP rungs, stage 0's A-phase).
    history = _check_exact_resume(config, teacher_cache, tmp_path, stop_after=1)
    if config.method.name == "asib":
        for key in ("i_zy", "synergy_acc", "test_synergy_acc", "beta"):
            assert key in history[-1], key
        # I(X;Z) is only a bound when z is sampled; the E2E baseline rung has no bottleneck.
        assert ("i_xz" in history[-1]) == config.method.asib.use_ib


def test_tadapt_measures_teachers_before_and_after_each_a_phase(teacher_cache: TeacherCache) -> None:
    config = apply_preset(
        small_digits_config(
            "epochs=2", "method.asib.stages=2", "method.asib.a_phase_budget=minimum", "method.asib.a_epochs=2",
            "method.asib.a_min_steps=0",
        ),
        "full",
    )
    run = _create(config, teacher_cache)
    while not run.finished:
        run.run_epoch()
    a_epochs = [row for row in run.history if row["phase"] == "A"]
    assert [row["stage"] for row in a_epochs] == [0, 0, 1, 1]
    # "before" on each phase's first A-epoch, "after" on its last: per phase, not per epoch.
    assert ["teacher0_val_acc_before" in row for row in a_epochs] == [True, False, True, False]
    assert ["teacher1_test_acc_after" in row for row in a_epochs] == [False, True, False, True]
    for row in (a_epochs[1], a_epochs[3]):
        assert row["teacher0_val_acc_after"] == row["teacher0_val_acc"]
    assert not any("teacher0_val_acc_before" in row for row in run.history if row["phase"] != "A")
    assert [row["teacher_freeze_level"] for row in a_epochs] == [3, 3, 2, 2]


def test_every_rung_trains_the_student_for_the_same_epochs_and_reports_the_rest(teacher_cache: TeacherCache) -> None:
    from analysis.tables import phase_budget

    budgets = {}
    for rung in RUNGS:
        config = apply_preset(small_digits_config("method.asib.synergy_warmup_steps=8"), rung)
        run = _create(config, teacher_cache)
        while not run.finished:
            run.run_epoch()
        budgets[rung] = phase_budget(run.history)
        steps_per_epoch = -(-config.data.student_train_size // config.data.batch_size)
        assert budgets[rung]["student_steps"] == config.epochs * steps_per_epoch, rung
    assert {b["student_epochs"] for b in budgets.values()} == {4}
    # Warm-up: 8 steps = 2 epochs of 200 labels in batches of 64 (4 steps each); CCCP adds its A-phases.
    assert budgets["baseline"]["synergy_only_epochs"] == budgets["ib"]["synergy_only_epochs"] == 2
    assert budgets["cccp"]["synergy_only_steps"] == budgets["full"]["synergy_only_steps"] > 8
    assert all(b["synergy_only_time_s"] > 0 for b in budgets.values())


def test_non_finite_loss_stops_the_run_naming_term_and_epoch(teacher_cache: TeacherCache) -> None:
    config = small_digits_config("method.name=kd", "epochs=2")
    run = _create(config, teacher_cache)
    real_forward = run.method.forward

    def poisoned(step):
        terms = real_forward(step)
        terms["kd"] = terms["kd"] * float("nan")
        return terms

    run.method.forward = poisoned
    with pytest.raises(NonFiniteLossError, match=r"epoch 0.*kd=nan"):
        run.run_epoch()
    assert run.history == [], "the failing epoch must not be recorded"
