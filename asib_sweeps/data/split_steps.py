"""The label draws a run makes before training, in order, as data (no torch, no scikit-learn).

A run carves the test split (sources without one), keeps `data.classes`, holds out the
validation split, then draws the student subset (`digits.read_digits`, `loading.load_data`,
`splits.student_subset`). The plan checks that sequence twice over, from this one list:
`split_bounds` proves from class counts that every seed can draw it, and `label_plan`
draws it exactly from the labels when the proof is not enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asib_sweeps.data.errors import DataError

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig


@dataclass(frozen=True)
class HoldOut:
    """A seeded stratified split that keeps the rest and holds out `fraction` (test or validation)."""

    fraction: float
    key: str
    """The config key `fraction` came from, named when the split cannot be drawn."""


@dataclass(frozen=True)
class KeepClasses:
    """Only the images of `classes`, labels unchanged (`data.classes`)."""

    classes: tuple[int, ...]


@dataclass(frozen=True)
class StudentSubset:
    """A seeded stratified subset of `size` training images (`data.student_train_size`)."""

    size: int


SplitStep = HoldOut | KeepClasses | StudentSubset


def split_steps(data: DataConfig, *, own_test_split: bool) -> tuple[SplitStep, ...]:
    """The draws a run of `data` makes, starting from the source's train labels (or all of them without a test split)."""
    steps: list[SplitStep] = [] if own_test_split else [HoldOut(data.test_fraction, "data.test_fraction")]
    if data.classes is not None:
        steps.append(KeepClasses(tuple(data.classes)))
    if data.val_fraction > 0:
        steps.append(HoldOut(data.val_fraction, "data.val_fraction"))
    if data.student_train_size is not None:
        steps.append(StudentSubset(data.student_train_size))
    return tuple(steps)


def check_classes(classes: Sequence[int], num_classes: int) -> None:
    """A class subset must be non-empty, without repeats, and index the source's classes."""
    if not classes:
        raise DataError("data.classes must name at least one class (or be null for all); got data.classes=[]")
    outside = sorted({index for index in classes if not 0 <= index < num_classes})
    if outside:
        raise DataError(
            f"data.classes must be indices in 0..{num_classes - 1}; got data.classes={list(classes)} "
            f"(out of range: {outside})"
        )
    if len(set(classes)) != len(classes):
        raise DataError(f"data.classes must not repeat a class; got data.classes={list(classes)}")
