"""ASIB's epoch plan: the synergy warm-up, then joint epochs (E2E) or CCCP's A/B stages.

A pure function of the settings and the steps per epoch, so a study can plan a run's
epochs (ASHA's budget) without building the method or loading data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from asib_sweeps.freezing import progressive_level
from asib_sweeps.methods.base import EpochPlan, Phase

if TYPE_CHECKING:
    from asib_sweeps.catalog.asib_settings import ASIBSettings

SYNERGY_PHASES: frozenset[Phase] = frozenset({"W", "A", "joint"})
"""The phases in which L_syn trains the synergy, and so the epochs in which beta acts."""


def epochs_for_steps(min_steps: int, steps_per_epoch: int) -> int:
    """Epochs over the student's split that give at least `min_steps` optimiser steps."""
    return math.ceil(min_steps / steps_per_epoch)


def asib_plan(settings: ASIBSettings, epochs: int, *, steps_per_epoch: int, student_pretrained: bool) -> list[EpochPlan]:
    """Warm-up W-epochs, then E2E: `epochs` joint epochs; CCCP: per stage an A-phase, then epochs // stages B-epochs.

    The student trains in exactly `epochs` epochs in every mode; W- and A-epochs come on top.
    With a_phase_budget `e2e` an A-phase also lasts epochs // stages epochs, so the synergy
    trains in warm-up + `epochs` epochs in both modes: the same optimiser steps, and the
    same per-epoch LR schedule (one schedule over the epochs a part trains, training/optim.py).
    """
    s = settings
    phases: list[tuple[int, Phase, int]] = [(0, "W", epochs_for_steps(s.synergy_warmup_steps, steps_per_epoch))]
    if not s.use_cccp:
        phases.append((0, "joint", epochs))
    else:
        b_count = s.b_epochs_per_stage(epochs)
        a_count = b_count if s.a_phase_budget == "e2e" else a_phase_minimum(s, steps_per_epoch)
        phases += [(stage, phase, count) for stage in range(s.stages) for phase, count in (("A", a_count), ("B", b_count))]
    plans: list[EpochPlan] = []
    synergy_epochs = 0
    for stage, phase, count in phases:
        for _ in range(count):
            synergy_epochs += phase in SYNERGY_PHASES
            plans.append(
                EpochPlan(
                    epoch=len(plans),
                    stage=stage,
                    phase=phase,
                    teacher_freeze_level=_freeze_level(s, stage) if s.use_cccp else -1,
                    student_freeze_level=_freeze_level(s, stage) if student_pretrained else -1,
                    frozen_bn_trains=s.pf_train_bn,
                    synergy_epoch=synergy_epochs if phase in SYNERGY_PHASES else 0,
                )
            )
    return plans


def a_phase_minimum(settings: ASIBSettings, steps_per_epoch: int) -> int:
    """a_phase_budget `minimum`: max(a_epochs, the epochs a_min_steps takes)."""
    return max(settings.a_epochs, epochs_for_steps(settings.a_min_steps, steps_per_epoch))


def _freeze_level(settings: ASIBSettings, stage: int) -> int:
    """Progressive partial freezing under use_pf (-1 freezes nothing)."""
    return progressive_level(stage, settings.pf_start_level) if settings.use_pf else -1
