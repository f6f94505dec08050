"""Sensitivity to the bottleneck weight (method.md section 6): beta log-uniform on the full rung.

Optuna's TPE proposes `--samples` values of method.asib.beta in [1e-5, 1e-1], seeded by
the run's seed. Each proposal runs on `--seeds` seeds (default 3: seed noise is 2-5 points
on digits, as large as beta's effect), as Ray Tune's `Repeater` runs a suggestion: one
trial per seed (seed = base seed + repeat index, search_spaces.study.REPEAT_INDEX), and
Optuna is told the mean of their val_acc. With `--asha`, ASHA stops trials whose val_acc
lags at its rungs (a stopped repeat's last val_acc enters that mean). The
metric and mode are given once, to TuneConfig (Ray refuses them twice). With several
trials at once Optuna's choices depend on which trials finish first, so the seed makes
the proposals reproducible only when trials run one at a time (--max-concurrent 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from asib_sweeps.presets import apply_preset
from search_spaces.study import Sampled, Study, StudyOptions, Trial, TunePlan, seed_values, trial_params, with_seed

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
    """`samples` proposals x `seeds` seeds, with beta still to be chosen (config holds the base beta until then)."""
    config = apply_preset(base, ARM)
    beta = Sampled(f"loguniform({BETA_RANGE[0]:g}, {BETA_RANGE[1]:g}) by Optuna TPE")
    return [
        Trial(name=f"beta-{index}-s{seed}", labels={"arm": ARM, "seed": seed, "beta": beta}, config=with_seed(config, seed))
        for index in range(options.samples)
        for seed in seed_values(config, options.seeds)
    ]


def tune_plan(trials: list[Trial], options: StudyOptions, constants: Mapping[str, Any]) -> TunePlan:
    from ray import tune
    from ray.tune.search import Repeater
    from ray.tune.search.optuna import OptunaSearch

    template = trials[0]  # at the base seed; each repeat adds its index (trainables.distill)
    params = trial_params(template, constants)
    del params["beta"]  # the sampled value lives in the config, where the run reads it
    params["config"]["method"]["asib"]["beta"] = tune.loguniform(*BETA_RANGE)
    optuna = OptunaSearch(seed=template.config.seed)
    return TunePlan(
        param_space=params,
        num_samples=len(trials),
        search_alg=Repeater(optuna, repeat=options.seeds, set_index=True) if options.seeds > 1 else optuna,
        scheduler=asha(template.config) if options.asha else None,
        metric=METRIC,
        mode=MODE,
        progress_columns={"config/method/asib/beta": "beta"},
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
    summary="beta of the full rung, log-uniform in [1e-5, 1e-1], proposed by Optuna, each on --seeds seeds (optionally ASHA)",
    trainable="distill",
    options=("samples", "seeds", "asha"),
    trials=trials,
    tune_plan=tune_plan,
)
