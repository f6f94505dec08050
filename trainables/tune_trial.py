"""The tuning trainable: one setting of one arm, trained once per selection seed, scored on validation.

Each seed is a whole run with its own split and teachers (search_spaces.study.with_seed),
started from a fresh worker state; after each one the trial reports its best val_acc
and the mean over the seeds done so far (`selection_score`, what Optuna maximises: Tune
hands it the trial's last report). No checkpoint is kept: a failed trial is retried from its
first seed, so a score is always the mean of complete runs. Test accuracy is not reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from ray import tune

from asib_sweeps.config import RunConfig, build_config
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.training import TrainingRun
from search_spaces.study import teacher_keys_used, with_seed
from search_spaces.tuning import METRIC
from trainables.config_errors import config_errors_not_retried
from trainables.placement import gpu_share_errors, trial_device


def tune_trial(params: Mapping[str, Any]) -> None:
    """Tune function trainable; `params` holds the nested `config` (sampled values in place),
    `selection_seeds` and `teacher_cache`."""
    with config_errors_not_retried():
        config = build_config(params["config"])
        cache = TeacherCache(params["teacher_cache"])
        best: dict[int, float] = {}
        for done, seed in enumerate(params["selection_seeds"], start=1):
            best[seed] = best_validation_accuracy(with_seed(config, seed), cache)
            scores = {f"val_acc_best_s{s}": value for s, value in best.items()}
            tune.report({"seeds_done": done, **scores, METRIC: statistics.fmean(best.values())})


def best_validation_accuracy(config: RunConfig, cache: TeacherCache) -> float:
    """Train `config` to its end in a fresh worker state; its best val_acc (the loop's summary,
    so the same best epoch as the results tables: analysis.best_epoch)."""
    device = trial_device(config.runtime.device)
    with gpu_share_errors(device):
        teachers = [cache.load(key) for key in teacher_keys_used(config)]
        run = TrainingRun.create(config, teacher_states=teachers, device=device)
        while not run.finished:
            run.run_epoch()
    return float(run.summary()["val_acc_best"])
