"""asib-sweep: run one study (teachers included) as Ray Tune experiments.

    asib-sweep {finetune,ablation,beta,sota,overlap,reproduce} [options]
    asib-sweep tune {ablation,sota} --budget N [options]
    asib-sweep eval CHECKPOINT [options]

Every option and the whole trial set are validated before Ray starts: a bad option
exits with code 2 and a message naming it. Heavy modules are imported where they are
used: `--help` and the option checks need neither torch nor Ray, `--dry-run` needs
torch (the config's method registry) but not Ray. `--dry-run` prints the plan (teachers to
fine-tune, one line per trial, and `<N> trials` last) without starting Ray. `eval`
is not a study: it evaluates one saved checkpoint (asib_sweeps.cli.eval).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from asib_sweeps.cli import status
from asib_sweeps.cli.cluster_launch import launch, prepare_cluster
from asib_sweeps.cli.plan_checks import cluster_gpus_per_node, data_plan_error, gpu_error, local_gpu_count, ray_is_running
from asib_sweeps.cli.protocol_checks import (
    check_derived_seeds,
    check_report_seeds,
    check_tuned_keys,
    experiment_keys,
    with_arm_settings,
)
from asib_sweeps.cli.sweep_options import (  # noqa: F401 - DATASET_NAMES and DEFAULTS: names of this module before
    COMMANDS,
    DATASET_NAMES,
    DEFAULTS,
    _Fail,
    build_parser,
    check_resources,
    study_options,
)
from asib_sweeps.cli.trackers import chosen_trackers
from search_spaces import Study, StudyOptions, Trial, get_study

if TYPE_CHECKING:  # Imported where they are used: `--help` and usage errors need neither torch nor Ray.
    from asib_sweeps.config import RunConfig
    from asib_sweeps.config_files import Layer
    from asib_sweeps.teachers import TeacherCache

DOWNLOADABLE = ("cifar100",)


def base_config(args: argparse.Namespace, fail: _Fail) -> RunConfig:
    """The study's base config: data-set defaults < --config (and what it extends) < data options < --set."""
    from asib_sweeps.config import ConfigError, amp_problem, default_config
    from asib_sweeps.config_files import Layer, dataset_of, layered_config, set_layers

    try:
        files = _experiment_file(args.config, fail) if args.config is not None else []
        from_file = dataset_of(files)
        if args.dataset is not None and from_file not in (None, args.dataset):
            fail(f"--dataset {args.dataset} contradicts data.dataset: {from_file} in --config {args.config}")
        if from_file is not None and from_file not in DATASET_NAMES:
            fail(f"--config {args.config}: data.dataset must be one of {', '.join(DATASET_NAMES)}; got {from_file!r}")
        dataset = args.dataset or from_file or "digits"
        data_options = []
        if args.data_root is not None:
            data_options.append(Layer(f"--data-root {args.data_root}", {"data.root": str(args.data_root)}))
        if args.download:
            data_options.append(Layer("--download", {"data.download": True}))
        config = layered_config(default_config(dataset), [*files, *data_options, *set_layers(args.overrides)])
    except ConfigError as error:
        fail(str(error))
    check_data_options(config, fail)
    if args.gpus_per_trial == 0:
        if config.runtime.device.startswith("cuda"):
            fail(f"runtime.device={config.runtime.device!r} needs --gpus-per-trial > 0")
        amp = amp_problem(config.runtime.amp, "cpu")
        if amp:
            fail(f"{amp} (trials without a GPU run on the CPU): pass --gpus-per-trial > 0")
    return config


def _experiment_file(path: Path, fail: _Fail) -> list[Layer]:
    from asib_sweeps.config import ConfigError
    from asib_sweeps.config_files import read_experiment_file

    try:
        return read_experiment_file(path)
    except ConfigError as error:
        fail(f"--config {path}: {error}")


def check_data_options(config: RunConfig, fail: _Fail) -> None:
    data = config.data
    if data.dataset != "digits":
        if data.root is None:
            fail(f"--data-root is required for --dataset {data.dataset}")
        if not data.download and not Path(data.root).expanduser().is_dir():
            fail(f"--data-root must be a directory, got --data-root {data.root}")
    if data.download and data.dataset not in DOWNLOADABLE:
        fail(f"--download works for {', '.join(DOWNLOADABLE)} only; got --dataset {data.dataset}")


