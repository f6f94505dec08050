"""E2E and CCCP give the synergy the same optimiser steps at the same learning rates (docs/method.md, change 11),
so the cccp rung differs from ib in the alternation alone. Counted on real tiny runs, step by step."""

from __future__ import annotations

from typing import Any

from asib_sweeps.presets import apply_preset
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.training import TrainingRun
from conftest import small_digits_config, teacher_states


def synergy_steps(arm: str, teacher_cache: TeacherCache, *overrides: str) -> list[float]:
    """The learning rate of every step the synergy's optimiser took in a whole run."""
    config = apply_preset(small_digits_config("optim.schedule=cosine", *overrides), arm)
    run = TrainingRun.create(config, teacher_states=teacher_states(config, teacher_cache))
    rates: list[float] = []

    def record(optimizer: Any, args: Any, kwargs: Any) -> None:
        rates.append(optimizer.param_groups[0]["lr"])

    run.optimizers["synergy"].register_step_post_hook(record)
    while not run.finished:
        run.run_epoch()
    return rates


def test_e2e_and_cccp_step_the_synergy_equally_often_at_equal_rates(teacher_cache: TeacherCache) -> None:
    e2e, cccp = synergy_steps("ib", teacher_cache), synergy_steps("cccp", teacher_cache)
    assert len(e2e) == len(cccp) > 0
    assert e2e == cccp
    assert len(set(e2e)) > 2  # a real schedule (cosine), not a constant that would match trivially


def test_the_design_notes_a_phase_minimum_gives_cccp_fewer_synergy_steps(teacher_cache: TeacherCache) -> None:
    minimum = ("method.asib.a_phase_budget=minimum", "method.asib.a_min_steps=1")
    e2e, cccp = synergy_steps("ib", teacher_cache, *minimum), synergy_steps("cccp", teacher_cache, *minimum)
    assert len(cccp) < len(e2e)
