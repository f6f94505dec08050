"""Each component's readings change when the component is on and are zero or absent when it is off.

Real tiny digits runs (the conftest's teachers); the trial-level columns are computed
from the run's own history by the same function the results tables use.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from analysis.component_effects import component_effects, objective_per_stage, stage_objectives
from analysis.components import drift_by_stage, teacher_drift
from asib_sweeps.presets import apply_preset
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.training import TrainingRun, load_checkpoint, save_checkpoint
from asib_sweeps.training.component_metrics import SavedActivations, TeacherAnchors, output_drift_kl
from conftest import comparable, small_digits_config, teacher_states

LARGE_TEACHER_LR = "method.asib.teacher_lr=0.01"
"""1000x the default: the positive control that must move the teachers."""


@pytest.fixture(scope="module")
def histories(teacher_cache: TeacherCache) -> dict[str, list[dict]]:
    """A finished run's history per rung (tadapt and full with the large teacher LR)."""

    @cache
    def run(arm: str, *overrides: str) -> list[dict]:
        config = apply_preset(small_digits_config(*overrides), arm)
        training = TrainingRun.create(config, teacher_states=teacher_states(config, teacher_cache))
        while not training.finished:
            training.run_epoch()
        return training.history

    return {
        "baseline": run("baseline"),
        "ib": run("ib"),
        "cccp": run("cccp"),
        "tadapt": run("tadapt", LARGE_TEACHER_LR),
        "full": run("full", LARGE_TEACHER_LR),
        "tadapt_default_lr": run("tadapt"),
    }


def test_fixed_teachers_report_exactly_zero_drift_and_no_output_drift(histories: dict[str, list[dict]]) -> None:
    for arm in ("baseline", "ib", "cccp"):
        history = histories[arm]
        assert history[-1]["teacher0_drift_l2"] == 0.0 and history[-1]["teacher1_drift_l2"] == 0.0, arm
        assert not any(name.endswith("_drift_kl") for row in history for name in row), arm
        effects = component_effects(history)
        assert effects["teacher_drift_l2"] == 0.0 and effects["teacher_drift_kl"] is None, arm
        assert effects["teacher_val_acc_before"] is None and effects["teacher_val_acc_after"] is None, arm


def test_a_large_teacher_lr_moves_the_teachers_and_the_drift_shows_it(histories: dict[str, list[dict]]) -> None:
    """The positive control: T-Adapt at 1000x the default LR changes weights and validation outputs."""
    history = histories["tadapt"]
    phase_ends = [row for row in history if "teacher0_drift_kl" in row]
    assert len(phase_ends) == 2  # one per A-phase (two stages)
    assert all(row["teacher0_drift_l2"] > 0 and row["teacher1_drift_l2"] > 0 for row in phase_ends)
    assert phase_ends[1]["teacher0_drift_l2"] > phase_ends[0]["teacher0_drift_l2"]  # moving further, stage by stage
    effects = component_effects(history)
    assert effects["teacher_drift_l2"] > 0 and effects["teacher_drift_kl"] > 1e-4
    assert 0 <= effects["teacher_val_acc_after"] <= 1 and 0 <= effects["teacher_val_acc_before"] <= 1
    # The default LR moves them far less: the drift column tells the two apart.
    default = component_effects(histories["tadapt_default_lr"])
    assert 0 < default["teacher_drift_l2"] < effects["teacher_drift_l2"] / 10


def test_the_drift_figure_shows_the_moved_teachers_and_flat_zero_for_fixed_ones(histories: dict[str, list[dict]]) -> None:
    """The report's drift analysis (analysis.components) over the real runs' epoch rows."""
    rows = [
        {**row, "trial_id": arm, "arm": arm, "seed": 0}
        for arm in ("cccp", "tadapt")
        for row in histories[arm]
    ]
    by_stage = drift_by_stage(teacher_drift(pd.DataFrame(rows))).set_index(["arm", "stage"])
    assert (by_stage.loc["tadapt", "drift_l2"] > 0).all() and (by_stage.loc["tadapt", "drift_kl"] > 0).all()
    assert list(by_stage.loc["tadapt"].index) == [0, 1]
    assert (by_stage.loc["cccp", "drift_l2"] == 0).all()


