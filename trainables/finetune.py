"""The teacher fine-tuning trainable: a CE run whose best-validation weights go into the teacher cache."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asib_sweeps.config import build_config
from asib_sweeps.teachers import TeacherCache
from asib_sweeps.training import TrainingRun
from trainables.config_errors import config_errors_not_retried
from trainables.placement import trial_device
from trainables.reporting import train_and_report


def finetune(params: Mapping[str, Any]) -> None:
    """Tune function trainable; `params` holds the fine-tuning `config` (finetune_config's
    CE run), `teacher_key`, `teacher_spec`, `teacher_cache` and `checkpoint_every`.

    The cache entry is written after the last epoch; a trial retried or resumed after
    that epoch restores the finished run from its last checkpoint and only stores.
    """
    with config_errors_not_retried():
        config = build_config(params["config"])
        run = TrainingRun.create(config, device=trial_device(config.device), keep_best_weights=True)
    train_and_report(run, checkpoint_every=params["checkpoint_every"])
    best = run.best_student_state if run.best_student_state is not None else run.student.state_dict()
    TeacherCache(params["teacher_cache"]).store(
        params["teacher_key"], best, metrics=run.summary(), spec=dict(params["teacher_spec"])
    )
