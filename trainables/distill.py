"""The distillation trainable: one student trained by one method from cached teachers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asib_sweeps.config import ConfigError, build_config
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.training import TrainingRun
from search_spaces.study import is_repeat, repeated_seed_config, teacher_keys_used
from trainables.config_errors import config_errors_not_retried
from trainables.placement import gpu_share_errors, trial_device
from trainables.reporting import checkpoint_options, train_and_report


def distill(params: Mapping[str, Any]) -> None:
    """Tune function trainable; `params` holds the nested `config`, `teacher_keys`,
    `teacher_cache` (the cache folder), `checkpoint_every` and (sweeps planned since they
    exist) `checkpoint_every_s` and `stop_file` (trainables.reporting.CheckpointPolicy). A repeat of
    a searcher's suggestion (the beta study's seeds) runs at the seed plus its repeat index."""
    with config_errors_not_retried():
        config = build_config(repeated_seed_config(params))
        keys = teacher_keys_used(config)
        # The plan's keys are those of the suggestion's first repeat; a later repeat's own seed picks its teachers.
        if keys != list(params["teacher_keys"]) and not is_repeat(params):
            raise ConfigError(
                f"teacher_keys in the params {list(params['teacher_keys'])} differ from the config's {keys}; "
                "the code that derives teacher keys changed since the sweep was planned"
            )
        cache = TeacherCache(params["teacher_cache"])
        device = trial_device(config.runtime.device)
        with gpu_share_errors(device):
            run = TrainingRun.create(config, teacher_states=[cache.load(key) for key in keys], device=device)
            train_and_report(run, **checkpoint_options(params))
