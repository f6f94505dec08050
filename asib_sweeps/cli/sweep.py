"""asib-sweep: run one study (teachers included) as Ray Tune experiments.

    asib-sweep {finetune,ablation,beta,sota,overlap} [options]

Every option and the whole trial set are validated before Ray starts: a bad option
exits with code 2 and a message naming it. `--dry-run` prints the plan (teachers to
fine-tune, one line per trial, and `<N> trials` last) without starting Ray.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from asib_sweeps.cli import status
from asib_sweeps.cli.cluster_launch import add_cluster_options, launch, prepare_cluster
from asib_sweeps.cli.sweep_runner import SweepSettings, run_sweep
from asib_sweeps.config import DATASET_NAMES, ConfigError, RunConfig, apply_overrides, build_config, default_config
from asib_sweeps.data import DataError
from asib_sweeps.teachers import TeacherCache
from cluster.dashboard import access_hint, auth_mode
from cluster.local import ray_cluster
from search_spaces import STUDIES, Study, StudyOptions, Trial, get_study
from search_spaces.finetune import teacher_trials
from search_spaces.study import OVERLAP_PERCENTS

DOWNLOADABLE = ("cifar100",)
DEFAULTS = StudyOptions()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asib-sweep",
        description="Run an ASIB study as Ray Tune sweeps: teachers first (cached), then the study's trials.",
    )
    studies = parser.add_subparsers(dest="study", required=True, metavar="STUDY")
    shared = _shared_options()
    for study in STUDIES.values():
        sub = studies.add_parser(study.name, parents=[shared], help=study.summary, description=study.summary)
        _add_study_options(sub, study)
    status.add_parser(studies)
    return parser


def _shared_options() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    data = shared.add_argument_group("data and config")
    data.add_argument("--dataset", choices=DATASET_NAMES, default="digits", help="data set (default: digits, embedded)")
    data.add_argument("--data-root", type=Path, help="folder of the data set (required except for digits)")
    data.add_argument("--download", action="store_true", help="download the data set into --data-root (cifar100)")
    data.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="typed override of a config field, e.g. --set epochs=240 --set optim.lr=0.01 (repeatable)",
    )
    out = shared.add_argument_group("results")
    out.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results/)")
    out.add_argument("--name", help="sweep name, the folder under --results (default: the study)")
    out.add_argument("--teacher-cache", type=Path, help="teacher cache folder (default: <results>/teachers)")
    out.add_argument(
        "--resume", action="store_true", help="continue the sweep saved under <results>/<name> (its saved trial set)"
    )
    out.add_argument("--dry-run", action="store_true", help="print the teachers and trials, run nothing")
    run = shared.add_argument_group("trials")
    run.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per trial, fractions allowed (default 0)")
    run.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial (default 1)")
    run.add_argument("--max-concurrent", type=int, help="most trials at once (default: as many as resources allow)")
    run.add_argument("--max-failures", type=int, default=2, help="retries of a failing trial from its checkpoint")
    run.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints (last always kept)")
    where = shared.add_argument_group("cluster")
    where.add_argument("--address", help="join this running Ray cluster instead of starting a private one")
    where.add_argument(
        "--dashboard",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Ray dashboard on 127.0.0.1 with token auth (default: on when ray[default] is installed)",
    )
    add_cluster_options(where)
    return shared


def _add_study_options(sub: argparse.ArgumentParser, study: Study) -> None:
    group = sub.add_argument_group(f"{study.name} options")
    if "seeds" in study.options:
        group.add_argument(
            "--seeds", type=int, default=DEFAULTS.seeds, help=f"seeds per arm (default {DEFAULTS.seeds})"
        )
    if "samples" in study.options:
        group.add_argument("--samples", type=int, default=DEFAULTS.samples, help=f"trials (default {DEFAULTS.samples})")
    if "asha" in study.options:
        group.add_argument("--asha", action="store_true", help="ASHA early stopping on val_acc")
    if "target" in study.options:
        targets = [name for name in STUDIES if name != study.name]
        group.add_argument(
            "--for", dest="target", choices=targets, default=DEFAULTS.target, help="the study whose teachers to train"
        )
    if "overlaps" in study.options:
        group.add_argument(
            "--overlaps",
            type=int,
            nargs="+",
            metavar="P",
            help=f"class overlaps in %% (default {' '.join(map(str, OVERLAP_PERCENTS))})",
        )


def study_options(args: argparse.Namespace, fail: _Fail) -> StudyOptions:
    for option, minimum in (("seeds", 1), ("samples", 1)):
        value = getattr(args, option, None)
        if value is not None and value < minimum:
            fail(f"--{option} must be >= {minimum}, got --{option}={value}")
    overlaps = getattr(args, "overlaps", None)
    if overlaps is not None:
        if getattr(args, "target", "overlap") != "overlap":
            fail(f"--overlaps applies to the overlap study only; got --for {args.target}")
        bad = [p for p in overlaps if not 0 <= p <= 100]
        if bad or len(set(overlaps)) != len(overlaps):
            fail(f"--overlaps must be distinct percentages in 0..100, got --overlaps {' '.join(map(str, overlaps))}")
    return StudyOptions(
        seeds=getattr(args, "seeds", DEFAULTS.seeds),
        samples=getattr(args, "samples", DEFAULTS.samples),
        asha=getattr(args, "asha", DEFAULTS.asha),
        overlaps=tuple(overlaps) if overlaps is not None else OVERLAP_PERCENTS,
        target=getattr(args, "target", DEFAULTS.target),
    )


class _Fail:
    """Calling it reports a usage error (exit code 2) through the study's parser."""

    def __init__(self, parser: argparse.ArgumentParser, study: str) -> None:
        self.parser, self.study = parser, study

    def __call__(self, message: str) -> NoReturn:
        self.parser.exit(2, f"asib-sweep {self.study}: error: {message}\n")


