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
from asib_sweeps.catalog.data_sources import source_names
from asib_sweeps.cli.input_checks import Fail, finite_float
from asib_sweeps.cli.sweep_request import SweepRequest, parser_default, run_option_default, study_specs
from asib_sweeps.cli.trackers import add_track_option, tracker_problem
from search_spaces import STUDIES, Study, StudyOptions
from search_spaces.options import SELECTION_SEEDS, StudyOptionSpec

DATASET_NAMES: tuple[str, ...] = source_names()
"""The catalog's data sources (asib_sweeps.catalog.data_sources: torch-free, so --help stays fast)."""
DEFAULT_CHECKPOINT_EVERY_S: float = run_option_default("checkpoint_every_s")
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
    """The options every study takes, in four groups (their defaults are SweepRequest's)."""
    shared = argparse.ArgumentParser(add_help=False)
    _add_data_options(shared.add_argument_group("data and config"))
    _add_result_options(shared.add_argument_group("results"))
    _add_trial_options(shared.add_argument_group("trials"))
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


def _add_data_options(data: argparse._ArgumentGroup) -> None:
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


def _add_result_options(out: argparse._ArgumentGroup) -> None:
    out.add_argument(
        "--results", type=Path, default=run_option_default("results"), help="results folder (default: results/)"
    )
    out.add_argument("--name", help="sweep name, the folder under --results (default: the study)")
    out.add_argument("--teacher-cache", type=Path, help="teacher cache folder (default: <results>/teachers)")
    out.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep saved under <results>/<name>; every option must be the one it started with",
    )
    out.add_argument("--dry-run", action="store_true", help="print the teachers and trials, run nothing")
    add_track_option(out)


def _add_trial_options(run: argparse._ArgumentGroup) -> None:
    run.add_argument(
        "--gpus-per-trial", type=finite_float, default=run_option_default("gpus_per_trial"),
        help="GPUs per trial, fractions allowed (default %(default)g)",
    )
    run.add_argument(
        "--cpus-per-trial", type=finite_float, default=run_option_default("cpus_per_trial"),
        help="CPUs per trial (default %(default)g)",
    )
    run.add_argument("--max-concurrent", type=int, help="most trials at once (default: as many as resources allow)")
    run.add_argument(
        "--max-failures", type=int, default=run_option_default("max_failures"),
        help="retries of a failing trial from its checkpoint (default %(default)s)",
    )
    run.add_argument(
        "--checkpoint-every", type=int, default=run_option_default("checkpoint_every"),
        help="epochs between checkpoints (last always kept; default %(default)s)",
    )
    run.add_argument(
        "--checkpoint-every-s",
        type=finite_float,
        default=DEFAULT_CHECKPOINT_EVERY_S,
        metavar="SECONDS",
        help=f"at most one checkpoint per SECONDS of a trial's wall time (default {DEFAULT_CHECKPOINT_EVERY_S:g}; 0: no "
        "limit), on top of --checkpoint-every; the last epoch is always saved, and after a stop signal (SIGUSR1, "
        "SIGTERM) each running trial saves at the end of its epoch",
    )


def _add_study_options(sub: argparse.ArgumentParser, study: Study) -> None:
    """The study's option group, built from the option records (search_spaces/options.py) it lists."""
    group = sub.add_argument_group(f"{study.name} options")
    for spec in study_specs(study.name):
        group.add_argument(*_names(spec), **_argument(spec, study.name))


def _names(spec: StudyOptionSpec) -> list[str]:
    return [spec.field] if spec.positional else [spec.flag]


def _argument(spec: StudyOptionSpec, study: str) -> dict[str, Any]:
    """argparse's keywords for one option record."""
    if spec.switch:
        return {"action": "store_true", "help": spec.help_text()}
    argument: dict[str, Any] = {"help": spec.help_text(), "metavar": spec.metavar}
    if not spec.positional:
        argument.update(dest=spec.field, default=parser_default(spec))
    if spec.type is not None:
        argument["type"] = spec.type
    if spec.many:
        argument["nargs"] = "+"
    if spec.choices is not None:
        argument["choices"] = spec.choices(study)
    return argument


