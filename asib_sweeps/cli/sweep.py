"""asib-sweep: run one study (teachers included) as Ray Tune experiments.

    asib-sweep {finetune,ablation,beta,sota,overlap,reproduce} [options]
    asib-sweep tune {ablation,sota,overlap} --budget N [options]
    asib-sweep eval CHECKPOINT [options]

Every option and the whole trial set are validated before Ray starts: a bad option
exits with code 2 and a message naming it. The parsed words become a typed
`SweepRequest` (asib_sweeps.cli.sweep_request), as `run_study`'s keywords do, and both
go through `run_request`. Heavy modules are imported where they are used: `--help`, the
option checks and `--dry-run` need neither torch nor Ray. `--dry-run` prints the plan
(teachers to fine-tune, one line per trial, and `<N> trials` last) without starting Ray.
`eval` is not a study: it evaluates one saved checkpoint (asib_sweeps.cli.eval).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from asib_sweeps.cli import status
from asib_sweeps.cli.cluster_launch import launch, prepare_cluster
from asib_sweeps.cli.input_checks import (
    DEFAULT_TEACHER_FOLDER,
    Fail,
    absolute,
    check_input_files,
    check_layout,
    check_sweep_name,
    check_writable_folder,
    with_absolute_paths,
)
from asib_sweeps.cli.plan_checks import cluster_gpus_per_node, data_plan_error, gpu_error, local_gpu_count, ray_is_running
from asib_sweeps.cli.protocol_checks import (
    check_derived_seeds,
    check_report_seeds,
    check_tuned_keys,
    experiment_keys,
    with_arm_settings,
)
from asib_sweeps.cli.sweep_options import (  # noqa: F401 - DATASET_NAMES: a name of this module before
    COMMANDS,
    DATASET_NAMES,
    _Fail,
    build_parser,
    check_resources,
    study_options,
)
from asib_sweeps.cli.sweep_request import SweepRequest, request_from_args
from asib_sweeps.cli.trackers import chosen_trackers
from search_spaces import Study, StudyOptions, get_study
from search_spaces.options import STUDY_OPTION_SPECS
from search_spaces.plan import SweepPlan, plan_sweep

if TYPE_CHECKING:  # Imported where they are used: `--help` and usage errors need neither torch nor Ray.
    from asib_sweeps.cli.sweep_runner import SweepSettings
    from asib_sweeps.cli.sweep_lock import SweepLock
    from asib_sweeps.config import RunConfig
    from asib_sweeps.config_files import Layer
    from asib_sweeps.teacher_cache import TeacherCache


def base_config(request: SweepRequest, fail: Fail) -> RunConfig:
    """The study's base config: data-set defaults < --config (and what it extends) < data options < --set.

    The data set's defaults apply whichever way it is named (--dataset, data.dataset in
    --config or in --set); paths come out absolute and the data files are probed
    (asib_sweeps.cli.input_checks).
    """
    from asib_sweeps.config import ConfigError, amp_problem, default_config
    from asib_sweeps.config_files import Layer, layered_config

    try:
        files = _experiment_file(request.config, fail) if request.config is not None else []
        overrides = list(request.overrides)
        dataset = _dataset(request, files, overrides, fail)
        data_options = []
        if request.data_root is not None:
            data_options.append(Layer(f"--data-root {request.data_root}", {"data.root": str(request.data_root)}))
        if request.download:
            data_options.append(Layer("--download", {"data.download": True}))
        config = layered_config(default_config(dataset), [*files, *data_options, *overrides])
    except ConfigError as error:
        fail(str(error))
    config = with_absolute_paths(config)
    check_input_files(config, fail)
    if request.gpus_per_trial == 0:
        if config.runtime.device.startswith("cuda"):
            fail(f"runtime.device={config.runtime.device!r} needs --gpus-per-trial > 0")
        amp = amp_problem(config.runtime.amp, "cpu")
        if amp:
            fail(f"{amp} (trials without a GPU run on the CPU): pass --gpus-per-trial > 0")
    return config


def _dataset(request: SweepRequest, files: list[Layer], overrides: list[Layer], fail: Fail) -> str:
    """The one data set --dataset, the --config files and --set name (they must agree); digits if none does."""
    from asib_sweeps.config_files import dataset_of

    named = {"--dataset": request.dataset, f"--config {request.config}": dataset_of(files), "--set": dataset_of(overrides)}
    given = {source: value for source, value in named.items() if value is not None}
    for source, value in given.items():
        if value not in DATASET_NAMES:
            fail(f"{source}: data.dataset must be one of {', '.join(DATASET_NAMES)}; got {value!r}")
    if len(set(given.values())) > 1:
        listed = ", ".join(f"{source} gives {value}" for source, value in given.items())
        fail(f"the data set is named differently by {listed}; name one")
    return next(iter(given.values()), "digits")


def _experiment_file(path: Path, fail: Fail) -> list[Layer]:
    from asib_sweeps.config import ConfigError
    from asib_sweeps.config_files import read_experiment_file

    try:
        return read_experiment_file(path)
    except ConfigError as error:
        fail(f"--config {path}: {error}")


def check_gpus_here(request: SweepRequest, fail: Fail) -> None:
    """--gpus-per-trial against the GPUs of this machine, or of the Ray this process already runs.

    --cluster checks against slurm.yaml's nodes, --address once connected. Counting GPUs
    imports torch, so it is skipped when no GPU is asked for (zero always fits).
    """
    if request.address is not None or request.cluster is not None or request.gpus_per_trial == 0:
        return
    # A Ray this process already runs (a notebook, the tests) is where the trials go; else a private one.
    where = (cluster_gpus_per_node(), "the running Ray") if ray_is_running() else None
    available, name = where or (float(local_gpu_count()), "this machine")
    check_gpus(request.gpus_per_trial, available, name, fail)


def check_sweep_folder(sweep_dir: Path, *, resume: bool, fail: Fail) -> None:
    """A new sweep never mixes into an old one's folder; --resume needs one to continue."""
    tune_dir = sweep_dir / "tune"
    started = tune_dir.is_dir() and any(tune_dir.iterdir())
    if started and not resume:
        fail(f"{sweep_dir} already holds a sweep; pass --resume to continue it, or --name for a new one")
    if resume and not started:
        fail(f"--resume: nothing to resume in {sweep_dir}")


