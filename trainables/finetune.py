"""The teacher fine-tuning trainable: asib_sweeps.teachers' fine-tuning path inside a Tune trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asib_sweeps.config import ConfigError, build_config
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.teachers import start_fine_tuning, store_teacher, train_teacher
from trainables.config_errors import config_errors_not_retried
from trainables.placement import gpu_share_errors, trial_device
from trainables.reporting import checkpoint_options, restore_from_tune, tune_reporter


def finetune(params: Mapping[str, Any]) -> None:
    """Tune function trainable; `params` holds the fine-tuning `config` (finetune_config's
    CE run), `teacher_key`, `teacher_spec`, `teacher_cache` and the checkpoint options
    (`checkpoint_every`, `checkpoint_every_s`, `stop_file`: trainables.reporting.CheckpointPolicy).

    The cache entry (the best-validation weights) is written after the last epoch; a
    trial retried or resumed after that epoch restores the finished run from its last
    checkpoint and only stores.
    """
    with config_errors_not_retried():
        if "checkpoint" in params["teacher_spec"]:  # the runner imports these before any Tune trial
            raise ConfigError(
                f"teacher {params['teacher_key']} is the published file {params['teacher_spec']['checkpoint']}: "
                "it is measured and cached as it is, never fine-tuned"
            )
        config = build_config(params["config"])
        device = trial_device(config.runtime.device)
        with gpu_share_errors(device):
            run = start_fine_tuning(config, device=device)
            restore_from_tune(run)
            train_teacher(run, on_epoch=tune_reporter(**checkpoint_options(params)))
            store_teacher(run, TeacherCache(params["teacher_cache"]), params["teacher_key"], params["teacher_spec"])
