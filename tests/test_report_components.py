"""The component analyses (teacher drift, freezing savings, objective per stage, query sensitivity) on
hand-made tables, and their report sections."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from analysis import cccp, components
from analysis.report.ablation_sections import ablation_sections
from analysis.report.blocks import FigureBlock, LeftOut, Sweep
from analysis.stats import MissingData

NAN = math.nan


def epochs_table() -> pd.DataFrame:
    """Two trials: tadapt (W, A, B, A, B: teachers adapt) and cccp (same plan, fixed teachers)."""
    plan = [("W", 0), ("A", 0), ("B", 0), ("A", 1), ("B", 1)]
    rows = []
    for trial_id, arm in (("t", "tadapt"), ("c", "cccp")):
        for epoch, (phase, stage) in enumerate(plan):
            adapting_end = arm == "tadapt" and phase == "A"
            last = epoch == len(plan) - 1
            rows.append(
                {
                    "trial_id": trial_id, "arm": arm, "seed": 0, "epoch": epoch, "phase": phase, "stage": stage,
                    "teacher0_drift_l2": (0.1 * (stage + 1) if adapting_end else 0.2 if last else NAN)
                    if arm == "tadapt" else (0.0 if last else NAN),
                    "teacher1_drift_l2": (0.3 * (stage + 1) if adapting_end else 0.6 if last else NAN)
                    if arm == "tadapt" else (0.0 if last else NAN),
                    "teacher0_drift_kl": 0.05 if adapting_end else NAN,
                    "teacher1_drift_kl": 0.15 if adapting_end else NAN,
                    "joint_objective": {"t": [5.0, 4.5, 4.0, 4.2, 3.5], "c": [5.0, 4.8, 4.6, 4.4, 4.7]}[trial_id][epoch],
                    "query_kl": 0.01 * epoch if arm == "tadapt" else 0.0,
                    "query_flips": 0.0,
                    "attention_entropy": math.log(2),
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def trials_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial_id": ["t", "c", "f", "x"],
            "arm": ["tadapt", "cccp", "full", "full"],
            "seed": [0, 0, 0, 1],
            "status": ["TERMINATED"] * 3 + ["ERROR"],
            "trainable_param_steps": [1000, 400, 700, 1],
            "frozen_param_steps": [0, 0, 300, 1],
            "a_phase_time_s": [2.0, 1.0, 1.5, 9.0],
            "a_phase_saved_activation_mb": [8.0, 1.0, 5.0, 9.0],
            "a_phase_peak_memory_mb": [NAN] * 4,
        }
    )


def test_teacher_drift_per_stage_takes_each_stage_last_report_and_averages_teachers() -> None:
    drift = components.teacher_drift(epochs_table())
    assert set(drift["trial_id"]) == {"t", "c"}
    by_stage = components.drift_by_stage(drift).set_index(["arm", "stage"])
    assert by_stage.loc[("tadapt", 0), "drift_l2"] == pytest.approx(0.2)  # (0.1 + 0.3) / 2 at the A-phase's end
    assert by_stage.loc[("tadapt", 1), "drift_l2"] == pytest.approx(0.4)  # the run's last epoch: (0.2 + 0.6) / 2
    assert by_stage.loc[("tadapt", 0), "drift_kl"] == pytest.approx(0.1)
    assert by_stage.loc[("tadapt", 1), "drift_kl"] == pytest.approx(0.1)  # the A-phase's, not the last epoch's
    assert by_stage.loc[("cccp", 1), "drift_l2"] == 0.0 and math.isnan(by_stage.loc[("cccp", 1), "drift_kl"])
    with pytest.raises(MissingData, match="no teacher<k>_drift_l2"):
        components.teacher_drift(epochs_table().drop(columns=["teacher0_drift_l2", "teacher1_drift_l2"]))


def test_freezing_savings_average_finished_trials_and_skip_empty_columns() -> None:
    savings = components.freezing_savings(trials_table()).set_index("arm")
    assert savings.loc["full", "n"] == 1  # the ERROR trial is left out
    assert savings.loc["full", "frozen_param_steps"] == 300 and savings.loc["tadapt", "frozen_param_steps"] == 0
    assert "a_phase_peak_memory_mb" not in savings.columns
    with pytest.raises(MissingData, match="frozen_param_steps"):
        components.freezing_savings(trials_table().drop(columns="frozen_param_steps"))


def test_objective_per_stage_scores_each_stage_end_against_the_previous() -> None:
    stages = cccp.objective_stages(epochs_table())
    tadapt = stages[stages["trial_id"] == "t"]
    assert tadapt["stage"].tolist() == [-1, 0, 1]
    assert tadapt["objective"].tolist() == [5.0, 4.0, 3.5]
    assert tadapt["decrease"].tolist()[1:] == pytest.approx([1.0, 0.5])
    summary = cccp.objective_summary(stages).set_index("arm")
    assert summary.loc["tadapt", "monotone_fraction"] == 1.0
    assert summary.loc["cccp", "monotone_fraction"] == 0.5  # 5.0 -> 4.6 down, 4.6 -> 4.7 up
    assert summary.loc["cccp", "mean_decrease"] == pytest.approx(((5.0 - 4.6) + (4.6 - 4.7)) / 2)


def test_objective_per_stage_leaves_out_one_stage_runs() -> None:
    e2e = pd.DataFrame(
        {"trial_id": "e", "arm": "ib", "seed": 0, "epoch": [0, 1, 2], "phase": ["W", "joint", "joint"],
         "stage": 0, "joint_objective": [3.0, 2.0, 1.0]}
    )  # fmt: skip
    with pytest.raises(MissingData, match="two or more stages"):
        cccp.objective_stages(e2e)


def test_query_sensitivity_is_the_mean_per_arm_and_epoch() -> None:
    table = components.query_sensitivity(epochs_table()).set_index(["arm", "epoch"])
    assert table.loc[("tadapt", 3), "query_kl"] == pytest.approx(0.03)
    assert table.loc[("cccp", 3), "query_kl"] == 0.0
    assert table.loc[("cccp", 0), "attention_entropy"] == pytest.approx(math.log(2))


def test_the_ablation_page_draws_the_component_figures_or_says_why_not() -> None:
    epochs = epochs_table().assign(val_acc=0.5)
    trials = trials_table().iloc[:2].assign(
        study="ablation", test_acc_best_val=0.8, test_acc_final=0.8, val_acc_best=0.8, wall_time_s=1.0,
        teacher_keys=[["a"], ["a"]], beta=1e-3, error=None,
    )  # fmt: skip
    sweep = Sweep("ablation", Path("."), trials, epochs)
    figures = {b.id: b for s in ablation_sections(sweep) for b in s.blocks if isinstance(b, FigureBlock)}
    for name in ("drift", "freezing-savings", "objective", "query"):
        figure = figures[f"fig-ablation-{name}"].figure
        assert any(len(trace.y) > 0 for trace in figure.data), name
    old_tables = ["frozen_param_steps", "a_phase_time_s", "a_phase_saved_activation_mb", "a_phase_peak_memory_mb"]
    without = ["teacher0_drift_l2", "teacher1_drift_l2", "joint_objective", "query_kl"]
    bare = Sweep("ablation", Path("."), trials.drop(columns=old_tables), epochs.drop(columns=without))
    left_out = {b.what: b.reason for s in ablation_sections(bare) for b in s.blocks if isinstance(b, LeftOut)}
    assert "no teacher<k>_drift_l2" in left_out["teacher drift"]
    assert "frozen_param_steps" in left_out["freezing savings"]
    assert "joint_objective" in left_out["objective per stage"]
    assert "query_kl" in left_out["query sensitivity"]