def check_gpus_here(args: argparse.Namespace, fail: _Fail) -> None:
    """--gpus-per-trial against the GPUs of this machine, or of the Ray this process already runs.

    --cluster checks against slurm.yaml's nodes, --address once connected. Counting GPUs
    imports torch, so it is skipped when no GPU is asked for (zero always fits).
    """
    if args.address is not None or args.cluster is not None or args.gpus_per_trial == 0:
        return
    # A Ray this process already runs (a notebook, the tests) is where the trials go; else a private one.
    where = (cluster_gpus_per_node(), "the running Ray") if ray_is_running() else None
    available, name = where or (float(local_gpu_count()), "this machine")
    check_gpus(args.gpus_per_trial, available, name, fail)


def check_sweep_folder(sweep_dir: Path, *, resume: bool, fail: _Fail) -> None:
    """A new sweep never mixes into an old one's folder; --resume needs one to continue."""
    tune_dir = sweep_dir / "tune"
    started = tune_dir.is_dir() and any(tune_dir.iterdir())
    if started and not resume:
        fail(f"{sweep_dir} already holds a sweep; pass --resume to continue it, or --name for a new one")
    if resume and not started:
        fail(f"--resume: nothing to resume in {sweep_dir}")


def plan_trials(study: Study, config: RunConfig, options: StudyOptions, fail: _Fail) -> list[Trial]:
    """The study's trials; any data split one of them (or a teacher) cannot draw is an error now."""
    from asib_sweeps.config import ConfigError
    from asib_sweeps.data import DataError
    from search_spaces.finetune import teacher_trials
    from search_spaces.study import trial_runs

    try:
        trials = study.trials(config, options)
        runs = trial_runs(trials)
        if study.trainable != "finetune":  # a published teacher's file is read and checked here
            runs += [teacher.config for teacher in teacher_trials(runs)]
    except (ConfigError, DataError, ValueError) as error:
        fail(f"the study's trials are not valid with these options (--config / --set / --dataset): {error}")
    message = data_plan_error(runs)
    if message is not None:
        fail(f"the study's data cannot be split as configured (--config / --set / --dataset): {message}")
    return trials


def protocol_plan(
    args: argparse.Namespace, study: Study, config: RunConfig, options: StudyOptions, fail: _Fail
) -> tuple[StudyOptions, list[Trial]]:
    """The trials, with the experiment file's per-arm settings, after the protocol's checks (protocol_checks)."""
    check_derived_seeds(study, config, fail)
    options = with_arm_settings(args, study, config, options, fail)
    check_tuned_keys(args, study, config, options, fail)
    trials = plan_trials(study, config, options, fail)
    check_report_seeds(study, trials, fail)
    return options, trials


def print_dry_run(study: Study, trials: list[Trial], cache: TeacherCache, options: StudyOptions) -> None:
    """Teachers to fine-tune (counted), one line per trial of the study, and `<N> trials` last."""
    from search_spaces.finetune import teacher_trials
    from search_spaces.study import trial_runs

    is_finetune = study.trainable == "finetune"
    teachers = trials if is_finetune else teacher_trials(trial_runs(trials))
    missing = [teacher for teacher in teachers if not cache.has(teacher.name)]
    published = [teacher for teacher in missing if "checkpoint" in teacher.extra.get("teacher_spec", {})]
    imports = f", {len(published)} published to measure" if published else ""
    cached = len(teachers) - len(missing)
    print(f"teachers: {len(missing) - len(published)} to fine-tune{imports}, {cached} cached in {cache.root}")
    if not is_finetune:
        for teacher in missing:
            print(f"  {'measure' if teacher in published else 'fine-tune'} {teacher.name}")
    if options.asha and "asha" in study.options:
        print("early stopping: ASHA on val_acc (max)")
    if study.trainable == "tune":
        arms = list(dict.fromkeys(trial.labels["arm"] for trial in trials))
        seeds = ", ".join(map(str, trials[0].extra["selection_seeds"])) if trials else "-"
        print(f"budget: {options.budget} Optuna TPE trials per arm for {', '.join(arms)}; selection seeds {seeds}")
    own = missing if is_finetune else trials
    for number, trial in enumerate(own, start=1):
        labels = " ".join(f"{key}={value}" for key, value in trial.labels.items())
        print(f"trial {number}: {labels}")
    print(f"{len(own)} trials")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):  # progress and the dashboard address reach a job log at once
        sys.stdout.reconfigure(line_buffering=True)
    if args.study == status.NAME:
        return status.run(args)
    if args.study in COMMANDS:
        return COMMANDS[args.study].run(args, _Fail(parser, args.study))
    return run_parsed(parser, args)[0]