def checked_plan(study: Study, config: RunConfig, options: StudyOptions, fail: Fail) -> SweepPlan:
    """The sweep's plan (teachers, then trials); a trial, a teacher (a published file is read and
    checked here) or a data split that cannot be planned is a usage error now."""
    from asib_sweeps.config import ConfigError
    from asib_sweeps.data.errors import DataError

    try:
        plan = plan_sweep(study, config, options)
    except (ConfigError, DataError, ValueError) as error:
        fail(f"the study's trials are not valid with these options (--config / --set / --dataset): {error}")
    message = data_plan_error(plan.runs)
    if message is not None:
        fail(f"the study's data cannot be split as configured (--config / --set / --dataset): {message}")
    return plan


def protocol_plan(
    request: SweepRequest, study: Study, config: RunConfig, options: StudyOptions, fail: Fail
) -> SweepPlan:
    """The plan, with the experiment file's per-arm settings, after the protocol's checks (protocol_checks)."""
    check_derived_seeds(study, config, fail)
    options = with_arm_settings(request, study, config, options, fail)
    check_tuned_keys(request, study, config, options, fail)
    plan = checked_plan(study, config, options, fail)
    check_report_seeds(study, plan.trials, fail)
    return plan


def print_dry_run(plan: SweepPlan, cache: TeacherCache) -> None:
    """Teachers to fine-tune (counted), one line per trial the sweep would start last, and `<N> trials`.

    The trials listed are the study's; a plan that stops after its teachers (`finetune`)
    lists the fine-tunings it would run instead.
    """
    study, trials, options = plan.study, plan.trials, plan.options
    missing = [teacher for teacher in plan.teachers if not cache.has(teacher.name)]
    published = [teacher for teacher in missing if "checkpoint" in teacher.extra.get("teacher_spec", {})]
    imports = f", {len(published)} published to measure" if published else ""
    cached = len(plan.teachers) - len(missing)
    print(f"teachers: {len(missing) - len(published)} to fine-tune{imports}, {cached} cached in {cache.root}")
    for teacher in missing:
        if (cache.root / teacher.name).exists():
            print(f"  broken: {cache.problem(teacher.name)} (a run moves it to {cache.broken_dir}, then fine-tunes it)")
    if trials:
        for teacher in missing:
            print(f"  {'measure' if teacher in published else 'fine-tune'} {teacher.name}")
    if options.asha and "asha" in study.options:
        print("early stopping: ASHA on val_acc (max)")
    if study.trainable == "tune":
        arms = list(dict.fromkeys(trial.labels["arm"] for trial in trials))
        seeds = ", ".join(map(str, trials[0].extra["selection_seeds"])) if trials else "-"
        print(f"budget: {options.budget} Optuna TPE trials per arm for {', '.join(arms)}; selection seeds {seeds}")
    own = trials if study.runs_trials else missing
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
    fail = _Fail(parser, args.study)
    return run_request(parsed_request(args, fail), fail)[0]