def base_config(args: argparse.Namespace, fail: _Fail) -> RunConfig:
    """The study's base config: the data set's defaults, the data options, then --set."""
    defaults = default_config(args.dataset).model_dump()
    defaults["data"]["download"] = args.download
    if args.data_root is not None:
        defaults["data"]["root"] = str(args.data_root)
    try:
        config = apply_overrides(build_config(defaults), list(args.overrides))
    except ConfigError as error:
        fail(f"--set: {error}")
    data = config.data
    if data.dataset != "digits":
        if data.root is None:
            fail(f"--data-root is required for --dataset {data.dataset}")
        if not data.download and not Path(data.root).expanduser().is_dir():
            fail(f"--data-root must be a directory, got --data-root {data.root}")
    if data.download and data.dataset not in DOWNLOADABLE:
        fail(f"--download works for {', '.join(DOWNLOADABLE)} only; got --dataset {data.dataset}")
    if args.gpus_per_trial == 0:
        if config.device.startswith("cuda"):
            fail(f"device={config.device!r} needs --gpus-per-trial > 0")
        if config.amp:
            fail("amp=true needs a GPU: pass --gpus-per-trial > 0")
    return config


def check_resources(args: argparse.Namespace, fail: _Fail) -> None:
    gpus = args.gpus_per_trial
    if gpus < 0:
        fail(f"--gpus-per-trial must be >= 0, got --gpus-per-trial={gpus:g}")
    if gpus > 1 and not float(gpus).is_integer():
        fail(f"--gpus-per-trial above 1 must be a whole number of GPUs, got --gpus-per-trial={gpus:g}")
    if args.cpus_per_trial <= 0:
        fail(f"--cpus-per-trial must be > 0, got --cpus-per-trial={args.cpus_per_trial:g}")
    if args.max_concurrent is not None and args.max_concurrent < 1:
        fail(f"--max-concurrent must be >= 1, got --max-concurrent={args.max_concurrent}")
    if args.max_failures < 0:
        fail(f"--max-failures must be >= 0, got --max-failures={args.max_failures}")
    if args.checkpoint_every < 1:
        fail(f"--checkpoint-every must be >= 1, got --checkpoint-every={args.checkpoint_every}")
    if args.address is not None and args.dashboard is not None:
        fail("--dashboard/--no-dashboard apply to the private Ray a sweep starts; the cluster at --address has its own")


def check_sweep_folder(sweep_dir: Path, *, resume: bool, fail: _Fail) -> None:
    """A new sweep never mixes into an old one's folder; --resume needs one to continue."""
    tune_dir = sweep_dir / "tune"
    started = tune_dir.is_dir() and any(tune_dir.iterdir())
    if started and not resume:
        fail(f"{sweep_dir} already holds a sweep; pass --resume to continue it, or --name for a new one")
    if resume and not started:
        fail(f"--resume: nothing to resume in {sweep_dir}")


def plan_trials(study: Study, config: RunConfig, options: StudyOptions, fail: _Fail) -> list[Trial]:
    try:
        return study.trials(config, options)
    except (ConfigError, DataError) as error:
        fail(f"the study's trials are not valid with these options (--set / --dataset): {error}")


def print_dry_run(study: Study, trials: list[Trial], cache: TeacherCache, options: StudyOptions) -> None:
    """Teachers to fine-tune (counted), one line per trial of the study, and `<N> trials` last."""
    is_finetune = study.trainable == "finetune"
    teachers = trials if is_finetune else teacher_trials(trial.config for trial in trials)
    missing = [teacher for teacher in teachers if not cache.has(teacher.name)]
    print(f"teachers: {len(missing)} to fine-tune, {len(teachers) - len(missing)} cached in {cache.root}")
    if not is_finetune:
        for teacher in missing:
            print(f"  fine-tune {teacher.name}")
    if options.asha and "asha" in study.options:
        print("early stopping: ASHA on val_acc (max)")
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
    study = get_study(args.study)
    fail = _Fail(parser, study.name)
    check_resources(args, fail)
    cluster = prepare_cluster(args, fail)
    options = study_options(args, fail)
    config = base_config(args, fail)
    trials = plan_trials(study, config, options, fail)
    name = args.name or study.name
    if Path(name).name != name or name in (".", ".."):
        fail(f"--name must be a plain folder name, got --name {name!r}")
    cache = TeacherCache(args.teacher_cache or args.results / "teachers")
    if args.dry_run:
        print_dry_run(study, trials, cache, options)
        return 0
    check_sweep_folder(args.results / name, resume=args.resume, fail=fail)
    try:
        auth_mode()
    except ValueError as error:
        fail(str(error))
    if cluster is not None:
        return launch(args, cluster, parser=parser, study=study.name, name=name, fail=fail)
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
    )
    with ray_cluster(address=args.address, dashboard=args.dashboard is not False) as cluster:
        where = "a private local Ray" if cluster.started_here and args.address is None else "Ray"
        print(f"study {study.name}: {len(trials)} trials on {where} at {cluster.address}")
        print(f"results go to {settings.sweep_dir}")
        print(f"Tune storage: {settings.storage_dir}; teacher cache: {settings.teacher_cache}")
        print(access_hint(cluster.dashboard_url, cluster.auth_mode))
        return run_sweep(settings)


if __name__ == "__main__":
    sys.exit(main())
