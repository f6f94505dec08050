"""Seeded, stratified splits and subsets of a Split (scikit-learn does the stratifying).

Stratification keeps every class's share the same in each part, so a 10 % validation
split or a 300-image student subset of a 10-class set holds every class; the seed makes
the part a pure function of (data, seed), fixed across the trials it is compared over.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from asib_sweeps.data.bundle import Split
from asib_sweeps.data.errors import DataError


def stratified_split(split: Split, fraction: float, *, seed: int, key: str) -> tuple[Split, Split]:
    """Hold out `fraction` of `split`, class by class: returns (rest, held_out), each in source order.

    `key` is the config key `fraction` came from, named when the split is impossible.
    """
    try:
        kept, held_out = train_test_split(
            np.arange(len(split)), test_size=fraction, stratify=split.labels.cpu().numpy(), random_state=seed
        )
    except ValueError as error:
        raise DataError(
            f"cannot hold out {key}={fraction} of {len(split)} images stratified by class "
            f"({_class_count(split)} classes): {error}"
        ) from error
    return split.select(_sorted_index(kept, split)), split.select(_sorted_index(held_out, split))


def student_subset(split: Split, size: int, *, seed: int) -> Split:
    """A seeded, stratified subset of `size` images (data.student_train_size), in source order.

    Works where the split lies (CPU or device); the subset is the same either way.
    """
    if size > len(split):
        raise DataError(
            f"data.student_train_size must be at most the {len(split)} training images left after the "
            f"validation split; got data.student_train_size={size}"
        )
    if size == len(split):
        return split
    try:
        subset, _ = train_test_split(
            np.arange(len(split)), train_size=size, stratify=split.labels.cpu().numpy(), random_state=seed
        )
    except ValueError as error:
        raise DataError(
            f"cannot draw data.student_train_size={size} images stratified over {_class_count(split)} classes "
            f"from {len(split)}: {error}"
        ) from error
    return split.select(_sorted_index(subset, split))


def keep_classes(split: Split, classes: Sequence[int]) -> Split:
    """Only the images of `classes`; labels keep their original indices."""
    mask = torch.isin(split.labels, torch.tensor(list(classes), dtype=split.labels.dtype, device=split.labels.device))
    return split.select(mask.nonzero().squeeze(1))


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


def _sorted_index(index: np.ndarray, split: Split) -> torch.Tensor:
    """scikit-learn's (shuffled, CPU) positions, sorted, on the split's device."""
    return torch.from_numpy(np.sort(index)).to(split.labels.device)


def _class_count(split: Split) -> int:
    return int(torch.unique(split.labels).numel())
