"""Run a planned sweep on Ray Tune: missing teachers first, then the study's own trials.

Layout under `<results>/<name>/`:

    tune/finetune/          Tune experiment of the teachers this sweep fine-tuned
    tune/<study>/           Tune experiment of the study's trials (TensorBoard files in its trial folders)
    trials.parquet, epochs.parquet            the study's tables
    finetune/trials.parquet, epochs.parquet   the teacher fine-tunings' tables
    mlflow.db, wandb/       the MLflow store and W&B runs, when tracked (asib_sweeps.cli.trackers)

Teachers live in the shared cache (`<results>/teachers` by default), so later sweeps
reuse them. Each experiment retries failed trials from their last checkpoint
(FailureConfig), saves its state as it goes and, with `resume`, is restored from that
state (finished trials are not rerun, errored ones continue from their checkpoint).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.logger import JsonLoggerCallback

from analysis.results import ResultTables, write_results
from analysis.arm_order import recorded_arm_order
from analysis.summary import summary_text
from asib_sweeps.cli.results_callback import ResultTablesCallback
from asib_sweeps.cli.stop_checkpoints import STOP_FILE, CheckpointBeforeStop
from asib_sweeps.cli.sweep_options import DEFAULT_CHECKPOINT_EVERY_S
from asib_sweeps.cli.trackers import DEFAULT_TRACKERS, tracker_callbacks
from asib_sweeps.teacher_cache import TeacherCache
from search_spaces import Study, StudyOptions, Trial, TunePlan
from cluster.signals import stop_requested
from search_spaces.study import grid_plan
from trainables import distill, finetune
from trainables.config_errors import NonRetryableTrials, clear_markers

Trainable = Callable[[Mapping[str, Any]], None]

FINETUNE_EXPERIMENT = "finetune"
TRAINABLES: dict[str, Trainable] = {"distill": distill, "finetune": finetune}
CHECKPOINTS_KEPT = 2
PROGRESS_METRICS = {"epoch": "epoch", "phase": "phase", "val_acc": "val_acc", "test_acc": "test_acc"}
PROGRESS_EVERY_S = 15
EXIT_OK, EXIT_TRIALS_FAILED, EXIT_INTERRUPTED = 0, 1, 130


@dataclass(frozen=True)
class SweepSettings:
    """Everything the runner needs, validated by the CLI before Ray starts."""

    study: Study
    options: StudyOptions
    trials: list[Trial]
    """The plan's study stage (search_spaces.plan.SweepPlan.trials; none for `finetune`)."""
    teachers: list[Trial]
    """The plan's teacher stage: every teacher the trials need, cached or not."""
    results_dir: Path
    name: str
    teacher_cache: Path
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int | None
    max_failures: int
    checkpoint_every: int
    resume: bool
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    experiment_keys: Mapping[str, Any] = field(default_factory=dict)
    """The run's config keys that differ from the data set's defaults (tune writes them into tuned.yaml)."""
    trackers: tuple[str, ...] = DEFAULT_TRACKERS

    @property
    def sweep_dir(self) -> Path:
        return self.results_dir / self.name

    @property
    def storage_dir(self) -> Path:
        return self.sweep_dir / "tune"

    @property
    def stop_file(self) -> Path:
        """Exists while a stop signal waits for the running trials' checkpoints (stop_checkpoints)."""
        return self.sweep_dir.resolve() / STOP_FILE


@dataclass(frozen=True)
class ExperimentOutcome:
    tables: ResultTables | None
    """None when the experiment had no trials to run."""
    interrupted: bool
    failed: int


def code_revision() -> str:
    """`git rev-parse HEAD` of the checkout this code runs from, or "unknown" outside git."""
    completed = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() if completed.returncode == 0 else "unknown"


def experiment_constants(settings: SweepSettings, *, study: str) -> dict[str, Any]:
    """Params every trial of an experiment carries besides its own fields."""
    return {
        "study": study,
        "code_revision": code_revision(),
        "teacher_cache": str(settings.teacher_cache.resolve()),
        "checkpoint_every": settings.checkpoint_every,
        "checkpoint_every_s": settings.checkpoint_every_s,
        "stop_file": str(settings.stop_file),
        **({"equivalence_margin": settings.options.margin} if "margin" in settings.study.options else {}),
    }


