"""Teacher fine-tuning: one trial per distinct teacher spec a study's trials need.

`teacher_trials` is the teacher stage of every sweep's plan (search_spaces.plan);
`asib-sweep finetune --for STUDY` is the target study's plan without its own trials. A
teacher trial's config is the CE run that trains the teacher (`finetune_config`), so its
params.json shows what was trained; `teacher_key` and `teacher_spec` say where it goes
in the cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from search_spaces.study import Study, StudyOptions, Trial, grid_plan, teacher_keys_used

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig


def teacher_trials(configs: Iterable[RunConfig]) -> list[Trial]:
    """The distinct teachers `configs` distil from, in first-seen order."""
    from asib_sweeps.teacher_cache import finetune_config, teacher_identity

    found: dict[str, Trial] = {}
    for config in configs:
        for index, key in enumerate(teacher_keys_used(config)):
            if key in found:
                continue
            spec = config.teachers[index]
            found[key] = Trial(
                name=key,
                labels={"arm": spec.arch, "seed": spec.seed, "teacher": key},
                config=finetune_config(config, index),
                extra={"teacher_key": key, "teacher_spec": teacher_identity(config, index)},
            )
    return list(found.values())


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    """The target study's trials: the plan fits the teachers they need and runs none of them."""
    from search_spaces import get_study  # the registry imports this module

    return get_study(options.target).trials(base, options)


STUDY = Study(
    name="finetune",
    summary="fine-tune (with CE) the teachers a study needs, into the teacher cache",
    trainable="finetune",
    options=("target", "overlaps", "seeds"),  # each seed of the target study has its own teachers (split_per_seed)
    trials=trials,
    tune_plan=grid_plan,
    runs_trials=False,
)
