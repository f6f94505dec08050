"""Batches straight from a split held on the device (airbench style, no DataLoader).

A 32x32 data set fits on the accelerator as uint8, so shuffling, random crops, flips
and normalisation are a few batched tensor operations there instead of per-sample
Python work in DataLoader workers.

An epoch's order and augmentation are a pure function of (seed, epoch): every random
number of the epoch is drawn up front from a private CPU generator seeded from both, so
no global RNG is consumed, a resumed run needs no data RNG state, and CPU and CUDA runs
see the same order and the same crops.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.data.bundle import Split


def train_batches(
    split: Split,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    mean: Sequence[float],
    std: Sequence[float],
    crop_padding: int,
    flip: bool,
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """One shuffled, augmented epoch: (x float32 [B, 3, H, W] normalised, labels, indices into split).

    Random crops take an HxW window of the image zero-padded by `crop_padding` on every
    side (0 = no crop), as torchvision's RandomCrop(padding=...) does; `flip` mirrors
    half of the images left-right. The last, partial batch is kept.
    """
    _check_batch_size(batch_size)
    if crop_padding < 0:
        raise ValueError(f"crop_padding must be >= 0, got crop_padding={crop_padding}")
    device = split.images.device
    count = len(split)
    generator = torch.Generator().manual_seed(_epoch_seed(seed, epoch))
    order = torch.randperm(count, generator=generator).to(device)
    offsets = torch.randint(0, 2 * crop_padding + 1, (count, 2), generator=generator).to(device)
    flipped = (torch.rand(count, generator=generator) < 0.5).to(device) if flip else None
    scale, shift = _normaliser(mean, std, device)
    for start in range(0, count, batch_size):
        window = slice(start, start + batch_size)
        index = order[window]
        images = split.images[index]
        if crop_padding or flip:
            images = _crop_and_flip(images, crop_padding, offsets[window], None if flipped is None else flipped[window])
        yield images.float() * scale - shift, split.labels[index], index


def eval_batches(
    split: Split, *, batch_size: int, mean: Sequence[float], std: Sequence[float]
) -> Iterator[tuple[Tensor, Tensor]]:
    """The split in order, normalised, without augmentation: (x float32 [B, 3, H, W], labels)."""
    _check_batch_size(batch_size)
    scale, shift = _normaliser(mean, std, split.images.device)
    for start in range(0, len(split), batch_size):
        images = split.images[start : start + batch_size]
        yield images.float() * scale - shift, split.labels[start : start + batch_size]


def _crop_and_flip(images: Tensor, padding: int, offsets: Tensor, flipped: Tensor | None) -> Tensor:
    """Per sample, the HxW window at (row, column) `offsets` of the zero-padded image, mirrored where `flipped`.

    Two gathers (rows, then columns) do crop and flip at once: the column numbers of a
    flipped sample's window are simply taken in reverse.
    """
    size, channels, height, width = images.shape
    padded = F.pad(images, (padding,) * 4) if padding else images
    rows = offsets[:, :1] + torch.arange(height, device=images.device)
    columns = offsets[:, 1:] + torch.arange(width, device=images.device)
    if flipped is not None:
        columns = torch.where(flipped[:, None], columns.flip(1), columns)
    padded = padded.gather(2, rows[:, None, :, None].expand(size, channels, height, padded.shape[3]))
    return padded.gather(3, columns[:, None, None, :].expand(size, channels, height, width))


def _normaliser(mean: Sequence[float], std: Sequence[float], device: torch.device) -> tuple[Tensor, Tensor]:
    """(scale, shift) with x = uint8 * scale - shift == (uint8 / 255 - mean) / std."""
    if any(value <= 0 for value in std):
        raise ValueError(f"std must be > 0 in every channel, got std={tuple(std)}")
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device)[:, None, None]
    std_t = torch.tensor(std, dtype=torch.float32, device=device)[:, None, None]
    return 1 / (255 * std_t), mean_t / std_t


def _epoch_seed(seed: int, epoch: int) -> int:
    """Mixes (seed, epoch) into one 64-bit seed (SeedSequence: no collisions between nearby pairs)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0])


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got batch_size={batch_size}")