def test_partial_freezing_holds_back_updates_and_saved_activations(histories: dict[str, list[dict]]) -> None:
    tadapt, full = component_effects(histories["tadapt"]), component_effects(histories["full"])
    assert tadapt["frozen_param_steps"] == 0 and full["frozen_param_steps"] > 0
    assert full["trainable_param_steps"] < tadapt["trainable_param_steps"]
    # Stage 0 of `full` freezes the teachers' first blocks: its A-phase saves fewer activations.
    first_a = {arm: next(r for r in histories[arm] if r["phase"] == "A") for arm in ("tadapt", "full")}
    assert first_a["full"]["saved_activation_mb"] < first_a["tadapt"]["saved_activation_mb"]
    assert first_a["full"]["frozen_params"] > 0 and first_a["tadapt"]["frozen_params"] == 0
    assert tadapt["a_phase_time_s"] > 0 and tadapt["b_phase_time_s"] > 0
    assert component_effects(histories["ib"])["a_phase_time_s"] is None  # E2E has no A-phase


def test_joint_objective_is_reported_every_epoch_and_scored_per_stage_under_cccp(
    histories: dict[str, list[dict]],
) -> None:
    for arm in ("ib", "cccp"):
        assert all(math.isfinite(row["joint_objective"]) for row in histories[arm]), arm
    cccp = component_effects(histories["cccp"])
    assert 0 <= cccp["joint_objective_monotone_fraction"] <= 1
    assert [stage for stage, _ in stage_objectives(histories["cccp"])] == [-1, 0, 1]
    assert component_effects(histories["ib"])["joint_objective_monotone_fraction"] is None  # one stage


def test_query_sensitivity_and_the_sampled_information_plane_are_reported(histories: dict[str, list[dict]]) -> None:
    for arm in ("baseline", "cccp"):
        for row in histories[arm]:
            assert row["query_kl"] >= 0 and 0 <= row["query_flips"] <= 1
            assert 0 <= row["attention_entropy"] <= math.log(2) + 1e-6
    assert all("i_zy_z" in row and "i_xz" in row for row in histories["cccp"])
    assert not any("i_zy_z" in row for row in histories["baseline"])  # no bottleneck, no sampled z


def test_a_run_resumed_inside_an_adapting_phase_reports_the_same_readings(
    teacher_cache: TeacherCache, tmp_path: Path
) -> None:
    """epochs 4, stages 2: W, A, A, B, B, ...; stopping after epoch 1 stops inside stage 0's A-phase."""
    config = apply_preset(small_digits_config(LARGE_TEACHER_LR), "tadapt")
    states = teacher_states(config, teacher_cache)
    uninterrupted = TrainingRun.create(config, teacher_states=states)
    while not uninterrupted.finished:
        uninterrupted.run_epoch()
    first = TrainingRun.create(config, teacher_states=states)
    for _ in range(2):
        first.run_epoch()
    assert [row["phase"] for row in first.history] == ["W", "A"] and uninterrupted.plan[2].phase == "A"
    save_checkpoint(first.state_dict(), tmp_path / "ckpt.pt")
    resumed = TrainingRun.create(config, teacher_states=states)
    resumed.load_state_dict(load_checkpoint(tmp_path / "ckpt.pt"))
    while not resumed.finished:
        resumed.run_epoch()
    assert comparable(resumed.history) == comparable(uninterrupted.history)
    assert "teacher0_drift_kl" in resumed.history[2]


# ------------------------------------------------------------------ the parts, by hand


def test_teacher_anchors_measure_the_l2_distance() -> None:
    model = nn.Linear(3, 2)
    anchors = TeacherAnchors([model])
    assert anchors.distances([model]) == [0.0]
    with torch.no_grad():
        model.weight[0, 0] += 3.0
        model.bias[1] -= 4.0
    assert anchors.distances([model]) == pytest.approx([5.0])


