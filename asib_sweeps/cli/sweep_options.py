"""asib-sweep's command line: the parser, and the option checks that need no config.

Building the parser and checking these options imports neither torch nor Ray (nor the
config, whose method registry imports torch), so `asib-sweep --help` and a bad option
answer in a fraction of a second; asib_sweeps.cli.sweep does the rest.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, NoReturn

from asib_sweeps.cli import eval as eval_command
from asib_sweeps.cli import status
from asib_sweeps.cli.cluster_launch import add_cluster_options
from asib_sweeps.cli.input_checks import finite_float
from asib_sweeps.catalog.data_sources import source_names
from asib_sweeps.cli.trackers import add_track_option, tracker_problem
from search_spaces import STUDIES, Study, StudyOptions
from search_spaces.options import SELECTION_SEEDS, STUDY_OPTION_SPECS, StudyOptionSpec

DATASET_NAMES: tuple[str, ...] = source_names()
"""The catalog's data sources (asib_sweeps.catalog.data_sources: torch-free, so --help stays fast)."""
DEFAULT_CHECKPOINT_EVERY_S = 60.0
COMMANDS = {"eval": eval_command}
"""Subcommands beside the studies; each module has add_parser(subparsers) and run(args, fail)."""


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser = parser_class(
        prog="asib-sweep",
        description="Run an ASIB study as Ray Tune sweeps: teachers first (cached), then the study's trials.",
    )
    studies = parser.add_subparsers(dest="study", required=True, metavar="STUDY")
    shared = _shared_options()
    for study in STUDIES.values():
        # argparse %-formats help strings: a literal % (the overlap summary) must be doubled.
        help_text = study.summary.replace("%", "%%")
        sub = studies.add_parser(study.name, parents=[shared], help=help_text, description=study.summary)
        _add_study_options(sub, study)
    for command in COMMANDS.values():
        command.add_parser(studies)
    status.add_parser(studies)
    return parser


def _shared_options() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    data = shared.add_argument_group("data and config")
    data.add_argument(
        "--dataset", choices=DATASET_NAMES, help="data set (default: the --config file's data.dataset, else digits)"
    )
    data.add_argument("--data-root", type=Path, help="folder of the data set (required except for digits)")
    data.add_argument("--download", action="store_true", help="download the data set into --data-root (cifar100)")
    data.add_argument(
        "--config",
        type=Path,
        metavar="FILE.yaml",
        help="experiment file of config keys (may `extends:` another); --set wins over it (docs/CONFIGURATION.md)",
    )
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
        "--resume",
        action="store_true",
        help="continue the sweep saved under <results>/<name>; every option must be the one it started with",
    )
    out.add_argument("--dry-run", action="store_true", help="print the teachers and trials, run nothing")
    add_track_option(out)
    run = shared.add_argument_group("trials")
    run.add_argument("--gpus-per-trial", type=finite_float, default=0.0, help="GPUs per trial, fractions allowed (default 0)")
    run.add_argument("--cpus-per-trial", type=finite_float, default=1.0, help="CPUs per trial (default 1)")
    run.add_argument("--max-concurrent", type=int, help="most trials at once (default: as many as resources allow)")
    run.add_argument("--max-failures", type=int, default=2, help="retries of a failing trial from its checkpoint")
    run.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints (last always kept)")
    run.add_argument(
        "--checkpoint-every-s",
        type=finite_float,
        default=DEFAULT_CHECKPOINT_EVERY_S,
        metavar="SECONDS",
        help=f"at most one checkpoint per SECONDS of a trial's wall time (default {DEFAULT_CHECKPOINT_EVERY_S:g}; 0: no "
        "limit), on top of --checkpoint-every; the last epoch is always saved, and after a stop signal (SIGUSR1, "
        "SIGTERM) each running trial saves at the end of its epoch",
    )
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
    """The study's option group, built from the option records (search_spaces/options.py) it lists."""
    group = sub.add_argument_group(f"{study.name} options")
    for spec in STUDY_OPTION_SPECS:
        if spec.name in study.options:
            group.add_argument(*_names(spec), **_argument(spec, study.name))


def _names(spec: StudyOptionSpec) -> list[str]:
    return [spec.field] if spec.positional else [spec.flag]


def _argument(spec: StudyOptionSpec, study: str) -> dict[str, Any]:
    """argparse's keywords for one option record."""
    if spec.switch:
        return {"action": "store_true", "help": spec.help_text()}
    argument: dict[str, Any] = {"help": spec.help_text(), "metavar": spec.metavar}
    if not spec.positional:
        argument.update(dest=spec.field, default=None if spec.many else spec.default)
    if spec.type is not None:
        argument["type"] = spec.type
    if spec.many:
        argument["nargs"] = "+"
    if spec.choices is not None:
        argument["choices"] = spec.choices(study)
    return argument


def study_options(args: argparse.Namespace, fail: _Fail) -> StudyOptions:
    for spec in STUDY_OPTION_SPECS:
        value = getattr(args, spec.field, None)
        if spec.minimum is not None and value is not None and value < spec.minimum:
            fail(f"{spec.flag} must be >= {spec.minimum}, got {spec.flag}={value}")
    selection = getattr(args, "selection_seeds", None)
    if selection is not None and selection > len(SELECTION_SEEDS):
        fail(f"--selection-seeds must be at most {len(SELECTION_SEEDS)} (seeds {SELECTION_SEEDS.start}.."
             f"{SELECTION_SEEDS.stop - 1}), got --selection-seeds={selection}")
    margin = getattr(args, "margin", None)
    if margin is not None and not (math.isfinite(margin) and 0 < margin < 100):
        fail(f"--margin must be a number of accuracy points in (0, 100), got --margin={margin:g}")
    overlaps = getattr(args, "overlaps", None)
    if overlaps is not None:
        if getattr(args, "target", "overlap") != "overlap":
            fail(f"--overlaps applies to the overlap study only; got study {args.target}")
        bad = [p for p in overlaps if not 0 <= p <= 100]
        if bad or len(set(overlaps)) != len(overlaps):
            fail(f"--overlaps must be distinct percentages in 0..100, got --overlaps {' '.join(map(str, overlaps))}")
    given = {spec.field: getattr(args, spec.field, None) for spec in STUDY_OPTION_SPECS}
    return StudyOptions(**{
        field: tuple(value) if isinstance(value, list) else value for field, value in given.items() if value is not None
    })


class _Fail:
    """Calling it reports a usage error (exit code 2) through the study's parser."""

    def __init__(self, parser: argparse.ArgumentParser, study: str) -> None:
        self.parser, self.study = parser, study

    def __call__(self, message: str) -> NoReturn:
        self.parser.exit(2, f"asib-sweep {self.study}: error: {message}\n")


def check_resources(args: argparse.Namespace, fail: _Fail) -> None:
    """The trial resources and run options, on their own (no torch, no Ray: see check_gpus_here);
    the trackers' packages are looked up, not imported."""
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
    if not math.isfinite(args.checkpoint_every_s) or args.checkpoint_every_s < 0:
        fail(
            "--checkpoint-every-s must be a number of seconds >= 0 (0: no time limit), "
            f"got --checkpoint-every-s={args.checkpoint_every_s:g}"
        )
    problem = tracker_problem(args.track)
    if problem is not None:
        fail(problem)
    if args.address is not None and args.dashboard is not None:
        fail("--dashboard/--no-dashboard apply to the private Ray a sweep starts; the cluster at --address has its own")