def study_options(request: SweepRequest, fail: Fail) -> StudyOptions:
    """The request's study options, checked against their records (the parser has checked types and choices
    of the command line's; `run_study`'s keywords get the same choices checked here)."""
    given = request.study_options
    for spec in study_specs(request.study):
        value = given.get(spec.field)
        if value is None:
            if spec.positional:
                fail(f"the study to tune ({spec.metavar}) is required; one of {', '.join(spec.choices(request.study))}")
            continue
        _check_choices(spec, request.study, value, fail)
        if spec.minimum is not None and value < spec.minimum:
            fail(f"{spec.flag} must be >= {spec.minimum}, got {spec.flag}={value}")
    selection = given.get("selection_seeds")
    if selection is not None and selection > len(SELECTION_SEEDS):
        fail(f"--selection-seeds must be at most {len(SELECTION_SEEDS)} (seeds {SELECTION_SEEDS.start}.."
             f"{SELECTION_SEEDS.stop - 1}), got --selection-seeds={selection}")
    margin = given.get("margin")
    if margin is not None and not (math.isfinite(margin) and 0 < margin < 100):
        fail(f"--margin must be a number of accuracy points in (0, 100), got --margin={margin:g}")
    overlaps = given.get("overlaps")
    if overlaps is not None:
        if given.get("target", "overlap") != "overlap":
            fail(f"--overlaps applies to the overlap study only; got study {given['target']}")
        bad = [p for p in overlaps if not 0 <= p <= 100]
        if bad or len(set(overlaps)) != len(overlaps):
            fail(f"--overlaps must be distinct percentages in 0..100, got --overlaps {' '.join(map(str, overlaps))}")
    return StudyOptions(**given)


def _check_choices(spec: StudyOptionSpec, study: str, value: object, fail: Fail) -> None:
    if spec.choices is None:
        return
    allowed = spec.choices(study)
    for item in value if spec.many else (value,):  # type: ignore[attr-defined]
        if item not in allowed:
            fail(f"{spec.flag}: invalid choice: {item!r} (choose from {', '.join(allowed)})")


class _Fail:
    """Calling it reports a usage error (exit code 2) through the study's parser."""

    def __init__(self, parser: argparse.ArgumentParser, study: str) -> None:
        self.parser, self.study = parser, study

    def __call__(self, message: str) -> NoReturn:
        self.parser.exit(2, f"asib-sweep {self.study}: error: {message}\n")


def check_resources(request: SweepRequest, fail: Fail) -> None:
    """The trial resources and run options, on their own (no torch, no Ray: see check_gpus_here);
    the trackers' packages are looked up, not imported."""
    gpus = request.gpus_per_trial
    if gpus < 0:
        fail(f"--gpus-per-trial must be >= 0, got --gpus-per-trial={gpus:g}")
    if gpus > 1 and not float(gpus).is_integer():
        fail(f"--gpus-per-trial above 1 must be a whole number of GPUs, got --gpus-per-trial={gpus:g}")
    if request.cpus_per_trial <= 0:
        fail(f"--cpus-per-trial must be > 0, got --cpus-per-trial={request.cpus_per_trial:g}")
    if request.max_concurrent is not None and request.max_concurrent < 1:
        fail(f"--max-concurrent must be >= 1, got --max-concurrent={request.max_concurrent}")
    if request.max_failures < 0:
        fail(f"--max-failures must be >= 0, got --max-failures={request.max_failures}")
    if request.checkpoint_every < 1:
        fail(f"--checkpoint-every must be >= 1, got --checkpoint-every={request.checkpoint_every}")
    if not math.isfinite(request.checkpoint_every_s) or request.checkpoint_every_s < 0:
        fail(
            "--checkpoint-every-s must be a number of seconds >= 0 (0: no time limit), "
            f"got --checkpoint-every-s={request.checkpoint_every_s:g}"
        )
    problem = tracker_problem(request.track)
    if problem is not None:
        fail(problem)
    if request.address is not None and request.dashboard is not None:
        fail("--dashboard/--no-dashboard apply to the private Ray a sweep starts; the cluster at --address has its own")
