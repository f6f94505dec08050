"""ASIB (the full rung) against the KD baselines on the same teachers, student and recipe (method.md section 5).

The arms are ASIB and every registered baseline, read from the method registry when
the trials are planned (`arms()`; `ARMS` is the same tuple, computed on first access),
so importing this module, as `asib-sweep --help` does, imports no method and no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asib_sweeps.presets import apply_preset
from search_spaces.study import Study, StudyOptions, Trial, grid_plan, seed_values, with_seed, with_settings

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig


def arms() -> tuple[str, ...]:
    """ASIB's full rung against every registered baseline, in registration order."""
    from asib_sweeps.config import METHOD_NAMES

    return ("asib", *(name for name in METHOD_NAMES if name != "asib"))


def __getattr__(name: str) -> object:  # `ARMS` as before, without importing the registry at import time
    if name == "ARMS":
        return arms()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def arm_config(base: RunConfig, arm: str) -> RunConfig:
    """`asib` is the full rung of the ladder; every other arm is the method of that name."""
    from asib_sweeps.config import build_config

    if arm == "asib":
        return apply_preset(base, "full")
    data = base.model_dump()
    data["method"]["name"] = arm
    return build_config(data)


def arm_configs(base: RunConfig, options: StudyOptions) -> dict[str, RunConfig]:
    """Each arm's config, with its settings from an experiment file's `arms:` (a tuning's choice) on top."""
    return {
        arm: with_settings(arm_config(base, arm), options.arm_settings.get(arm, {}), f"arms.{arm}") for arm in arms()
    }


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    configs = arm_configs(base, options)
    return [
        Trial(name=f"{arm}-s{seed}", labels={"arm": arm, "seed": seed}, config=with_seed(configs[arm], seed))
        for seed in seed_values(base, options.seeds)
        for arm in arms()
    ]


STUDY = Study(
    name="sota",
    # Static: naming the arms here would import the method registry (torch) for every --help.
    summary="asib (full) against every registered baseline method (ce, kd, ...; --dry-run lists them), x seeds",
    trainable="distill",
    options=("seeds", "margin"),
    trials=trials,
    tune_plan=grid_plan,
    arm_configs=arm_configs,
)
