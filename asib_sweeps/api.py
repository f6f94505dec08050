"""The Python API: run a study from a notebook or a script, exactly as `asib-sweep` does.

    from asib_sweeps import run_study
    sweep = run_study("ablation", seeds=1, overrides={"epochs": 4}, results="results")

Each keyword is the command-line option of the same name (`data_root` is
`--data-root`, `target` is `--for` or tune's STUDY, `overrides` the `--set` items, as a
mapping or as `KEY=VALUE` strings). The keywords become a typed `SweepRequest`
directly, not command-line words: pydantic checks each value's type, then the request
takes the CLI's own path (`run_request`), so a value the CLI would refuse raises
`StudyOptionError` with the CLI's message, before Ray starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, get_type_hints

from pydantic import TypeAdapter, ValidationError

from asib_sweeps.cli.input_checks import Fail
from asib_sweeps.cli.sweep import run_request
from asib_sweeps.cli.sweep_request import (
    RUN_OPTION_FIELDS,
    SET_SOURCE_PREFIX,
    SweepRequest,
    study_specs,
    with_parser_defaults,
)
from asib_sweeps.cli.sweep_runner import EXIT_INTERRUPTED, EXIT_OK
from asib_sweeps.config import ConfigError
from asib_sweeps.config_files import Layer, set_layers
from search_spaces import STUDIES
from search_spaces.options import STUDY_OPTION_SPECS, StudyOptionSpec

RUN_OPTION_TYPES: Mapping[str, Any] = get_type_hints(SweepRequest, localns={"Layer": Layer})
"""Each run option's declared type, which run_study's keyword must have (or convert to)."""


class StudyOptionError(ValueError):
    """An option the CLI would refuse (it would exit with code 2)."""


class SweepFailedError(RuntimeError):
    """The sweep ran but did not finish cleanly; `sweep_dir` holds what it wrote."""

    def __init__(self, message: str, sweep_dir: Path, exit_code: int) -> None:
        super().__init__(message)
        self.sweep_dir, self.exit_code = sweep_dir, exit_code


def run_study(study: str, **options: Any) -> Path:
    """Run `study` with the CLI's options as keywords; returns the sweep folder (its tables inside).

    Raises StudyOptionError for an option the CLI refuses and SweepFailedError when
    trials failed or the sweep was interrupted. With dry_run=True it prints the plan
    and returns the folder the sweep would write.
    """
    code, sweep_dir = run_request(study_request(study, options), raising(study))
    if code == EXIT_OK:
        return sweep_dir
    reason = "was interrupted (resume with resume=True)" if code == EXIT_INTERRUPTED else "had failed trials"
    raise SweepFailedError(f"study {study} {reason}; see {sweep_dir}", sweep_dir, code)


def raising(study: str) -> Fail:
    """The `fail` of run_study: the message asib-sweep would print, raised as StudyOptionError."""

    def fail(message: str) -> NoReturn:
        raise StudyOptionError(f"asib-sweep {study}: error: {message}")

    return fail


def study_request(study: str, options: Mapping[str, Any]) -> SweepRequest:
    """The typed request run_study's keywords make; StudyOptionError names a keyword or value it cannot take."""
    if study not in STUDIES:
        raise StudyOptionError(f"study must be one of {', '.join(STUDIES)}; got study={study!r}")
    check_study_keywords(study, options)
    taken = {spec.field: spec for spec in study_specs(study)}
    unknown = [name for name in options if name not in (*taken, *RUN_OPTION_FIELDS, "overrides")]
    if unknown:
        raise StudyOptionError(
            f"run_study takes no keyword {unknown[0]}={options[unknown[0]]!r}; it takes the study's options "
            f"({', '.join(taken) or 'none'}), overrides, and {', '.join(RUN_OPTION_FIELDS)}"
        )
    given = {name: _typed(name, value, _study_option_type(taken[name])) for name, value in options.items() if name in taken}
    run = {
        name: _typed(name, value, RUN_OPTION_TYPES[name]) for name, value in options.items() if name in RUN_OPTION_FIELDS
    }
    overrides = override_layers(options.get("overrides", ()))
    return SweepRequest(study=study, study_options=with_parser_defaults(study, given), overrides=overrides, **run)


def check_study_keywords(study: str, options: Mapping[str, Any]) -> None:
    """Refuse a study option (search_spaces/options.py) that `study` does not take, naming the ones it does."""
    offered = sorted(spec.field for spec in study_specs(study))
    for spec in STUDY_OPTION_SPECS:
        if spec.field in options and spec.field not in offered:
            raise StudyOptionError(
                f"study {study} takes no option {spec.field}={options[spec.field]!r}; "
                f"its study options: {', '.join(offered) or 'none'}"
            )


def override_layers(overrides: Mapping[str, Any] | Sequence[str]) -> tuple[Layer, ...]:
    """One layer per override: a mapping's values as they are (not through text), strings as `--set` reads them."""
    if isinstance(overrides, Mapping):
        return tuple(
            Layer(source=f"{SET_SOURCE_PREFIX}{key}={json.dumps(value, default=str)}", values={key: value})
            for key, value in overrides.items()
        )
    if isinstance(overrides, str):
        raise StudyOptionError(f"overrides must be a mapping or a list of KEY=VALUE strings; got overrides={overrides!r}")
    try:
        return tuple(set_layers(overrides))
    except ConfigError as error:
        raise StudyOptionError(str(error)) from None


def _study_option_type(spec: StudyOptionSpec) -> Any:
    """The Python type a study option's keyword must have: its record's, a tuple of them, or bool for a switch."""
    if spec.switch:
        return bool
    item = spec.type or str
    return tuple[item, ...] if spec.many else item  # type: ignore[valid-type]


def _typed(name: str, value: Any, annotation: Any) -> Any:
    """`value` as `annotation` (pydantic's conversions: "3" -> 3, "x.yaml" -> Path), or StudyOptionError naming it."""
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError as error:
        problem = "; ".join(detail["msg"] for detail in error.errors())
        raise StudyOptionError(f"run_study keyword {name}={value!r}: {problem}") from None
