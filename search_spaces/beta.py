"""Sensitivity to the bottleneck weight (method.md section 6): beta log-uniform on the full rung.

Optuna's TPE proposes `--samples` values of method.asib.beta in [1e-5, 1e-1], seeded by
the run's seed; with `--asha`, ASHA stops trials whose val_acc lags at its rungs. The
metric and mode are given once, to TuneConfig (Ray refuses them twice). With several
trials at once Optuna's choices depend on which trials finish first, so the seed makes
the proposals reproducible only when trials run one at a time (--max-concurrent 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from asib_sweeps.presets import apply_preset
from search_spaces.study import Sampled, Study, StudyOptions, Trial, TunePlan, trial_params, with_seed

if TYPE_CHECKING:  # Ray, Optuna and the data code (torch) only where a plan is made, not for --help
    from ray.tune.schedulers import ASHAScheduler

    from asib_sweeps.config import RunConfig

ARM = "full"
BETA_RANGE: tuple[float, float] = (1e-5, 1e-1)
METRIC, MODE = "val_acc", "max"
ASHA_REDUCTION_FACTOR = 2
ASHA_GRACE_FRACTION = 0.25
"""A trial runs at least this share of its epochs before ASHA may stop it."""


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    """The `samples` trials, with beta still to be chosen (config holds the base beta until then)."""
    config = with_seed(apply_preset(base, ARM), base.seed)  # its split and teachers, as every study's seed
    beta = Sampled(f"loguniform({BETA_RANGE[0]:g}, {BETA_RANGE[1]:g}) by Optuna TPE")
    return [
        Trial(name=f"beta-{index}", labels={"arm": ARM, "seed": config.seed, "beta": beta}, config=config)
        for index in range(options.samples)
    ]


def tune_plan(trials: list[Trial], options: StudyOptions, constants: Mapping[str, Any]) -> TunePlan:
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    template = trials[0]
    params = trial_params(template, constants)
    del params["beta"]  # the sampled value lives in the config, where the run reads it
    params["config"]["method"]["asib"]["beta"] = tune.loguniform(*BETA_RANGE)
    return TunePlan(
        param_space=params,
        num_samples=len(trials),
        search_alg=OptunaSearch(seed=template.config.seed),
        scheduler=asha(template.config) if options.asha else None,
        metric=METRIC,
        mode=MODE,
    )


def planned_epochs(config: RunConfig) -> int:
    """The run's epochs, warm-up and A-phases included, without building ASIB: the plan needs only
    the steps per epoch, i.e. the size of the student's split (loaded only when no subset size is set)."""
    from asib_sweeps.data import load_data
    from asib_sweeps.methods.asib_plan import asib_plan

    size = config.data.student_train_size
    if size is None:
        size = len(load_data(config.data).train)
    steps_per_epoch = math.ceil(size / config.data.batch_size)
    plan = asib_plan(
        config.method.asib, config.epochs, steps_per_epoch=steps_per_epoch, student_pretrained=config.student.starts_pretrained
    )
    return len(plan)


def asha(config: RunConfig) -> ASHAScheduler:
    """ASHA over the run's epochs (CCCP's A-phases included), one report per epoch."""
    from ray.tune.schedulers import ASHAScheduler

    total_epochs = planned_epochs(config)
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=total_epochs,
        grace_period=max(1, round(total_epochs * ASHA_GRACE_FRACTION)),
        reduction_factor=ASHA_REDUCTION_FACTOR,
    )


STUDY = Study(
    name="beta",
    summary="beta of the full rung, log-uniform in [1e-5, 1e-1], proposed by Optuna (optionally ASHA)",
    trainable="distill",
    options=("samples", "asha"),
    trials=trials,
    tune_plan=tune_plan,
)
