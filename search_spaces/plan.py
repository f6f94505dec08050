"""One sweep's plan, whatever the study: its teacher stage, then its own trials.

`plan_sweep` is the one place a study's options become what a sweep runs. The CLI's
plan step (`asib-sweep`, `--dry-run`, `run_study`) calls it and the runner executes the
plan: first every teacher the trials distil from (fine-tuned into the cache, or a
published file imported), then the study's trials. Teacher fine-tuning is this first
stage of every plan; `finetune` is a study whose plan stops after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from search_spaces.finetune import teacher_trials
from search_spaces.study import Study, StudyOptions, Trial, trial_runs

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig


@dataclass(frozen=True)
class SweepPlan:
    study: Study
    options: StudyOptions
    teachers: list[Trial]
    """Stage 1: one trial per distinct teacher the study's runs distil from, in first-seen order."""
    trials: list[Trial]
    """Stage 2: the study's trials (none when the study stops after its teachers)."""

    @property
    def runs(self) -> list[RunConfig]:
        """Every training run the plan may start: each trial's (one per selection seed in a tuning) and each teacher's."""
        return [*trial_runs(self.trials), *(teacher.config for teacher in self.teachers)]


def plan_sweep(study: Study, config: RunConfig, options: StudyOptions) -> SweepPlan:
    """The study's trials for `config` and `options`, and the teachers they need.

    Raises ConfigError, DataError or ValueError naming the option when a trial cannot be
    planned (the CLI turns them into usage errors before anything runs).
    """
    trials = study.trials(config, options)
    teachers = teacher_trials(trial_runs(trials))
    return SweepPlan(study=study, options=options, teachers=teachers, trials=trials if study.runs_trials else [])
