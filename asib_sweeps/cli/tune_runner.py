"""Run `asib-sweep tune STUDY`: teachers of every selection seed, then one Optuna experiment per arm.

Layout under `<results>/<name>/`:

    tune/tune-<arm>/     Tune experiment of one arm's trials (search_spaces.tuning)
    tuning.parquet       the ledger: every trial of every arm (analysis.tuning)
    tuned.yaml           experiment file: the run's own keys, and `arms:` with each arm's choice

Every arm runs exactly `--budget` trials (Tune's num_samples); an arm that is stopped
short is marked interrupted and no experiment file is written, so a report never reads
a choice made on a smaller budget than the others. The ledger is written from Tune's
results after each arm, and again at the end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from ray import tune

from analysis.tuning import LEDGER_FILE, chosen_settings, ledger_text
from asib_sweeps.cli.sweep_runner import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TRIALS_FAILED,
    SweepSettings,
    experiment_constants,
    resolve_teachers,
)
from cluster.signals import stop_requested
from search_spaces import Trial
from search_spaces.tuning import METRIC, arm_space
from trainables import tune_trial

EXPERIMENT_FILE = "tuned.yaml"
PROGRESS_EVERY_S = 15


def run_tuning(settings: SweepSettings) -> int:
    """Teachers, then each arm's experiment in turn; writes the ledger and (when all finished) tuned.yaml."""
    teachers = resolve_teachers(settings)
    if teachers.interrupted or teachers.failed:
        print("the teachers did not all fine-tune; no tuning trial was started")
        return EXIT_INTERRUPTED if teachers.interrupted else EXIT_TRIALS_FAILED
    by_arm: dict[str, list[Trial]] = {}
    for trial in settings.trials:
        by_arm.setdefault(trial.labels["arm"], []).append(trial)
    frames = []
    for arm, trials in by_arm.items():
        grid = fit_arm(arm, trials, settings)
        frames.append(ledger_frame(grid, arm, trials))
        write_ledger(pd.concat(frames, ignore_index=True), settings.sweep_dir)
        if stop_requested() or arm_interrupted(frames[-1], budget=len(trials)):  # the later arms must not start
            print(f"tuning stopped during arm {arm}; continue it with the same command and --resume")
            return EXIT_INTERRUPTED
    ledger = pd.concat(frames, ignore_index=True)
    print(f"tuning ledger ({settings.sweep_dir / LEDGER_FILE}):\n{ledger_text(ledger)}")
    unscored = unscored_arms(ledger, list(by_arm))
    if unscored:
        print(f"arms without a complete trial: {', '.join(unscored)}; no {EXPERIMENT_FILE} written")
        return EXIT_TRIALS_FAILED
    failed = ledger[ledger["status"] == "ERROR"]
    if not failed.empty:
        counts = ", ".join(f"{arm} {count}" for arm, count in failed["arm"].value_counts(sort=False).items())
        print(f"trials that failed (their settings count against their arm's budget, unscored): {counts}")
    path = write_experiment_file(settings, ledger)
    target = settings.options.target
    print(f"\nchosen settings: {path}\nnext: asib-sweep {target} --config {path} --seeds 5 (report seeds: 0, 1, ...)")
    return EXIT_OK


def fit_arm(arm: str, trials: list[Trial], settings: SweepSettings) -> tune.ResultGrid:
    """One arm's experiment: its budget of TPE trials (restored and finished with settings.resume)."""
    experiment_dir = settings.storage_dir / f"tune-{arm}"
    resources = {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial}
    trainable = tune.with_resources(tune_trial, {k: v for k, v in resources.items() if v})
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # the compact classic status table (as sweep_runner)
    if settings.resume and tune.Tuner.can_restore(str(experiment_dir)):
        print(f"resuming {experiment_dir}")
        return tune.Tuner.restore(str(experiment_dir), trainable, resume_errored=True).fit()
    plan = settings.study.tune_plan(trials, settings.options, experiment_constants(settings, study="tune"))
    print(f"arm {arm}: {plan.num_samples} trials over {', '.join(arm_space(trials[0].config))}")
    reporter = tune.CLIReporter(
        metric_columns={"seeds_done": "seeds", METRIC: "score"},
        max_report_frequency=PROGRESS_EVERY_S,
        print_intermediate_tables=True,
    )
    tuner = tune.Tuner(
        trainable,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric=plan.metric,
            mode=plan.mode,
            search_alg=plan.search_alg,
            num_samples=plan.num_samples,
            max_concurrent_trials=settings.max_concurrent,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=experiment_dir.name,
            storage_path=str(settings.storage_dir.resolve()),
            failure_config=tune.FailureConfig(max_failures=settings.max_failures),
            progress_reporter=reporter,
            verbose=1,
        ),
    )
    return tuner.fit()


