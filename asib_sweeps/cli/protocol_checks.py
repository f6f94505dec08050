"""The protocol's plan-time rules (docs/PROTOCOL.md), checked before any Ray starts.

- A report study never trains a selection seed: settings chosen on a seed would be
  scored on it again.
- Under data.split_per_seed the studies derive the split and the teachers' seeds from
  each trial's seed, so a base config that sets them would be silently overridden:
  refused, naming the key. `tune` refuses the switch off (selection runs would share
  the report runs' split).
- An experiment file's `arms:` names arms of the study it is given to (or, for `tune`,
  of the study tuned), and a `--set` key may not also be an arm's key (one of the two
  would silently lose).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from search_spaces import Study, StudyOptions, Trial, get_study
from search_spaces.study import selection_seed_error

if TYPE_CHECKING:
    from asib_sweeps.cli.input_checks import Fail
    from asib_sweeps.cli.sweep_request import SweepRequest
    from asib_sweeps.config import RunConfig

REPORT_STUDIES = ("ablation", "sota", "overlap", "reproduce")
"""Studies whose tables are reported: they refuse selection seeds."""


def check_report_seeds(study: Study, trials: list[Trial], fail: Fail) -> None:
    if study.name not in REPORT_STUDIES:
        return
    message = selection_seed_error([int(trial.labels["seed"]) for trial in trials])
    if message is not None:
        fail(message)


def check_derived_seeds(study: Study, config: RunConfig, fail: Fail) -> None:
    """Under split_per_seed, split_seed and the teachers' seeds must stay unset (0): the studies set them.
    The tuning needs the switch on: with one split for every seed, selection runs would share report runs' data."""
    if not config.data.split_per_seed:
        if study.trainable == "tune":
            fail(
                "tune needs data.split_per_seed=true: each selection seed must draw its own split and teachers, "
                "never a report seed's; got data.split_per_seed=False"
            )
        return
    given = {"data.split_seed": config.data.split_seed}
    given.update({f"teachers.{index}.seed": spec.seed for index, spec in enumerate(config.teachers)})
    for key, value in given.items():
        if value != 0:
            fail(
                f"{key}={value} would be replaced by each trial's seed under data.split_per_seed=true (each seed "
                f"draws its own split and teachers); set data.split_per_seed=false to fix one split and teacher seed"
            )


def with_arm_settings(
    request: SweepRequest, study: Study, config: RunConfig, options: StudyOptions, fail: Fail
) -> StudyOptions:
    """`options` with the `arms:` of --config, after checking the arms and keys they name."""
    if request.config is None:
        return options
    from asib_sweeps.config import ConfigError
    from asib_sweeps.config_files import arm_settings, read_experiment_file

    try:
        arms = arm_settings(read_experiment_file(request.config))
        set_keys = {key for layer in request.overrides for key in layer.values}
    except ConfigError as error:
        fail(f"--config {request.config}: {error}")
    if not arms:
        return options
    owner = get_study(options.target) if study.trainable == "tune" else study
    if owner.arm_configs is None:
        fail(f"--config {request.config}: arms: applies to the studies with arms (ablation, sota, overlap); got study {study.name}")
    allowed = list(owner.arm_configs(config, options))
    for arm, values in arms.items():
        if arm not in allowed:
            fail(f"--config {request.config}: arms.{arm}: {arm!r} is not an arm of {owner.name}; arms: {', '.join(allowed)}")
        clash = sorted(set(values) & set_keys)
        if clash:
            fail(f"--set {clash[0]} and arms.{arm}.{clash[0]} in --config {request.config} set the same key; keep one")
    return replace(options, arm_settings=arms)


def check_tuned_keys(
    request: SweepRequest, study: Study, config: RunConfig, options: StudyOptions, fail: Fail
) -> None:
    """A key the tuning samples cannot also be fixed by --set or --config: the sample would silently win."""
    if study.trainable != "tune":
        return
    from asib_sweeps.config import ConfigError
    from asib_sweeps.config_files import read_experiment_file
    from search_spaces.tuning import tuned_keys

    try:
        layers = [*(read_experiment_file(request.config) if request.config is not None else []), *request.overrides]
        sampled = tuned_keys(config, options)
    except (ConfigError, ValueError) as error:
        fail(str(error))
    for layer in layers:
        for key in layer.values:
            if key in sampled:
                fail(
                    f"{layer.source}: {key} is sampled by the tuning of arm(s) {', '.join(sampled[key])} "
                    "(the method file's search_space); drop it, or tune the other arms only (--arms)"
                )


def experiment_keys(config: RunConfig) -> dict[str, Any]:
    """The run's keys that differ from its data set's defaults, without the seeds the protocol derives."""
    from asib_sweeps.config import default_config
    from asib_sweeps.config_files import changed_keys

    derived = ("seed", "data.split_seed")
    keys = changed_keys(config, default_config(config.data.dataset))
    return {key: value for key, value in keys.items() if key not in derived}
