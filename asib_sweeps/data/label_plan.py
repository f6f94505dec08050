"""The plan's check of a run's splits from labels alone: the run's own draws, without torch or images.

`check_splits` takes the draws a run of the config makes (`split_steps`). When the source's
record states its class counts, `split_bounds` proves from them that every seed can draw
them, and nothing more is read or imported. Otherwise, for a source whose record names a
`labels` reader, the draws are made from the labels with the runs' own seeded functions
(`positions.py`, scikit-learn), so a split a trial could not draw is a usage error, named
by its key, before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from asib_sweeps.catalog.data_sources import data_source, resolve
from asib_sweeps.data.split_bounds import every_draw_succeeds
from asib_sweeps.data.split_steps import HoldOut, KeepClasses, SplitStep, check_classes, split_steps

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig


def digits_labels(data: DataConfig) -> np.ndarray:
    """scikit-learn's digits labels, all of them: a run carves its test split from these."""
    from sklearn.datasets import load_digits

    return load_digits().target.astype(np.int64)


def check_splits(data: DataConfig) -> bool:
    """Check every draw of the run's splits (DataError if one cannot be drawn); False: nothing to check them with."""
    source = data_source(data.dataset)
    steps = split_steps(data, own_test_split=source.own_test_split)
    if data.classes is not None and source.classes is not None:
        check_classes(data.classes, source.classes)
    if source.class_counts is not None and every_draw_succeeds(dict(enumerate(source.class_counts)), steps):
        return True
    if source.labels is None:
        return False
    labels = resolve(source.labels)(data)
    if data.classes is not None and source.classes is None:
        check_classes(data.classes, int(labels.max()) + 1)
    draw(labels, steps, seed=data.split_seed)
    return True


def draw(labels: np.ndarray, steps: tuple[SplitStep, ...], *, seed: int) -> None:
    """Make `steps` from `labels` as a run makes them (scikit-learn); DataError naming the key of one it cannot."""
    # imported here: scikit-learn takes 1.5 s to import, and a plan the counts prove never needs it
    from asib_sweeps.data.positions import stratified_positions, subset_positions

    for step in steps:
        if isinstance(step, HoldOut):
            kept, _ = stratified_positions(labels, step.fraction, seed=seed, key=step.key)
            labels = labels[kept]
        elif isinstance(step, KeepClasses):
            labels = labels[np.isin(labels, step.classes)]
        else:
            positions = subset_positions(labels, step.size, seed=seed)
            labels = labels if positions is None else labels[positions]