def unscored_arms(ledger: pd.DataFrame, arms: list[str]) -> list[str]:
    """Arms with no complete trial to choose from. A trial whose setting failed (a diverging loss,
    say) spent its share of the budget like any other and is kept, unscored, in the ledger;
    it does not keep its arm from choosing among the rest."""
    complete = ledger.loc[ledger["status"] == "TERMINATED", "arm"]
    return [arm for arm in arms if not (complete == arm).any()]


def arm_interrupted(frame: pd.DataFrame, budget: int) -> bool:
    """An arm's experiment that a stop (SIGINT, SIGTERM, the stop file) cut short: fewer trials than
    its budget, or one neither complete nor failed. Errors alone are not an interruption."""
    return len(frame) < budget or bool((frame["status"] == "INCOMPLETE").any())


def ledger_frame(grid: tune.ResultGrid, arm: str, trials: list[Trial]) -> pd.DataFrame:
    """The ledger rows of one arm's experiment, numbered in Tune's trial order."""
    template = trials[0]
    keys = list(arm_space(template.config))
    seeds = list(template.extra["selection_seeds"])
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        sampled = {key: _dotted(result.config["config"], key) for key in keys}
        complete = result.error is None and metrics.get("seeds_done") == len(seeds)
        row: dict[str, Any] = {
            "study": "tune",
            "tuned_study": template.extra["tuned_study"],
            "arm": arm,
            "trial_id": Path(result.path).name,
            "status": "TERMINATED" if complete else "ERROR" if result.error is not None else "INCOMPLETE",
            "error": None if result.error is None else str(result.error).splitlines()[0][:500],
            "selection_seeds": ",".join(map(str, seeds)),
            "seeds_done": int(metrics.get("seeds_done", 0)),
            "selection_score": metrics.get(METRIC) if complete else None,
            "settings": json.dumps(sampled, sort_keys=True),
        }
        row.update({f"val_acc_best_s{seed}": metrics.get(f"val_acc_best_s{seed}") for seed in seeds})
        row.update({f"knob.{key}": value for key, value in sampled.items()})
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values("trial_id", kind="stable").reset_index(drop=True)
    frame.insert(3, "number", range(len(frame)))
    return frame


def _dotted(config: Mapping[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node[part]
    return node


def write_ledger(ledger: pd.DataFrame, sweep_dir: Path) -> Path:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / LEDGER_FILE
    temporary = sweep_dir / f".{LEDGER_FILE}.tmp"
    ledger.to_parquet(temporary, index=False)
    temporary.replace(path)
    return path


def write_experiment_file(settings: SweepSettings, ledger: pd.DataFrame) -> Path:
    """tuned.yaml: the tuning run's own config keys (so the report run trains the same recipe) and `arms:`."""
    options = settings.options
    seeds = ledger["selection_seeds"].iloc[0]
    header = (
        f"# Written by asib-sweep tune {options.target}: {options.budget} Optuna TPE trials per arm, each scored on "
        f"the mean best val_acc over selection seeds {seeds}.\n"
        f"# Report run: asib-sweep {options.target} --config {EXPERIMENT_FILE} (seeds outside the selection range).\n"
    )
    body: dict[str, Any] = dict(settings.experiment_keys)
    chosen = chosen_settings(ledger)
    given = {arm: dict(values) for arm, values in options.arm_settings.items()}  # --config's arms: stay, under the choice
    body["arms"] = {arm: {**given.get(arm, {}), **chosen.get(arm, {})} for arm in [*given, *chosen]}
    path = settings.sweep_dir / EXPERIMENT_FILE
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    return path
