"""The ranges a method's settings may be tuned over: small records, free of torch, Ray and pydantic.

A method file declares `search_space = {"setting": LogUniform(1e-3, 10), ...}` next to its
settings (one place per method); `asib-sweep tune` turns each record into the matching
Ray Tune domain (search_spaces/tuning.py), which Optuna's TPE samples. Keeping the records
plain data lets the method files state their ranges without importing the tuning stack,
and lets the docs and tests read them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly in [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high; got low={self.low}, high={self.high}")

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class LogUniform:
    """A positive float whose logarithm is uniform in [log low, log high] (weights spanning decades)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high; got low={self.low}, high={self.high}")

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    def position(self, value: float) -> float:
        """Where `value` lies between the bounds on the log scale: 0 at low, 1 at high."""
        return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))

    def __str__(self) -> str:
        return f"loguniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class IntRange:
    """An integer drawn uniformly in [low, high], both included."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"IntRange needs low < high; got low={self.low}, high={self.high}")

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"int({self.low}..{self.high})"


@dataclass(frozen=True)
class Choice:
    """One of a few values (categorical)."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.values) < 2:
            raise ValueError(f"Choice needs at least two values; got {self.values!r}")

    def contains(self, value: Any) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return "choice(" + ", ".join(map(str, self.values)) + ")"


Domain = Uniform | LogUniform | IntRange | Choice
"""What one tunable setting may take."""