def test_output_drift_kl_is_zero_for_equal_outputs_and_ignores_masked_classes() -> None:
    logits = torch.tensor([[2.0, 0.0, -1e9], [0.0, 1.0, -1e9]])
    assert output_drift_kl(logits, logits) == 0.0
    moved = torch.tensor([[0.0, 0.0, -1e9], [0.0, 1.0, -1e9]])
    p = torch.softmax(torch.tensor([2.0, 0.0]), 0)
    expected = float((p * (p.log() - math.log(0.5))).sum()) / 2
    assert output_drift_kl(logits, moved) == pytest.approx(expected)


def test_saved_activations_count_each_storage_once_and_skip_parameters() -> None:
    layer = nn.Linear(8, 8, bias=False)
    inputs = torch.randn(4, 8)
    counter = SavedActivations([layer])
    with counter.counting():
        hidden = torch.tanh(layer(inputs))  # saves the input (Linear) and tanh's output
        (hidden * hidden).sum()  # saves hidden (twice: one storage)
    assert counter.bytes == 2 * 4 * 8 * 4
    frozen = SavedActivations([layer])
    with frozen.counting(), torch.no_grad():
        torch.tanh(layer(inputs))
    assert frozen.bytes == 0


def test_component_effects_on_hand_made_epochs() -> None:
    epochs = [
        {"phase": "W", "stage": 0, "steps": 2, "trainable_params": 10, "frozen_params": 0, "joint_objective": 5.0},
        {"phase": "A", "stage": 0, "steps": 2, "trainable_params": 30, "frozen_params": 20, "epoch_time_s": 1.0,
         "saved_activation_mb": 3.0, "teacher0_val_acc_before": 0.9, "teacher1_val_acc_before": 0.8,
         "teacher0_val_acc_after": 0.8, "teacher1_val_acc_after": 0.8, "teacher0_drift_l2": 0.1,
         "teacher1_drift_l2": 0.3, "teacher0_drift_kl": 0.2, "teacher1_drift_kl": 0.4, "joint_objective": 4.0},
        {"phase": "B", "stage": 0, "steps": 4, "trainable_params": 5, "frozen_params": 0, "epoch_time_s": 2.0,
         "saved_activation_mb": 1.0, "joint_objective": 3.0, "query_kl": 0.5},
        {"phase": "A", "stage": 1, "steps": 2, "trainable_params": 40, "frozen_params": 10, "epoch_time_s": 1.5,
         "saved_activation_mb": 4.0, "teacher0_val_acc_before": 0.8, "teacher0_val_acc_after": 0.7,
         "teacher1_val_acc_before": 0.8, "teacher1_val_acc_after": 0.6, "teacher0_drift_l2": 0.5,
         "teacher1_drift_l2": 0.2, "teacher0_drift_kl": 0.0, "teacher1_drift_kl": 0.2, "joint_objective": 3.5},
        {"phase": "B", "stage": 1, "steps": 4, "trainable_params": 5, "frozen_params": 0, "epoch_time_s": 2.5,
         "saved_activation_mb": 1.0, "joint_objective": 3.2, "query_kl": 0.25, "attention_entropy": 0.6},
    ]  # fmt: skip
    effects = component_effects(epochs)
    assert effects["teacher_drift_l2"] == 0.5  # the largest at the last report
    assert effects["teacher_drift_kl"] == pytest.approx(0.3 + 0.1)
    assert effects["teacher_val_acc_before"] == pytest.approx(0.85)
    assert effects["teacher_val_acc_after"] == pytest.approx(0.65)
    assert effects["trainable_param_steps"] == 20 + 60 + 20 + 80 + 20
    assert effects["frozen_param_steps"] == 40 + 20
    assert effects["a_phase_time_s"] == 2.5 and effects["b_phase_time_s"] == 4.5
    assert effects["a_phase_saved_activation_mb"] == 4.0 and effects["b_phase_peak_memory_mb"] is None
    # Stage ends: warm-up 5.0, stage 0 3.0, stage 1 3.2 -> decreases 2.0 and -0.2.
    assert objective_per_stage(epochs) == {
        "joint_objective_stage_decrease": pytest.approx(0.9),
        "joint_objective_monotone_fraction": 0.5,
    }
    assert effects["query_kl_final"] == 0.25 and effects["attention_entropy_final"] == 0.6
    assert component_effects([])["teacher_drift_l2"] is None
