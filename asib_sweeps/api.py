"""The Python API: run a study from a notebook or a script, exactly as `asib-sweep` does.

    from asib_sweeps import run_study
    sweep = run_study("ablation", seeds=1, overrides={"epochs": 4}, results="results")

Each keyword is the command-line option of the same name (`data_root` is
`--data-root`, `target` is `--for`, `overrides` the `--set` items, as a mapping or
as `KEY=VALUE` strings); the options go through the CLI's own parser and checks, so
a bad value raises `StudyOptionError` with the CLI's message, before Ray starts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from asib_sweeps.cli.sweep import build_parser, run_parsed
from asib_sweeps.cli.sweep_runner import EXIT_INTERRUPTED, EXIT_OK
from search_spaces import STUDIES
from search_spaces.options import STUDY_OPTION_SPECS

STUDY_FLAGS = {spec.field: spec.flag for spec in STUDY_OPTION_SPECS if not spec.positional} | {"overrides": "--set"}
"""Keyword -> flag where the two are not spelled alike (`target` is --for, `overrides` the --set items)."""


class StudyOptionError(ValueError):
    """An option the CLI would refuse (it would exit with code 2)."""


class SweepFailedError(RuntimeError):
    """The sweep ran but did not finish cleanly; `sweep_dir` holds what it wrote."""

    def __init__(self, message: str, sweep_dir: Path, exit_code: int) -> None:
        super().__init__(message)
        self.sweep_dir, self.exit_code = sweep_dir, exit_code


class _RaisingParser(argparse.ArgumentParser):
    """argparse that raises StudyOptionError where the CLI would print and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise StudyOptionError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise StudyOptionError((message or f"{self.prog} exited with {status}").strip())


def run_study(study: str, **options: Any) -> Path:
    """Run `study` with the CLI's options as keywords; returns the sweep folder (its tables inside).

    Raises StudyOptionError for an option the CLI refuses and SweepFailedError when
    trials failed or the sweep was interrupted. With dry_run=True it prints the plan
    and returns the folder the sweep would write.
    """
    if study not in STUDIES:
        raise StudyOptionError(f"study must be one of {', '.join(STUDIES)}; got study={study!r}")
    check_study_keywords(study, options)
    parser = build_parser(_RaisingParser)
    # `tune` takes the study it tunes as its positional STUDY, which `target` names here.
    positional = [str(options.pop("target"))] if study == "tune" and "target" in options else []
    args = parser.parse_args([study, *positional, *option_arguments(options)])
    code, sweep_dir = run_parsed(parser, args)
    if code == EXIT_OK:
        return sweep_dir
    reason = "was interrupted (resume with resume=True)" if code == EXIT_INTERRUPTED else "had failed trials"
    raise SweepFailedError(f"study {study} {reason}; see {sweep_dir}", sweep_dir, code)


def check_study_keywords(study: str, options: Mapping[str, Any]) -> None:
    """Refuse a study option (search_spaces/options.py) that `study` does not take, naming the ones it does."""
    taken = STUDIES[study].options
    offered = sorted({spec.field for spec in STUDY_OPTION_SPECS if spec.name in taken})
    for spec in STUDY_OPTION_SPECS:
        if spec.field in options and spec.field not in offered:
            raise StudyOptionError(
                f"study {study} takes no option {spec.field}={options[spec.field]!r}; "
                f"its study options: {', '.join(offered) or 'none'}"
            )


def option_arguments(options: Mapping[str, Any]) -> list[str]:
    """Command-line arguments for keyword options (True flags given, False ones omitted)."""
    argv: list[str] = []
    for name, value in options.items():
        flag = STUDY_FLAGS.get(name, "--" + name.replace("_", "-"))
        if name == "overrides":
            items = [f"{k}={json.dumps(v)}" for k, v in value.items()] if isinstance(value, Mapping) else value
            for item in items:
                argv += [flag, str(item)]
        elif value is True:
            argv.append(flag)
        elif value is False:
            if name == "dashboard":
                argv.append("--no-dashboard")
        elif value is not None:
            values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
            argv += [flag, *map(str, values)]
    return argv
