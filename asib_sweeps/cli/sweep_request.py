"""What a sweep is asked to do, typed: the command line and `run_study` both become a SweepRequest.

asib-sweep's parser turns words into one (`request_from_args`); `run_study` builds one from
its keywords (asib_sweeps.api) without the parser. The checks, the plan, the run and a
SLURM job's own command line all read the request, so the two doors lead to one path.
The run options' defaults live here and the parser takes them from here.

No config, torch or Ray here: `asib-sweep --help` builds its parser from this module's defaults.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search_spaces import STUDIES
from search_spaces.options import STUDY_OPTION_SPECS, StudyOptionSpec

if TYPE_CHECKING:
    from asib_sweeps.config_files import Layer

SET_SOURCE_PREFIX = "--set "
"""How an override layer's source starts (`config_files.set_layers` names them so); the rest is its
KEY=VALUE, as a job's command line repeats it."""


@dataclass(frozen=True)
class SweepRequest:
    study: str
    study_options: Mapping[str, Any] = field(default_factory=dict)
    """The study's options (search_spaces/options.py) by StudyOptions field, as the parser leaves them:
    a `many` option not given is absent (the sweep record tells "not given" apart), the others hold their default."""
    overrides: tuple[Layer, ...] = ()
    """One layer per `--set KEY=VALUE` item (or `run_study`'s overrides), in order."""
    dataset: str | None = None
    data_root: Path | None = None
    download: bool = False
    config: Path | None = None
    results: Path = Path("results")
    name: str | None = None
    teacher_cache: Path | None = None
    resume: bool = False
    dry_run: bool = False
    track: tuple[str, ...] | None = None
    """The trackers asked for, in order; None: not given (the default trackers)."""
    gpus_per_trial: float = 0.0
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None
    max_failures: int = 2
    checkpoint_every: int = 1
    checkpoint_every_s: float = 60.0
    address: str | None = None
    dashboard: bool | None = None
    """--dashboard / --no-dashboard; None: on when ray[default] is installed."""
    cluster: Path | None = None
    no_submit: bool = False

    def value(self, dest: str, default: Any = None) -> Any:
        """An option's value by its parser destination, as the parser would hold it (a job's argv is built from these)."""
        if dest == "overrides":
            return [layer.source.removeprefix(SET_SOURCE_PREFIX) for layer in self.overrides]
        if dest == "track":
            return None if self.track is None else list(self.track)
        if dest in RUN_OPTION_FIELDS:
            return getattr(self, dest)
        value = self.study_options.get(dest, default)
        return list(value) if isinstance(value, tuple) else value  # nargs="+" options parse as lists


RUN_OPTION_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(SweepRequest) if f.name not in ("study", "study_options", "overrides")
)
"""The options every study takes (the parser's shared ones), by field."""


def run_option_default(name: str) -> Any:
    """The default of a run option, for the parser's help and argparse's default."""
    return next(f.default for f in fields(SweepRequest) if f.name == name)


def parser_default(spec: StudyOptionSpec) -> Any:
    """What a study option holds when not given: nothing for a `many` one, False for a switch, else its default."""
    if spec.many:
        return None
    return False if spec.switch else spec.default


def study_specs(study: str) -> tuple[StudyOptionSpec, ...]:
    """The option records `study` takes, in the records' order."""
    return tuple(spec for spec in STUDY_OPTION_SPECS if spec.name in STUDIES[study].options)


def with_parser_defaults(study: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """`given` study options (by field) completed as the parser completes them."""
    options: dict[str, Any] = {}
    for spec in study_specs(study):
        value = given.get(spec.field, parser_default(spec))
        if value is not None:
            options[spec.field] = tuple(value) if spec.many else value
    return options


def request_from_args(args: argparse.Namespace, overrides: tuple[Layer, ...]) -> SweepRequest:
    """The request asib-sweep's parsed words make (the `--set` items already read into `overrides`)."""
    given = {spec.field: getattr(args, spec.field, None) for spec in study_specs(args.study)}
    run = {name: getattr(args, name) for name in RUN_OPTION_FIELDS if name not in ("track",)}
    track = None if args.track is None else tuple(args.track)
    return SweepRequest(
        study=args.study, study_options=with_parser_defaults(args.study, given), overrides=overrides, track=track, **run
    )
