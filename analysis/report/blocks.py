"""What a report page is made of: sections holding tables, figures, text, and the figures left out (with why)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from analysis.arms import study_of
from analysis.stats import MissingData


@dataclass(frozen=True)
class Sweep:
    """One results folder: its name on the page (the path below the report's root), its tables, and
    the order its arms were planned in (analysis.arm_order.recorded_arm_order; None for an older sweep)."""

    name: str
    path: Path
    trials: pd.DataFrame
    epochs: pd.DataFrame
    arm_order: tuple[str, ...] | None = None

    @property
    def study(self) -> str:
        return study_of(self.trials) or "unknown"

    @property
    def slug(self) -> str:
        """The name as an HTML id fragment, unique per name.

        A name made of letters, digits and single inner hyphens is its own slug; any other
        (`abl_1`, a path `abl/finetune`, a non-ASCII name) gets a hash of the whole name
        appended, so `abl_1` and `abl-1` never share figure ids.
        """
        readable = re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-")
        if readable == self.name:
            return readable
        return f"{readable or 'sweep'}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class FigureBlock:
    id: str
    title: str
    figure: go.Figure
    caption: str = ""


@dataclass(frozen=True)
class TableBlock:
    title: str
    frame: pd.DataFrame
    caption: str = ""
    wrap: bool = False
    """Let the last column wrap (long text such as error messages)."""


@dataclass(frozen=True)
class TextBlock:
    text: str


@dataclass(frozen=True)
class LeftOut:
    """A figure or table the tables cannot support, with the one-line reason."""

    what: str
    reason: str


Block = FigureBlock | TableBlock | TextBlock | LeftOut


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def figures(self) -> list[FigureBlock]:
        return [block for block in self.blocks if isinstance(block, FigureBlock)]


def guarded(what: str, build: Callable[[], list[Block]]) -> list[Block]:
    """build(), or a LeftOut naming `what` and the reason when the tables lack its data."""
    try:
        return build()
    except MissingData as missing:
        return [LeftOut(what, str(missing))]
