"""The base of every config section, kept free of torch so that method files can declare theirs.

A section is strict (no type coercion), forbids unknown keys, refuses inf and nan in
float fields (a NaN would also never compare equal to itself, so a `--resume` check
on it could never pass) and is frozen; its
attribute docstrings become the field descriptions docs/CONFIGURATION.md is generated from.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Strict types, no unknown keys, finite floats, frozen values."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, allow_inf_nan=False, use_attribute_docstrings=True
    )


class MethodSettings(Section):
    """A method's own section of the config (`method.<name>`), declared in the method's file."""

    def check_run(self, epochs: int) -> None:
        """Refuse settings the run's length contradicts; raise ValueError naming the keys (default: none)."""

    def check_teachers(self, count: int) -> None:
        """Refuse settings the run's number of teachers contradicts; raise ValueError naming the keys (default: none)."""
