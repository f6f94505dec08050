"""ASIB (the full rung) against the KD baselines on the same teachers, student and recipe (method.md section 5)."""

from __future__ import annotations

from asib_sweeps.config import METHOD_NAMES, RunConfig, build_config
from asib_sweeps.presets import apply_preset
from search_spaces.study import Study, StudyOptions, Trial, grid_plan, seed_values, with_seed

ARMS: tuple[str, ...] = ("asib", *(name for name in METHOD_NAMES if name != "asib"))
"""ASIB's full rung against every registered baseline, in registration order."""


def arm_config(base: RunConfig, arm: str) -> RunConfig:
    """`asib` is the full rung of the ladder; every other arm is the method of that name."""
    if arm == "asib":
        return apply_preset(base, "full")
    data = base.model_dump()
    data["method"]["name"] = arm
    return build_config(data)


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    return [
        Trial(name=f"{arm}-s{seed}", labels={"arm": arm, "seed": seed}, config=with_seed(arm_config(base, arm), seed))
        for seed in seed_values(base, options.seeds)
        for arm in ARMS
    ]


STUDY = Study(
    name="sota",
    summary=f"asib (full) against {', '.join(ARMS[1:-1])} and {ARMS[-1]}, x seeds",
    trainable="distill",
    options=("seeds",),
    trials=trials,
    tune_plan=grid_plan,
)
