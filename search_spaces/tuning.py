"""The tuning stage (docs/PROTOCOL.md): every arm of a study gets the same number of Optuna TPE trials.

`asib-sweep tune STUDY --budget N` plans, for each arm of STUDY that has something to tune,
N Tune trials of one experiment per arm (OptunaSearch over the arm's search space, seeded).
Each trial trains the arm at the sampled settings once per selection seed (the first
`--selection-seeds` of SELECTION_SEEDS, each with its own split and teachers) and is
scored on the mean of their best validation accuracies; test accuracy is never read.

An arm's space is its method's `search_space` (asib_sweeps.tunable records declared in the
method file) as dotted config keys; an ASIB rung searches the knobs presets.RUNG_KNOBS lists
for it. An arm with an empty space (ce) has nothing to choose and runs no tuning trial.
As in the beta study, Optuna's proposals are reproducible from its seed only when trials
run one at a time (--max-concurrent 1): otherwise they depend on which trials finish first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from search_spaces.study import SELECTION_SEEDS, Study, StudyOptions, Trial, TunePlan, trial_params, with_seed

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig
    from asib_sweeps.tunable import Domain

METRIC, MODE = "selection_score", "max"
"""The mean over selection seeds of each run's best val_acc, maximised."""
TPE_SEED = SELECTION_SEEDS.start
TUNABLE_STUDIES = ("ablation", "sota", "overlap")


def selection_seed_values(count: int) -> list[int]:
    if not 1 <= count <= len(SELECTION_SEEDS):
        raise ValueError(f"--selection-seeds must be in 1..{len(SELECTION_SEEDS)}; got --selection-seeds={count}")
    return list(SELECTION_SEEDS[:count])


def arm_space(config: RunConfig) -> dict[str, Domain]:
    """The dotted config keys an arm's tuning searches, and their ranges."""
    from asib_sweeps.catalog.methods import method_entry, tunable_space
    from asib_sweeps.presets import RUNG_KNOBS, SWITCHES, rung_of

    method = config.method.name
    section = method_entry(method).section
    space = tunable_space(method)
    if method == "asib":
        settings = config.method.asib
        rung = rung_of(tuple(getattr(settings, switch) for switch in SWITCHES))
        if rung is None:
            raise ValueError(f"method.asib's switches {SWITCHES} are not a rung of the ladder; tune a rung")
        space = {knob: space[knob] for knob in RUNG_KNOBS[rung]}
    return {f"method.{section}.{knob}": domain for knob, domain in space.items()}


def trials(base: RunConfig, options: StudyOptions) -> list[Trial]:
    """`budget` trials per arm with a space, arm after arm; each config is the arm's at the first selection seed."""
    from search_spaces import get_study  # the registry imports this module

    target = get_study(options.target)
    if target.arm_configs is None:
        raise ValueError(f"study {target.name} cannot be tuned; tunable studies: {', '.join(TUNABLE_STUDIES)}")
    seeds = selection_seed_values(options.selection_seeds)
    configs = target.arm_configs(base, options)
    unknown = sorted(set(options.arms or ()) - set(configs))
    if unknown:
        raise ValueError(f"--arms: {unknown[0]!r} is not an arm of {target.name}; its arms: {', '.join(configs)}")
    out = []
    for arm, config in configs.items():
        space = arm_space(config)
        if not space or (options.arms is not None and arm not in options.arms):
            continue
        knobs = ", ".join(f"{key.rpartition('.')[2]}~{domain}" for key, domain in space.items())
        for slot in range(options.budget):
            labels = {"arm": arm, "seed": seeds[0], "slot": slot, "knobs": knobs}
            extra = {"selection_seeds": seeds, "tuned_study": target.name}
            out.append(Trial(name=f"{arm}-t{slot}", labels=labels, config=with_seed(config, seeds[0]), extra=extra))
    return out


def tuned_keys(base: RunConfig, options: StudyOptions) -> dict[str, list[str]]:
    """Dotted key -> the arms (of those tuned) whose tuning samples it."""
    from search_spaces import get_study

    target = get_study(options.target)
    keys: dict[str, list[str]] = {}
    configs = target.arm_configs(base, options) if target.arm_configs is not None else {}
    for arm, config in configs.items():
        if options.arms is None or arm in options.arms:
            for key in arm_space(config):
                keys.setdefault(key, []).append(arm)
    return keys


def untuned_arms(base: RunConfig, options: StudyOptions) -> list[str]:
    """Arms of the target study with nothing to tune (they keep their configured settings)."""
    from search_spaces import get_study

    target = get_study(options.target)
    configs = target.arm_configs(base, options) if target.arm_configs is not None else {}
    return [arm for arm, config in configs.items() if not arm_space(config)]


def tune_domain(domain: Domain) -> Any:
    """The Ray Tune sampler of an asib_sweeps.tunable record."""
    from ray import tune

    from asib_sweeps.tunable import Choice, IntRange, LogUniform, Uniform

    if isinstance(domain, LogUniform):
        return tune.loguniform(domain.low, domain.high)
    if isinstance(domain, Uniform):
        return tune.uniform(domain.low, domain.high)
    if isinstance(domain, IntRange):
        return tune.randint(domain.low, domain.high + 1)  # randint's upper bound is exclusive
    if isinstance(domain, Choice):
        return tune.choice(list(domain.values))
    raise TypeError(f"not a search domain: {domain!r}")


def tune_plan(trials: Sequence[Trial], options: StudyOptions, constants: Mapping[str, Any]) -> TunePlan:
    """The plan of ONE arm's experiment (the runner calls it per arm): TPE over the arm's space."""
    from ray.tune.search.optuna import OptunaSearch

    arms = {trial.labels["arm"] for trial in trials}
    if len(arms) != 1:
        raise ValueError(f"a tuning plan covers one arm; got arms {sorted(arms)}")
    template = trials[0]
    params = trial_params(template, constants)
    del params["slot"], params["knobs"]  # the sampled values live in the config, where the run reads them
    for key, domain in arm_space(template.config).items():
        node = params["config"]
        *sections, name = key.split(".")
        for section in sections:
            node = node[section]
        node[name] = tune_domain(domain)
    return TunePlan(
        param_space=params,
        num_samples=len(trials),
        search_alg=OptunaSearch(seed=TPE_SEED),
        metric=METRIC,
        mode=MODE,
    )


STUDY = Study(
    name="tune",
    summary="choose each arm's settings on selection seeds: the same number of Optuna TPE trials per arm",
    trainable="tune",
    options=("tuned", "budget", "selection_seeds", "arms", "overlaps"),
    trials=trials,
    tune_plan=tune_plan,
)
