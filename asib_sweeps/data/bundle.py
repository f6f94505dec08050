"""The in-memory form every data source produces.

Images are uint8 [N, 3, H, W] and labels int64 [N]. For 32x32 data the whole split
fits on the device, so batches, crops and flips are tensor operations there (airbench's
lesson) instead of DataLoader workers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor


@dataclass(frozen=True)
class Split:
    images: Tensor
    """uint8 [N, 3, H, W]."""
    labels: Tensor
    """int64 [N], original class indices (a class subset keeps its indices)."""

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> "Split":
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def select(self, index: Tensor) -> "Split":
        return replace(self, images=self.images[index], labels=self.labels[index])


@dataclass(frozen=True)
class DataBundle:
    """train (validation already carved out), val and test, plus normalisation stats."""

    train: Split
    val: Split
    test: Split
    num_classes: int
    mean: tuple[float, ...]
    """Per-channel mean of the training images, in [0, 1] units."""
    std: tuple[float, ...]
    class_names: tuple[str, ...]

    def to(self, device: torch.device | str) -> "DataBundle":
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))
