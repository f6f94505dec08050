"""What a data source hands over before the shared steps (resize, class filter, splits)."""

from __future__ import annotations

from dataclasses import dataclass

from asib_sweeps.data.bundle import Split


@dataclass(frozen=True)
class SourceData:
    """A source's training and test images, with its full label space.

    `num_classes` and `class_names` cover every class of the source, also when a run
    later keeps only a subset, so that teachers trained on different subsets and the
    student share one label space.
    """

    train: Split
    test: Split
    num_classes: int
    class_names: tuple[str, ...]
