"""Seeded, stratified splits and subsets of a Split (scikit-learn does the stratifying).

Stratification keeps every class's share the same in each part, so a 10 % validation
split or a 300-image student subset of a 10-class set holds every class; the seed makes
the part a pure function of (data, seed), fixed across the trials it is compared over.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from asib_sweeps.data.bundle import Split
from asib_sweeps.data.positions import stratified_positions, subset_positions


def stratified_split(split: Split, fraction: float, *, seed: int, key: str) -> tuple[Split, Split]:
    """Hold out `fraction` of `split`, class by class: returns (rest, held_out), each in source order.

    `key` is the config key `fraction` came from, named when the split is impossible.
    """
    kept, held_out = stratified_positions(split.labels.cpu().numpy(), fraction, seed=seed, key=key)
    return split.select(_on_device(kept, split)), split.select(_on_device(held_out, split))


def student_subset(split: Split, size: int, *, seed: int) -> Split:
    """A seeded, stratified subset of `size` images (data.student_train_size), in source order.

    Works where the split lies (CPU or device); the subset is the same either way.
    """
    positions = subset_positions(split.labels.cpu().numpy(), size, seed=seed)
    return split if positions is None else split.select(_on_device(positions, split))


def keep_classes(split: Split, classes: Sequence[int]) -> Split:
    """Only the images of `classes`; labels keep their original indices."""
    mask = torch.isin(split.labels, torch.tensor(list(classes), dtype=split.labels.dtype, device=split.labels.device))
    return split.select(mask.nonzero().squeeze(1))


def _on_device(positions: np.ndarray, split: Split) -> torch.Tensor:
    """Sorted numpy positions as an index on the split's device."""
    return torch.from_numpy(positions).to(split.labels.device)