def request_from_argv(argv: Sequence[str]) -> tuple[SweepRequest, Fail]:
    """The request `asib-sweep ARGV` makes, and the `fail` it reports usage errors with (scripts, the tests)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    fail = _Fail(parser, args.study)
    return parsed_request(args, fail), fail


def parsed_request(args: argparse.Namespace, fail: Fail) -> SweepRequest:
    """The request asib-sweep's words make; a `--set` item that is not KEY=VALUE (or not YAML) is a usage error."""
    if not args.overrides:
        return request_from_args(args, ())
    from asib_sweeps.config import ConfigError
    from asib_sweeps.config_files import set_layers

    try:
        overrides = tuple(set_layers(args.overrides))
    except ConfigError as error:
        fail(str(error))
    return request_from_args(args, overrides)


def run_request(request: SweepRequest, fail: Fail) -> tuple[int, Path]:
    """Check the request, plan the trials and run them; (exit code, sweep folder).

    asib-sweep and `run_study` both come here: `fail` exits with code 2 for the one and
    raises for the other.
    """
    study = get_study(request.study)
    check_resources(request, fail)
    cluster, request = prepare_cluster(request, fail)
    request = replace(request, results=absolute(request.results))
    options = study_options(request, fail)
    name = request.name if request.name is not None else study.name
    check_sweep_name(name, fail)
    check_gpus_here(request, fail)
    config = base_config(request, fail)
    plan = protocol_plan(request, study, config, options, fail)
    sweep_dir, cache, lock = check_outputs(request, name, fail)
    record = recorded_record(request, study, cache, config, sweep_dir, fail)
    if request.dry_run:
        print_dry_run(plan, cache)
        return 0, sweep_dir
    from asib_sweeps.cli.sweep_record import with_arm_order, write_record
    from asib_sweeps.cli.sweep_runner import run_sweep
    from cluster.dashboard import access_hint, auth_mode
    from cluster.local import ray_cluster

    try:
        auth_mode()
    except ValueError as error:
        fail(str(error))
    if cluster is not None:
        return launch(request, cluster, parser=build_parser(), name=name, fail=fail), sweep_dir
    settings = sweep_settings(request, plan, name=name, cache=cache, config=config)
    with lock.held(fail), ray_cluster(address=request.address, dashboard=request.dashboard is not False) as cluster:
        if request.address is not None:  # a joined cluster's GPUs are known only once connected
            check_gpus(request.gpus_per_trial, cluster_gpus_per_node(), f"the cluster at {request.address}", fail)
        write_record(sweep_dir, with_arm_order(record, plan.trials or plan.teachers))  # what the sweep runs last
        where = "a private local Ray" if cluster.started_here and request.address is None else "Ray"
        print(f"study {study.name}: {len(plan.trials)} trials on {where} at {cluster.address}")
        print(f"results go to {settings.sweep_dir}")
        print(f"Tune storage: {settings.storage_dir}; teacher cache: {settings.teacher_cache}")
        print(access_hint(cluster.dashboard_url, cluster.auth_mode))
        return run_sweep(settings), sweep_dir


