"""The ablation ladder (method.md section 4): five rungs and the ce / avg_kd references, x seeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asib_sweeps.presets import PRESETS, apply_preset
from search_spaces.study import Study, StudyOptions, Trial, grid_plan, seed_values, with_seed, with_settings

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig

ARMS: tuple[str, ...] = PRESETS
"""baseline, ib, cccp, tadapt, full (the ladder), then ce and avg_kd."""


def arm_configs(base: RunConfig, options: StudyOptions) -> dict[str, RunConfig]:
    """Each arm's preset, with its settings from an experiment file's `arms:` (a tuning's choice) on top."""
    return {
        arm: with_settings(apply_preset(base, arm), options.arm_settings.get(arm, {}), f"arms.{arm}")
        for arm in ARMS
    }


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    """Seed-major, so every arm has a finished seed early in the sweep."""
    configs = arm_configs(base, options)
    return [
        Trial(name=f"{arm}-s{seed}", labels={"arm": arm, "seed": seed}, config=with_seed(configs[arm], seed))
        for seed in seed_values(base, options.seeds)
        for arm in ARMS
    ]


STUDY = Study(
    name="ablation",
    summary="the ASIB ablation ladder (baseline, ib, cccp, tadapt, full) beside ce and avg_kd, x seeds",
    trainable="distill",
    options=("seeds", "margin"),
    trials=trials,
    tune_plan=grid_plan,
    arm_configs=arm_configs,
)