@contextlib.contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """`name` set to `value` for the fit, then as it was: the same process may run other Tune
    experiments (run_study from Python, the tests), which must get Tune's default loggers back."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def run_experiment(
    *,
    name: str,
    study: str,
    trainable: Trainable,
    plan: TunePlan,
    expected_trials: int,
    settings: SweepSettings,
    out_dir: Path,
) -> ExperimentOutcome:
    """Fit (or, with settings.resume, restore and finish) one Tune experiment and write its tables.

    Whether it finished is read from the tables (Tune's saved state), not from the
    ResultGrid: after a stop signal Tune's in-memory statuses no longer say which
    trials were cut short.
    """
    experiment_dir = settings.storage_dir / name
    resources = {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial}
    with_resources = tune.with_resources(trainable, {k: v for k, v in resources.items() if v})
    if settings.resume and tune.Tuner.can_restore(str(experiment_dir)):
        print(f"resuming {experiment_dir}")
        for marker in clear_markers(experiment_dir):  # the causes may be fixed: one more attempt each
            print(f"retrying {marker.parent.name}, which had failed with an error that was not retried")
        tuner = tune.Tuner.restore(str(experiment_dir), with_resources, resume_errored=True)
    else:
        tuner = new_tuner(with_resources, plan, settings, name=name, study=study, out_dir=out_dir)
    # Tune's default console output prints every trial's whole config; the classic
    # reporter shows one compact status table (trial, variant, epoch, accuracies).
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    # Checkpointing every epoch of second-long epochs (--checkpoint-every-s 0) makes Tune save its state often
    # (it must, to stay consistent with checkpoint deletion); benchmarks/sweep_overhead.py
    # measures that cost, so Tune's per-save warning about it is only noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # The loggers are the runner's choice (asib_sweeps.cli.trackers), not Tune's defaults added on top.
    with environment_variable("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1" if chooses_own_loggers(tuner) else "0"):
        tuner.fit()
    tables = write_results(experiment_dir, out_dir, study=study)
    statuses = tables.trials["status"]
    ended = statuses.isin(["TERMINATED", "ERROR"])
    return ExperimentOutcome(
        tables=tables,
        interrupted=len(statuses) < expected_trials or not ended.all(),
        failed=int((statuses == "ERROR").sum()),
    )


def chooses_own_loggers(tuner: tune.Tuner) -> bool:
    """Whether the tuner's RunConfig lists its loggers (asib_sweeps.cli.trackers) itself.

    True for every new tuner. A sweep saved before `--track` existed is restored with the
    callbacks it was saved with, which include no logger: Tune's default loggers (its
    result.json, which the tables are read from, among them) must stay on for it. Tune
    has no public accessor of a restored tuner's RunConfig, hence the private one (None
    under Ray Client, where the tuner, and the environment it reads, is remote).
    """
    if tuner._local_tuner is None:
        return True
    run_config = tuner._local_tuner.get_run_config()
    return any(isinstance(callback, JsonLoggerCallback) for callback in run_config.callbacks or [])


def new_tuner(trainable: Any, plan: TunePlan, settings: SweepSettings, *, name: str, study: str, out_dir: Path) -> tune.Tuner:
    """The Tuner of a new experiment (a restored one keeps the TuneConfig and RunConfig it was saved with)."""
    experiment_dir = settings.storage_dir / name
    callbacks = [
        ResultTablesCallback(experiment_dir.resolve(), out_dir.resolve(), study=study),
        CheckpointBeforeStop(settings.stop_file),
        *tracker_callbacks(settings.trackers, sweep_dir=settings.sweep_dir, experiment=name),
        NonRetryableTrials(),
    ]
    return tune.Tuner(
        trainable,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric=plan.metric,
            mode=plan.mode,
            search_alg=plan.search_alg,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
            max_concurrent_trials=settings.max_concurrent,
            # A finished trial's worker runs the next trial with the same resources: its start-up
            # (process, imports) is paid once per worker; trainables.worker_state resets torch's state.
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(settings.storage_dir.resolve()),
            failure_config=tune.FailureConfig(max_failures=settings.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT),
            callbacks=callbacks,
            progress_reporter=progress_reporter(plan),
            verbose=1,
        ),
    )


def progress_reporter(plan: TunePlan) -> tune.CLIReporter:
    """A status table: each trial's columns the plan names (its variant, or the sampled value), epoch and accuracies."""
    return tune.CLIReporter(
        parameter_columns=dict(plan.progress_columns),
        metric_columns=PROGRESS_METRICS,
        max_report_frequency=PROGRESS_EVERY_S,
        print_intermediate_tables=True,  # else decided by a global Tune verbosity a previous fit changed
    )


def import_published_teachers(trials: list[Trial], cache: TeacherCache) -> None:
    """Measure and cache, in this process, the missing teachers given as published `checkpoint` files."""
    from asib_sweeps.published_teachers import import_published_teacher

    for trial in trials:
        spec = trial.extra["teacher_spec"]
        metrics = import_published_teacher(trial.config, spec["checkpoint"], cache, trial.name, spec)
        recorded = metrics["recorded_accuracy"]
        print(
            f"teacher {trial.name}: published file {spec['checkpoint']} measured as it is: "
            f"val {100 * metrics['val_acc']:.2f} %, test {100 * metrics['test_acc']:.2f} %"
            + (f" (the file records {recorded:.2f} %)" if recorded is not None else "")
        )


