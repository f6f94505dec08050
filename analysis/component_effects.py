"""What each ablation component changed in one trial, from its epoch metrics (trials.parquet columns).

The ablation credits each rung with an accuracy difference; these columns say how much
the rung's component actually did in the trial, so that "no effect" can be told from
"nothing happened" (docs/results.md lists them):

- T-Adapt: how far the teachers moved (weight distance to their fine-tuned weights,
  KL of their validation outputs over each adapting phase) and their accuracy before
  the first adapting phase and after the last one.
- Partial freezing: parameter updates done and held back (parameters x optimiser
  steps), and per CCCP phase (A, B) the training time, the saved-activation estimate
  and the peak memory.
- CCCP: the joint objective on the fixed validation batch at the end of each stage,
  against its value at the end of the synergy warm-up: the mean decrease per stage and
  the share of stages that decreased it (CCCP's claim is that every stage does).
- The synergy's use of the student's query at the last epoch.

A column is null where the trial reported nothing it could be computed from (a metric
the loop did not report then, or a component the trial did not run: teachers that
never adapt have no drift KL; an E2E run has no stages).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

DRIFT_L2 = re.compile(r"^teacher(\d+)_drift_l2$")
DRIFT_KL = re.compile(r"^teacher(\d+)_drift_kl$")
ACC_BEFORE = re.compile(r"^teacher(\d+)_val_acc_before$")
ACC_AFTER = re.compile(r"^teacher(\d+)_val_acc_after$")
CCCP_PHASES = ("A", "B")
Epochs = Sequence[Mapping[str, Any]]


def component_effects(epochs: Epochs) -> dict[str, Any]:
    """The trial-level component columns for a trial's epochs (oldest first)."""
    return {
        **teacher_adaptation(epochs),
        **freezing_costs(epochs),
        **objective_per_stage(epochs),
        "query_kl_final": _last(epochs, "query_kl"),
        "attention_entropy_final": _last(epochs, "attention_entropy"),
    }


def teacher_adaptation(epochs: Epochs) -> dict[str, Any]:
    """teacher_drift_l2 (largest over teachers, last report), teacher_drift_kl (sum over adapting
    phases of the mean over teachers), teacher_val_acc_before/after (mean over teachers)."""
    l2_rows = [_matching(row, DRIFT_L2) for row in epochs]
    l2_rows = [values for values in l2_rows if values]
    kl_rows = [values for values in (_matching(row, DRIFT_KL) for row in epochs) if values]
    before = [values for values in (_matching(row, ACC_BEFORE) for row in epochs) if values]
    after = [values for values in (_matching(row, ACC_AFTER) for row in epochs) if values]
    return {
        "teacher_drift_l2": max(l2_rows[-1]) if l2_rows else None,
        "teacher_drift_kl": sum(_mean(values) for values in kl_rows) if kl_rows else None,
        "teacher_val_acc_before": _mean(before[0]) if before else None,
        "teacher_val_acc_after": _mean(after[-1]) if after else None,
    }


def freezing_costs(epochs: Epochs) -> dict[str, Any]:
    """trainable_param_steps, frozen_param_steps and, per CCCP phase, time, saved activations and peak memory."""
    out: dict[str, Any] = {
        "trainable_param_steps": _param_steps(epochs, "trainable_params"),
        "frozen_param_steps": _param_steps(epochs, "frozen_params"),
    }
    for phase in CCCP_PHASES:
        rows = [row for row in epochs if row.get("phase") == phase]
        prefix = f"{phase.lower()}_phase_"
        out[prefix + "time_s"] = float(sum(row.get("epoch_time_s", 0.0) for row in rows)) if rows else None
        out[prefix + "saved_activation_mb"] = _largest(rows, "saved_activation_mb")
        out[prefix + "peak_memory_mb"] = _largest(rows, "peak_memory_mb")
    return out


def stage_objectives(epochs: Epochs) -> list[tuple[int, float]]:
    """(stage, joint objective at the stage's last epoch) after the warm-up, with stage -1 for the warm-up's end."""
    ends: dict[int, float] = {}
    for row in epochs:
        value = row.get("joint_objective")
        if value is None:
            continue
        ends[-1 if row.get("phase") == "W" else int(row.get("stage", 0))] = float(value)
    return sorted(ends.items())


def objective_per_stage(epochs: Epochs) -> dict[str, Any]:
    """joint_objective_stage_decrease (mean) and joint_objective_monotone_fraction, for trials of two or more stages."""
    ends = stage_objectives(epochs)
    stages = [stage for stage, _ in ends if stage >= 0]
    if len(stages) < 2:
        return {"joint_objective_stage_decrease": None, "joint_objective_monotone_fraction": None}
    decreases = [previous - value for (_, previous), (_, value) in zip(ends, ends[1:])]
    return {
        "joint_objective_stage_decrease": sum(decreases) / len(decreases),
        "joint_objective_monotone_fraction": sum(d > 0 for d in decreases) / len(decreases),
    }


def _matching(row: Mapping[str, Any], pattern: re.Pattern[str]) -> list[float]:
    return [float(value) for name, value in row.items() if pattern.match(name) and value is not None]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _param_steps(epochs: Epochs, column: str) -> int | None:
    rows = [row for row in epochs if row.get(column) is not None]
    return sum(int(row[column]) * int(row.get("steps", 0)) for row in rows) if rows else None


def _largest(rows: Epochs, column: str) -> float | None:
    values = [float(row[column]) for row in rows if row.get(column) is not None]
    return max(values) if values else None


def _last(epochs: Epochs, column: str) -> float | None:
    values = [float(row[column]) for row in epochs if row.get(column) is not None]
    return values[-1] if values else None