def run_parsed(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[int, Path]:
    """Validate the parsed options, plan the trials and run them; (exit code, sweep folder)."""
    study = get_study(args.study)
    fail = _Fail(parser, study.name)
    check_resources(args, fail)
    cluster = prepare_cluster(args, fail)
    options = study_options(args, fail)
    name = args.name or study.name
    if Path(name).name != name or name in (".", ".."):
        fail(f"--name must be a plain folder name, got --name {name!r}")
    check_gpus_here(args, fail)
    config = base_config(args, fail)  # from here on torch is imported (the config's method registry)
    options, trials = protocol_plan(args, study, config, options, fail)
    sweep_dir = args.results / name
    from asib_sweeps.teachers import TeacherCache

    cache = TeacherCache(args.teacher_cache or args.results / "teachers")
    if args.dry_run:
        print_dry_run(study, trials, cache, options)
        return 0, sweep_dir
    check_sweep_folder(sweep_dir, resume=args.resume, fail=fail)
    from asib_sweeps.cli.sweep_record import sweep_record, write_record
    from asib_sweeps.cli.sweep_runner import SweepSettings, run_sweep
    from cluster.dashboard import access_hint, auth_mode
    from cluster.local import ray_cluster

    record = sweep_record(study=study.name, options=recorded_options(args, study, cache), config=config)
    check_resume_record(sweep_dir, record, resume=args.resume, fail=fail)
    try:
        auth_mode()
    except ValueError as error:
        fail(str(error))
    if cluster is not None:
        return launch(args, cluster, parser=parser, study=study.name, name=name, fail=fail), sweep_dir
    settings = SweepSettings(
        study=study,
        options=options,
        trials=trials,
        results_dir=args.results,
        name=name,
        teacher_cache=cache.root,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
        max_failures=args.max_failures,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        checkpoint_every_s=args.checkpoint_every_s,
        experiment_keys=experiment_keys(config),
        trackers=chosen_trackers(args.track),
    )
    with ray_cluster(address=args.address, dashboard=args.dashboard is not False) as cluster:
        if args.address is not None:  # a joined cluster's GPUs are known only once connected
            check_gpus(args.gpus_per_trial, cluster_gpus_per_node(), f"the cluster at {args.address}", fail)
        write_record(sweep_dir, record)
        where = "a private local Ray" if cluster.started_here and args.address is None else "Ray"
        print(f"study {study.name}: {len(trials)} trials on {where} at {cluster.address}")
        print(f"results go to {settings.sweep_dir}")
        print(f"Tune storage: {settings.storage_dir}; teacher cache: {settings.teacher_cache}")
        print(access_hint(cluster.dashboard_url, cluster.auth_mode))
        return run_sweep(settings), sweep_dir


def recorded_options(args: argparse.Namespace, study: Study, cache: TeacherCache) -> dict[str, object]:
    """The run options a resume must repeat (see asib_sweeps.cli.sweep_record)."""
    options: dict[str, object] = {
        "--gpus-per-trial": args.gpus_per_trial,
        "--cpus-per-trial": args.cpus_per_trial,
        "--max-concurrent": args.max_concurrent,
        "--max-failures": args.max_failures,
        "--checkpoint-every": args.checkpoint_every,
        "--checkpoint-every-s": args.checkpoint_every_s,
        "--teacher-cache": str(cache.root.resolve()),
        "--track": args.track,
    }
    flags = {"seeds": "--seeds", "samples": "--samples", "asha": "--asha", "target": "--for", "budget": "--budget"}
    flags.update({"selection_seeds": "--selection-seeds", "margin": "--margin", "arms": "--arms"})
    for option, flag in flags.items():
        if option in study.options:
            options[flag] = getattr(args, option)
    if "tuned" in study.options:
        options["STUDY"] = args.target
    if "overlaps" in study.options:
        options["--overlaps"] = getattr(args, "overlaps", None)
    return options


def check_resume_record(sweep_dir: Path, record: dict[str, object], *, resume: bool, fail: _Fail) -> None:
    """On --resume, every recorded option must equal the saved sweep's."""
    if not resume:
        return
    from asib_sweeps.cli.sweep_record import read_record, resume_conflicts

    try:
        saved = read_record(sweep_dir)
    except ValueError as error:
        fail(f"--resume: {error}")
    if saved is None:
        fail(f"--resume: {sweep_dir} has no sweep.json, so its options cannot be checked; start a new sweep (--name)")
    conflicts = resume_conflicts(saved, record)
    if conflicts:
        listed = "\n  ".join(conflicts)
        fail(
            f"--resume continues the saved sweep as it was started; these options differ from it:\n  {listed}\n"
            "pass the options it was started with (only --address and --dashboard/--no-dashboard may change)"
        )


def check_gpus(gpus_per_trial: float, available: float, where: str, fail: _Fail) -> None:
    message = gpu_error(gpus_per_trial, available, where)
    if message is not None:
        fail(message)


if __name__ == "__main__":
    sys.exit(main())
