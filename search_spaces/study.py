"""What a study is: its trials, and how they become a Tune param space.

A study module only says which trials it wants (data); this module holds the few
types they share and turns a list of trials into Tune's form. Grid studies (arm x
seed, ...) become one `grid_search` axis, `variant`, over readable trial names, and
every other field of a trial (arm, seed, the nested config, ...) is looked up from
that name with `sample_from`, so each trial's `params.json` holds its identity and
its full config as flat top-level keys.

Importing this module (and the study modules) is cheap: Ray, the config and the
method registry (torch) are imported where they are used, so `asib-sweep --help`
can list the studies and their options without them.
"""

from __future__ import annotations

import copy

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from search_spaces.options import (  # noqa: F401 - the constants' old home; study modules import them here
    DEFAULT_MARGIN_POINTS,
    OVERLAP_PERCENTS,
    SELECTION_SEEDS,
    option_default,
)

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.search import Searcher

    from asib_sweeps.config import RunConfig

TrainableName = Literal["distill", "finetune", "tune"]


@dataclass(frozen=True)
class StudyOptions:
    """The per-study command-line options (each study reads only the ones it lists).

    Each field but `arm_settings` is set by one option of search_spaces/options.py,
    which declares its flag, help and default (a test keeps the two in step).
    """

    seeds: int = option_default("seeds")
    samples: int = option_default("samples")
    asha: bool = option_default("asha")
    overlaps: tuple[int, ...] = option_default("overlaps")
    target: str = option_default("target")
    """The study whose teachers `finetune` trains, or whose arms `tune` tunes."""
    budget: int = option_default("budget")
    selection_seeds: int = option_default("selection_seeds")
    margin: float = option_default("margin")
    arms: tuple[str, ...] | None = option_default("arms")
    """The arms `tune` tunes (None: every arm of the study)."""
    arm_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Arm -> dotted config keys applied over that arm's preset (an experiment file's `arms:`)."""


@dataclass(frozen=True)
class Trial:
    """One trial of a study: what identifies it and the run it trains."""

    name: str
    """Readable and unique within the study (`ib-s0`, `p25-asib-s1`); Tune's trial folders carry it."""
    labels: Mapping[str, Any]
    """Identifying values, printed by --dry-run and stored in params.json (arm, seed, ...)."""
    config: RunConfig
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other per-trial values the trainable needs (e.g. the teacher index of a fine-tuning)."""


@dataclass(frozen=True)
class Sampled:
    """A label whose value a search algorithm chooses per trial (shown as its distribution)."""

    description: str

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class TunePlan:
    """What the Tuner needs from a study besides the trainable and the cluster."""

    param_space: dict[str, Any]
    num_samples: int = 1
    search_alg: Searcher | None = None
    scheduler: TrialScheduler | None = None
    metric: str | None = None
    mode: str | None = None
    progress_columns: Mapping[str, str] = field(default_factory=lambda: {"variant": "variant"})
    """Param path -> column of the console's progress table (a grid: its trial names)."""


TrialsFn = Callable[["RunConfig", StudyOptions], list[Trial]]
PlanFn = Callable[[list[Trial], StudyOptions, Mapping[str, Any]], TunePlan]
ArmsFn = Callable[["RunConfig", StudyOptions], dict[str, "RunConfig"]]


@dataclass(frozen=True)
class Study:
    name: str
    summary: str
    trainable: TrainableName
    options: tuple[str, ...]
    """Which StudyOptions fields this study reads (the CLI offers only these)."""
    trials: TrialsFn
    tune_plan: PlanFn
    arm_configs: ArmsFn | None = None
    """Each arm's config before seeding (the arm's preset and its `arm_settings`); studies that have
    one can be tuned (`asib-sweep tune STUDY`) and read per-arm settings from an experiment file."""
    runs_trials: bool = True
    """False: the sweep stops after its teacher stage (`finetune`: the teachers its trials need)."""


def seed_values(base: RunConfig, count: int) -> list[int]:
    """`count` consecutive seeds starting at the configured one, so `--set seed=10` shifts them all."""
    return [base.seed + offset for offset in range(count)]


REPEAT_INDEX = "__trial_index__"
"""The key Ray Tune's `Repeater` search wrapper (ray.tune.search.repeater.TRIAL_INDEX) adds to the
params of each repeat of one suggestion: 0, 1, ... The beta study repeats each beta on several
seeds this way; a repeat's seed is the params' seed plus its index (analysis.tables reads the
same key)."""


