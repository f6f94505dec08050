"""Class overlap between the teachers (method.md section 6): asib and the multi-teacher KD baselines, x seeds.

The baselines are the ones that combine several teachers: avg_kd (AVER, the plain
average) and the per-sample or per-batch weighted ca_mkd, ebkd and ae_kd, which can
give a teacher that never saw a sample's class less weight than the average does.

At overlap p, a seeded permutation of the C classes is cut into a shared head of
round(pC/100) classes (rounded half up) and a rest split as evenly as possible among
the teachers (the first teachers get the extra class of an odd rest). Each teacher is
fine-tuned on the shared classes plus its own part (ModelSpec.classes); the student
learns all classes. The permutation is seeded by `data.split_seed`, not the trial
seed, so the teachers of an overlap are shared by all student seeds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from asib_sweeps.presets import apply_preset
from search_spaces.study import Study, StudyOptions, Trial, grid_plan, seed_values, with_seed, with_settings

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig, RunConfig

ARMS: tuple[str, ...] = ("asib", "avg_kd", "ca_mkd", "ebkd", "ae_kd")


def label_space(data: DataConfig) -> list[int]:
    """The classes the run uses: `data.classes` if set, else every class of the source."""
    from asib_sweeps.data import source_class_count

    if data.classes is not None:
        return sorted(data.classes)
    return list(range(source_class_count(data)))


def split_classes(classes: list[int], percent: int, teachers: int, seed: int) -> list[list[int]]:
    """Each teacher's class subset (sorted) at `percent` % overlap."""
    import numpy as np

    from asib_sweeps.config import ConfigError

    if not 0 <= percent <= 100:
        raise ConfigError(f"overlap must be in 0..100 %, got overlap={percent}")
    order = np.random.default_rng(seed).permutation(np.asarray(classes))
    shared_count = math.floor(percent * len(classes) / 100 + 0.5)
    shared, rest = order[:shared_count], order[shared_count:]
    return [sorted(int(c) for c in np.concatenate([shared, part])) for part in np.array_split(rest, teachers)]


def overlap_config(base: RunConfig, percent: int) -> RunConfig:
    """`base` with each teacher restricted to its subset; a subset that is every class stays None
    (so the 100 % teachers are the very teachers of the other studies, and hit the cache)."""
    from asib_sweeps.config import ConfigError, build_config

    if len(base.teachers) < 2:
        raise ConfigError(f"the overlap study needs at least 2 teachers; got {len(base.teachers)}")
    classes = label_space(base.data)
    subsets = split_classes(classes, percent, len(base.teachers), base.data.split_seed)
    data = base.model_dump()
    for spec, subset in zip(data["teachers"], subsets):
        spec["classes"] = None if subset == classes and base.data.classes is None else subset
    return build_config(data)


def arm_config(at_overlap: RunConfig, arm: str) -> RunConfig:
    """`asib` is the full rung of the ladder; every other arm is the method of that name."""
    from asib_sweeps.config import build_config

    if arm == "asib":
        return apply_preset(at_overlap, "full")
    data = at_overlap.model_dump()
    data["method"]["name"] = arm
    return build_config(data)


def arms_at(base: RunConfig, options: StudyOptions, percent: int) -> dict[str, RunConfig]:
    """Each arm's config at `percent` % overlap, with its settings from an experiment file's `arms:` on top."""
    at_overlap = overlap_config(base, percent)
    return {
        arm: with_settings(arm_config(at_overlap, arm), options.arm_settings.get(arm, {}), f"arms.{arm}")
        for arm in ARMS
    }


def arm_configs(base: RunConfig, options: StudyOptions) -> dict[str, RunConfig]:
    """The arms at the first of `options.overlaps`: where `asib-sweep tune overlap` chooses their settings
    (`--overlaps 0` tunes them with complementary teachers). A report run applies one `arms:` setting
    per arm at every overlap it runs."""
    return arms_at(base, options, options.overlaps[0])


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    out = []
    for percent in options.overlaps:
        arms = arms_at(base, options, percent)
        for seed in seed_values(base, options.seeds):
            for arm in ARMS:
                out.append(
                    Trial(
                        name=f"p{percent}-{arm}-s{seed}",
                        labels={"overlap": percent, "arm": arm, "seed": seed},
                        config=with_seed(arms[arm], seed),
                    )
                )
    return out


STUDY = Study(
    name="overlap",
    summary="asib, avg_kd, ca_mkd, ebkd and ae_kd with teachers sharing 0, 25, 50, 75 or 100 % of the classes, x seeds",
    trainable="distill",
    options=("seeds", "overlaps", "margin"),
    trials=trials,
    tune_plan=grid_plan,
    arm_configs=arm_configs,
)
