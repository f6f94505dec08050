"""A proof from class counts alone that every seed can draw a run's splits, so the plan needs no scikit-learn.

scikit-learn's stratified `train_test_split` refuses a draw for reasons that depend on
counts, never on the seed: a class with fewer than 2 images, a train or held-out part
smaller than the number of classes, an empty train part (`_validate_shuffle_split` and
`StratifiedShuffleSplit._iter_indices`). The seed only decides which images, and, by
breaking ties, whether a class keeps floor or floor + 1 of its proportional share
(`_approximate_mode`). So every class's count after a draw lies within one of
`count * kept / total`; this module carries those bounds (one wider, for float rounding)
through the run's steps and checks each refusal against the worst case.

The proof is one-sided: True means every seed draws every step, so the plan may skip
drawing them; False means only "not proven", and the plan then draws the splits exactly
(`label_plan`), whose error names the key. A test compares the two on random plans.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from asib_sweeps.data.split_steps import HoldOut, KeepClasses, SplitStep

MIN_PER_CLASS = 2
"""scikit-learn refuses to stratify a class with fewer images."""


@dataclass(frozen=True)
class CountBounds:
    """What every seed's draws so far leave: images per class within [low, high], and the total within its range."""

    low: Mapping[int, int]
    high: Mapping[int, int]
    total_low: int
    total_high: int

    @classmethod
    def exactly(cls, counts: Mapping[int, int]) -> CountBounds:
        present = {label: count for label, count in counts.items() if count > 0}
        return cls(present, present, sum(present.values()), sum(present.values()))

    def stratifiable(self) -> bool:
        """Every class surely present, with at least MIN_PER_CLASS images: the class count is exact."""
        return all(count >= MIN_PER_CLASS for count in self.low.values())


def every_draw_succeeds(class_counts: Mapping[int, int], steps: tuple[SplitStep, ...]) -> bool:
    """True when every seed draws all of `steps` from images with these per-class counts (label -> count)."""
    bounds: CountBounds | None = CountBounds.exactly(class_counts)
    for step in steps:
        if bounds is None:
            return False
        if isinstance(step, HoldOut):
            bounds = _after_hold_out(bounds, step.fraction)
        elif isinstance(step, KeepClasses):
            bounds = _after_keeping(bounds, step.classes)
        else:
            bounds = _after_subset(bounds, step.size)
    return bounds is not None


def _kept_by_hold_out(total: int, fraction: float) -> int:
    """The train part's size, as `_validate_shuffle_split` computes it for a float test_size."""
    return total - math.ceil(fraction * total)


def _after_hold_out(bounds: CountBounds, fraction: float) -> CountBounds | None:
    """Bounds on what is kept; None when some seed might be refused.

    The kept and held-out sizes never shrink as the total grows (fraction < 1), so the
    smallest total is the worst case for every size condition.
    """
    if not 0 < fraction < 1 or not bounds.stratifiable():
        return None
    classes = len(bounds.low)
    kept_low, kept_high = _kept_by_hold_out(bounds.total_low, fraction), _kept_by_hold_out(bounds.total_high, fraction)
    held_out_low = bounds.total_low - kept_low
    if kept_low < max(classes, 1) or held_out_low < classes:
        return None
    return _scaled(bounds, kept_low, kept_high)


def _after_subset(bounds: CountBounds, size: int) -> CountBounds | None:
    """Bounds on the subset; None when some seed might be refused (or might keep everything)."""
    if bounds.total_low == bounds.total_high == size:
        return bounds  # the run keeps every image and draws nothing
    if size >= bounds.total_low or not bounds.stratifiable():
        return None
    classes = len(bounds.low)
    if size < max(classes, 1) or bounds.total_low - size < classes:
        return None
    return _scaled(bounds, size, size)


def _after_keeping(bounds: CountBounds, classes: tuple[int, ...]) -> CountBounds:
    low = {label: count for label, count in bounds.low.items() if label in classes}
    high = {label: count for label, count in bounds.high.items() if label in classes}
    return CountBounds(low, high, sum(low.values()), sum(high.values()))


def _scaled(bounds: CountBounds, kept_low: int, kept_high: int) -> CountBounds:
    """Each class keeps floor or floor + 1 of count * kept / total; one more either way covers float rounding."""
    low = {label: max(0, count * kept_low // bounds.total_high - 1) for label, count in bounds.low.items()}
    high = {label: count * kept_high // bounds.total_low + 2 for label, count in bounds.high.items()}
    return CountBounds(low, high, kept_low, kept_high)