def sweep_settings(
    request: SweepRequest, plan: SweepPlan, *, name: str, cache: TeacherCache, config: RunConfig
) -> SweepSettings:
    """What the runner needs of the checked options and the plan."""
    from asib_sweeps.cli.sweep_runner import SweepSettings

    return SweepSettings(
        study=plan.study,
        options=plan.options,
        trials=plan.trials,
        teachers=plan.teachers,
        results_dir=request.results,
        name=name,
        teacher_cache=cache.root,
        cpus_per_trial=request.cpus_per_trial,
        gpus_per_trial=request.gpus_per_trial,
        max_concurrent=request.max_concurrent,
        max_failures=request.max_failures,
        checkpoint_every=request.checkpoint_every,
        resume=request.resume,
        checkpoint_every_s=request.checkpoint_every_s,
        experiment_keys=experiment_keys(config),
        trackers=chosen_trackers(request.track),
    )  # fmt: skip


def check_outputs(request: SweepRequest, name: str, fail: Fail) -> tuple[Path, TeacherCache, SweepLock]:
    """The sweep folder, the teacher cache and the folder's lock, all checked; nothing is written."""
    from asib_sweeps.cli.sweep_lock import SweepLock
    from asib_sweeps.teacher_cache import TeacherCache

    sweep_dir = request.results / name
    cache = TeacherCache(absolute(request.teacher_cache or request.results / DEFAULT_TEACHER_FOLDER))
    check_layout(sweep_dir, cache.root, fail)
    check_writable_folder(sweep_dir, "--results", fail)
    check_writable_folder(cache.root, "--teacher-cache", fail)
    lock = SweepLock(sweep_dir)
    lock.refuse_if_held(fail)
    check_sweep_folder(sweep_dir, resume=request.resume, fail=fail)
    return sweep_dir, cache, lock


def recorded_record(
    request: SweepRequest, study: Study, cache: TeacherCache, config: RunConfig, sweep_dir: Path, fail: Fail
) -> dict[str, object]:
    """The sweep's record (asib_sweeps.cli.sweep_record); on --resume, checked against the saved one."""
    from asib_sweeps.cli.sweep_record import sweep_record

    record = sweep_record(study=study.name, options=recorded_options(request, study, cache), config=config)
    check_resume_record(sweep_dir, record, resume=request.resume, fail=fail)
    return record


def recorded_options(request: SweepRequest, study: Study, cache: TeacherCache) -> dict[str, object]:
    """The run options a resume must repeat (see asib_sweeps.cli.sweep_record)."""
    options: dict[str, object] = {
        "--gpus-per-trial": request.gpus_per_trial,
        "--cpus-per-trial": request.cpus_per_trial,
        "--max-concurrent": request.max_concurrent,
        "--max-failures": request.max_failures,
        "--checkpoint-every": request.checkpoint_every,
        "--checkpoint-every-s": request.checkpoint_every_s,
        "--teacher-cache": str(cache.root.resolve()),
        "--track": request.value("track"),
    }
    for spec in STUDY_OPTION_SPECS:  # by flag (or the positional's metavar), as given (None: not given)
        if spec.name in study.options:
            options[spec.flag] = request.value(spec.field)
    return options


def check_resume_record(sweep_dir: Path, record: dict[str, object], *, resume: bool, fail: Fail) -> None:
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


def check_gpus(gpus_per_trial: float, available: float, where: str, fail: Fail) -> None:
    message = gpu_error(gpus_per_trial, available, where)
    if message is not None:
        fail(message)


if __name__ == "__main__":
    sys.exit(main())
