"""Which positions a seeded stratified split draws, from the labels alone (numpy and scikit-learn, no torch).

The splits of a run (`splits.py`, on tensors) and the plan's check of every split the
trials will draw (`label_plan.py`, before anything runs) both call these, so the plan
checks exactly the draws the trials make.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from asib_sweeps.data.errors import DataError


def stratified_positions(labels: np.ndarray, fraction: float, *, seed: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Hold out `fraction` class by class: (kept, held_out) positions, each sorted (source order).

    `key` is the config key `fraction` came from, named when the split is impossible.
    """
    try:
        kept, held_out = train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as error:
        raise DataError(
            f"cannot hold out {key}={fraction} of {len(labels)} images stratified by class "
            f"({len(np.unique(labels))} classes): {error}"
        ) from error
    return np.sort(kept), np.sort(held_out)


def subset_positions(labels: np.ndarray, size: int, *, seed: int) -> np.ndarray | None:
    """The sorted positions of a seeded, stratified subset of `size` (data.student_train_size); None: all of them."""
    if size > len(labels):
        raise DataError(
            f"data.student_train_size must be at most the {len(labels)} training images left after the "
            f"validation split; got data.student_train_size={size}"
        )
    if size == len(labels):
        return None
    try:
        subset, _ = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    except ValueError as error:
        raise DataError(
            f"cannot draw data.student_train_size={size} images stratified over {len(np.unique(labels))} classes "
            f"from {len(labels)}: {error}"
        ) from error
    return np.sort(subset)