def resolve_teachers(settings: SweepSettings) -> ExperimentOutcome:
    """Import the published teachers, then fine-tune, as parallel trials, the others the cache lacks.

    Broken cache entries are moved aside and retrained (TeacherCache.repair). On
    --resume the last fine-tuning experiment is restored first; a teacher still missing
    after it (deleted from the cache since it was trained) gets a new experiment,
    `finetune-again-<n>`, since Tune does not rerun a trial that finished.
    """
    needed = settings.teachers
    at_top = not settings.study.runs_trials  # the sweep is its teacher stage: its tables are the sweep's
    cache = TeacherCache(settings.teacher_cache)
    for trial in needed:
        problem = cache.repair(trial.name)
        if problem is not None:
            print(f"teacher cache: {problem}; it was moved to {cache.broken_dir} and is fine-tuned again")
    import_published_teachers(
        [trial for trial in needed if "checkpoint" in trial.extra["teacher_spec"] and not cache.has(trial.name)], cache
    )
    missing = [trial for trial in needed if not cache.has(trial.name)]
    print(f"teachers: {len(missing)} to fine-tune, {len(needed) - len(missing)} cached in {settings.teacher_cache}")
    outcome = ExperimentOutcome(tables=None, interrupted=False, failed=0)
    for name in finetune_experiments(settings):
        if not missing or outcome.interrupted or outcome.failed:
            break
        resume = settings.resume and tune.Tuner.can_restore(str(settings.storage_dir / name))
        plan = grid_plan(missing, settings.options, experiment_constants(settings, study=FINETUNE_EXPERIMENT))
        outcome = run_experiment(
            name=name,
            study=FINETUNE_EXPERIMENT,
            trainable=TRAINABLES["finetune"],
            plan=plan,
            expected_trials=0 if resume else len(missing),  # a restored experiment keeps its own trial list
            settings=replace(settings, resume=resume),
            out_dir=settings.sweep_dir if at_top and name == FINETUNE_EXPERIMENT else settings.sweep_dir / name,
        )
        missing = [trial for trial in needed if not cache.has(trial.name)]
    if missing and not outcome.interrupted:
        print(f"teachers that could not be fine-tuned: {', '.join(trial.name for trial in missing)}")
        return replace(outcome, failed=max(outcome.failed, 1))
    return outcome


def finetune_experiments(settings: SweepSettings) -> list[str]:
    """The fine-tuning experiments to try in order: the last one saved (on --resume), then a new one."""
    names = [FINETUNE_EXPERIMENT, *(f"{FINETUNE_EXPERIMENT}-again-{n}" for n in range(1, 100))]
    existing = [name for name in names if (settings.storage_dir / name).exists()]
    if not existing:
        return names[:1]
    last = names.index(existing[-1])
    return names[last : last + 2] if settings.resume else names[last + 1 : last + 2]


def run_sweep(settings: SweepSettings) -> int:
    """The plan's teacher stage, then its trials (none for `finetune`); returns the exit code."""
    if settings.study.trainable == "tune":
        from asib_sweeps.cli.tune_runner import run_tuning

        return run_tuning(settings)
    teachers = resolve_teachers(settings)
    if teachers.interrupted or stop_requested():  # a SIGTERM that came after the teachers' fit ended
        return _stopped(settings)
    if teachers.failed:
        print(f"{teachers.failed} teacher fine-tuning trial(s) failed; the study's trials were not started")
        return EXIT_TRIALS_FAILED
    outcome = teachers
    if settings.study.runs_trials:
        plan = settings.study.tune_plan(
            settings.trials, settings.options, experiment_constants(settings, study=settings.study.name)
        )
        outcome = run_experiment(
            name=settings.study.name,
            study=settings.study.name,
            trainable=TRAINABLES[settings.study.trainable],
            plan=plan,
            expected_trials=len(settings.trials),
            settings=settings,
            out_dir=settings.sweep_dir,
        )
        if outcome.interrupted:
            return _stopped(settings)
    if outcome.tables is None:
        print("every teacher was already in the cache; nothing to run")
        return EXIT_OK
    print(summary_text(outcome.tables.trials, recorded_arm_order(settings.sweep_dir)))
    print(f"\nresults: {settings.sweep_dir}\nnext: asib-report {settings.sweep_dir}")
    if outcome.failed:
        print(
            f"{outcome.failed} trial(s) failed for good; their rows in trials.parquet hold status ERROR and the error"
        )
        return EXIT_TRIALS_FAILED
    return EXIT_OK


def _stopped(settings: SweepSettings) -> int:
    print(
        f"\nstopped before the sweep finished; its state is saved in {settings.storage_dir}.\n"
        f"continue with the same command and --resume"
    )
    return EXIT_INTERRUPTED
