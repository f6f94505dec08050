"""The plan's check of a run's splits from the labels alone: the same draws as the run, without torch or images.

For a source whose catalog record names a `labels` reader, `check_splits` repeats what
`loading.load_data` and `splits.student_subset` do to the labels (class subset,
validation split, student subset) with the same seeded functions (`positions.py`), so a
split that a trial could not draw is a usage error before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from asib_sweeps.catalog.data_sources import data_source, resolve
from asib_sweeps.data.positions import check_classes, stratified_positions, subset_positions

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig


def digits_labels(data: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits labels, split into train and test as `digits.read_digits` splits them."""
    from sklearn.datasets import load_digits

    labels = load_digits().target.astype(np.int64)
    train, test = stratified_positions(labels, data.test_fraction, seed=data.split_seed, key="data.test_fraction")
    return labels[train], labels[test]


def check_splits(data: DataConfig) -> bool:
    """Draw the run's splits from the labels (DataError if one cannot be drawn); False: the source has no label reader."""
    source = data_source(data.dataset)
    if source.labels is None:
        return False
    train, _ = resolve(source.labels)(data)
    if data.classes is not None:
        check_classes(data.classes, source.classes if source.classes is not None else int(train.max()) + 1)
        train = train[np.isin(train, data.classes)]
    if data.val_fraction > 0:
        kept, _ = stratified_positions(train, data.val_fraction, seed=data.split_seed, key="data.val_fraction")
        train = train[kept]
    if data.student_train_size is not None:
        subset_positions(train, data.student_train_size, seed=data.split_seed)
    return True
