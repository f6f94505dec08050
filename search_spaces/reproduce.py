"""The published CIFAR-100 protocol, one teacher -> student pair: ce, kd, crd and dkd x seeds.

The config file holds the protocol (configs/cifar100/reproduce-*.yaml: the published
teacher file as it is, all 50k training images, fp32, the 240-epoch step recipe and
the pair's DKD beta); this study only adds the methods whose numbers were published
(analysis/reproduction.py keeps those numbers) and the seeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from search_spaces.study import Study, StudyOptions, Trial, grid_plan, seed_values, with_seed

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig

ARMS: tuple[str, ...] = ("ce", "kd", "crd", "dkd")
"""The student alone and the three methods of the published tables, in their order."""


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    from asib_sweeps.config import ConfigError, build_config

    if len(base.teachers) != 1:
        archs = [teacher.arch for teacher in base.teachers]
        raise ConfigError(f"the published protocol distils from one teacher; got {len(archs)}: teachers={archs}")
    method = base.method.model_dump()
    arm_configs = {arm: build_config({**base.model_dump(), "method": {**method, "name": arm}}) for arm in ARMS}
    return [
        Trial(name=f"{arm}-s{seed}", labels={"arm": arm, "seed": seed}, config=with_seed(arm_configs[arm], seed))
        for seed in seed_values(base, options.seeds)
        for arm in ARMS
    ]


STUDY = Study(
    name="reproduce",
    summary="the published CIFAR-100 protocol on one teacher -> student pair: ce, kd, crd, dkd x seeds",
    trainable="distill",
    options=("seeds",),
    trials=trials,
    tune_plan=grid_plan,
)
