"""Every study option, declared once: its name, command-line spelling, type, default and help.

A study lists the names of the options it reads (`Study.options`); everything else
about an option is here, as data. `StudyOptions` takes its defaults from these
records, `asib-sweep`'s parser builds each study's option group from them
(asib_sweeps.cli.sweep_options), the sweep record names them by their flag, and
`run_study` checks its keywords against them. So a new option is one record here,
its name in the studies that read it, and the study code that uses it.

Pure data, no imports beyond the standard library: `asib-sweep --help` builds its
parser from this module without loading the config, torch or Ray.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OVERLAP_PERCENTS: tuple[int, ...] = (0, 25, 50, 75, 100)
SELECTION_SEEDS = range(100, 200)
"""Seeds reserved for choosing settings (`asib-sweep tune` uses the first --selection-seeds of them);
report studies refuse them, so no reported number comes from a seed its settings were chosen on."""
DEFAULT_MARGIN_POINTS = 1.0
"""The equivalence margin of the tables' TOST verdicts, in accuracy points, unless --margin says otherwise."""


def _other_studies(study: str) -> tuple[str, ...]:
    from search_spaces import STUDIES  # the study registry imports this module

    return tuple(name for name in STUDIES if name != study)


def _tunable_studies(study: str) -> tuple[str, ...]:
    from search_spaces.tuning import TUNABLE_STUDIES  # the tuning study imports this module

    return TUNABLE_STUDIES


@dataclass(frozen=True)
class StudyOptionSpec:
    """One study option: what `StudyOptions`, the parser, the sweep record and `run_study` know of it."""

    name: str
    """How a study lists it (`Study.options`)."""
    flag: str
    """Its command-line spelling (`--seeds`), or a metavar for a positional argument (`STUDY`)."""
    help: str
    """The --help line; `{default}` in it is replaced by the default."""
    default: Any = None
    """The StudyOptions value when not given (a positional without one is required). A `many` option
    leaves argparse's value None when not given, so the sweep record tells "not given" apart."""
    dest: str | None = None
    """The StudyOptions field it sets, when not `name` (the tuned study is `target`)."""
    type: Callable[[str], Any] | None = None
    """How one command-line word becomes a value (None: a string, or a switch with `switch`)."""
    switch: bool = False
    """A flag without a value (`--asha`): given means True."""
    many: bool = False
    """One or more values (`--overlaps 0 50`), kept as a tuple."""
    metavar: str | None = None
    minimum: int | None = None
    """The smallest value allowed (checked before any job: a usage error, exit code 2)."""
    choices: Callable[[str], tuple[str, ...]] | None = None
    """The values allowed, given the name of the study the option belongs to."""

    @property
    def field(self) -> str:
        return self.dest or self.name

    @property
    def positional(self) -> bool:
        return not self.flag.startswith("--")

    def help_text(self) -> str:
        shown = " ".join(map(str, self.default)) if isinstance(self.default, tuple) else self.default
        return self.help.format(default=shown) if "{default" in self.help else self.help


STUDY_OPTION_SPECS: tuple[StudyOptionSpec, ...] = (
    StudyOptionSpec("seeds", "--seeds", "seeds per arm (default {default})", 3, type=int, minimum=1),
    StudyOptionSpec("samples", "--samples", "trials (default {default})", 32, type=int, minimum=1),
    StudyOptionSpec("asha", "--asha", "ASHA early stopping on val_acc", False, switch=True),
    StudyOptionSpec(
        "target", "--for", "the study whose teachers to train", "ablation", choices=_other_studies
    ),
    StudyOptionSpec(
        "tuned", "STUDY", "the study whose arms to tune", dest="target", metavar="STUDY", choices=_tunable_studies
    ),
    StudyOptionSpec(
        "budget", "--budget", "TPE trials per arm, equal for all (default {default})", 16, type=int, minimum=1
    ),
    StudyOptionSpec(
        "selection_seeds",
        "--selection-seeds",
        f"each trial trains seeds {SELECTION_SEEDS.start}..{SELECTION_SEEDS.start}+K-1 and is scored on their "
        "mean best val_acc (default {default})",
        3,
        type=int,
        metavar="K",
        minimum=1,
    ),
    StudyOptionSpec("arms", "--arms", "tune only these arms (default: every arm)", many=True, metavar="ARM"),
    StudyOptionSpec(
        "margin",
        "--margin",
        "equivalence margin of the tables' TOST verdicts, in accuracy points, declared before the run "
        "(default {default:g})",
        DEFAULT_MARGIN_POINTS,
        type=float,
        metavar="POINTS",
    ),
    StudyOptionSpec(
        "overlaps",
        "--overlaps",
        "class overlaps in %% (default {default}; tune overlap tunes at the first)",
        OVERLAP_PERCENTS,
        type=int,
        many=True,
        metavar="P",
    ),
)
"""In the order `asib-sweep STUDY --help` lists them."""

SPECS_BY_NAME: Mapping[str, StudyOptionSpec] = {spec.name: spec for spec in STUDY_OPTION_SPECS}

NOT_ON_THE_COMMAND_LINE = ("arm_settings",)
"""StudyOptions fields set from an experiment file (`arms:`), not by an option."""


def option_default(field: str) -> Any:
    """The default of the option that sets StudyOptions.`field` (the flag's, where a positional shares it)."""
    return next(spec.default for spec in STUDY_OPTION_SPECS if spec.field == field and not spec.positional)