def repeated_seed_config(params: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's nested config, with the seed moved on by its repeat index (none: as planned);
    under data.split_per_seed the repeat's split and teachers follow its seed, as `with_seed` sets them."""
    config = copy.deepcopy(dict(params["config"]))
    seed = config["seed"] + int(params.get(REPEAT_INDEX, 0))
    config["seed"] = seed
    if config.get("data", {}).get("split_per_seed"):
        config["data"]["split_seed"] = seed
        for teacher in config["teachers"]:
            teacher["seed"] = seed
    return config


def is_repeat(params: Mapping[str, Any]) -> bool:
    """A later repeat of a searcher's suggestion: its seed (and, per seed, its teachers) differ from the plan's."""
    return int(params.get(REPEAT_INDEX, 0)) > 0


def with_seed(config: RunConfig, seed: int) -> RunConfig:
    """`config` for student seed `seed`; under data.split_per_seed also its own split and teachers
    (split_seed and each teacher's seed set to `seed`), so no two seeds share data or teachers."""
    from asib_sweeps.config import build_config

    data = config.model_dump()
    data["seed"] = seed
    if config.data.split_per_seed:
        data["data"]["split_seed"] = seed
        for teacher in data["teachers"]:
            teacher["seed"] = seed
    return build_config(data)


def with_settings(config: RunConfig, values: Mapping[str, Any], source: str) -> RunConfig:
    """`config` with dotted keys set (an arm's tuned settings), validated; errors name `source`."""
    from asib_sweeps.config_files import Layer, layered_config

    return layered_config(config, [Layer(source, dict(values))]) if values else config


def selection_seed_error(seeds: Sequence[int]) -> str | None:
    """Why a report run may not use these seeds (one of them is a selection seed), or None."""
    reused = sorted(seed for seed in set(seeds) if seed in SELECTION_SEEDS)
    if not reused:
        return None
    return (
        f"seed {reused[0]} is a selection seed: seeds {SELECTION_SEEDS.start}..{SELECTION_SEEDS.stop - 1} are "
        f"reserved for `asib-sweep tune`, which chooses settings on them; a report run's seeds must lie outside "
        f"that range (e.g. --set seed=0 with --seeds <= {SELECTION_SEEDS.start})"
    )


def grid_plan(trials: Sequence[Trial], options: StudyOptions, constants: Mapping[str, Any]) -> TunePlan:
    """One trial per entry of `trials`, in order, with `constants` added to every trial's params."""
    return TunePlan(param_space=grid_param_space(trials, constants))


def grid_param_space(trials: Sequence[Trial], constants: Mapping[str, Any]) -> dict[str, Any]:
    from ray import tune

    table = {trial.name: trial_params(trial, constants) for trial in trials}
    if len(table) != len(trials):
        raise ValueError("trial names must be unique within a study")
    fields = next(iter(table.values())).keys()
    space: dict[str, Any] = {"variant": tune.grid_search(list(table))}
    space.update({key: tune.sample_from(VariantField(table, key)) for key in fields})
    return space


def trial_params(trial: Trial, constants: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's params: constants, labels, extra values, the teachers it distils from
    and the config as a nested dict."""
    return {
        **constants,
        **trial.labels,
        **trial.extra,
        "teacher_keys": teacher_keys_used(trial.config),
        "config": trial.config.model_dump(),
    }


def trial_runs(trials: Iterable[Trial]) -> list[RunConfig]:
    """Every run the trials train: a tuning trial trains its config once per selection seed."""
    return [
        with_seed(trial.config, seed) if "selection_seeds" in trial.extra else trial.config
        for trial in trials
        for seed in trial.extra.get("selection_seeds", [None])
    ]


def teacher_keys_used(config: RunConfig) -> list[str]:
    """Cache keys of the teachers a run distils from (none for a method without teachers)."""
    from asib_sweeps.catalog.methods import method_entry
    from asib_sweeps.teacher_cache import teacher_key

    if not method_entry(config.method.name).uses_teachers:
        return []
    return [teacher_key(config, index) for index in range(len(config.teachers))]


@dataclass(frozen=True, repr=False)
class VariantField:
    """`sample_from` callable: the value of one field for the trial named by `variant`.

    A class rather than a lambda so the param space pickles by reference into
    Tune's experiment state (needed by --resume).
    """

    table: Mapping[str, Mapping[str, Any]]
    key: str

    def __call__(self, config: Mapping[str, Any]) -> Any:
        return self.table[config["variant"]][self.key]

    def __repr__(self) -> str:  # Tune prints domains; the whole table would flood the console
        return f"VariantField({self.key!r})"
