"""`load_data`: one DataConfig in, the train/val/test bundle out (CPU tensors).

Each source module only reads its files; the steps every run needs are done here once,
the same way for all of them: resize to `data.image_size`, keep `data.classes`, carve
the seeded stratified validation split from train (the test split is never used to
choose anything, unless `data.val_fraction` is 0, the published protocol that the
reproduction configs follow) and measure the per-channel statistics on the training images.
"""

from __future__ import annotations

import platform

import torch
import torch.nn.functional as F

from asib_sweeps.catalog.data_sources import data_source, downloadable_names, resolve
from asib_sweeps.config import DataConfig
from asib_sweeps.data.bundle import DataBundle, Split
from asib_sweeps.data.errors import DataError
from asib_sweeps.data.source import SourceData
from asib_sweeps.data.split_steps import check_classes
from asib_sweeps.data.splits import keep_classes, stratified_split


def load_data(config: DataConfig) -> DataBundle:
    """Read `config.dataset` and split it; the same config always gives the same bundle."""
    source = _read_source(config)
    train, test = source.train, source.test
    if config.classes is not None:
        check_classes(config.classes, source.num_classes)
        train, test = keep_classes(train, config.classes), keep_classes(test, config.classes)
    train, test = _resized(train, config.image_size), _resized(test, config.image_size)
    if config.val_fraction == 0:  # the published protocol: all of train, epochs chosen on test
        val = test
    else:
        train, val = stratified_split(train, config.val_fraction, seed=config.split_seed, key="data.val_fraction")
    mean, std = channel_stats(train.images)
    return DataBundle(
        train=train,
        val=val,
        test=test,
        num_classes=source.num_classes,
        mean=mean,
        std=std,
        class_names=source.class_names,
    )


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and (population) std of uint8 images, in [0, 1] units.

    Counted from a 256-bin histogram per channel, so a 1.3M-image split needs no float copy.
    """
    levels = torch.arange(256, dtype=torch.float64)
    means, stds = [], []
    for channel in range(images.shape[1]):
        counts = torch.bincount(images[:, channel].reshape(-1), minlength=256).to(torch.float64)
        mean = (counts * levels).sum() / counts.sum()
        variance = (counts * (levels - mean) ** 2).sum() / counts.sum()
        means.append(float(mean) / 255)
        stds.append(float(variance.sqrt()) / 255)
    return tuple(means), tuple(stds)


def _read_source(config: DataConfig) -> SourceData:
    """The catalog's reader of `config.dataset`, after the checks every source shares."""
    source = data_source(config.dataset)
    if config.download and not source.downloadable:
        raise DataError(
            f"data.download=true is only possible for {', '.join(downloadable_names())} (the others are embedded, "
            f"need an account or are your own); got data.dataset={config.dataset!r}"
        )
    if source.needs_root and config.root is None:
        raise DataError(f"data.root (--data-root) is required for data.dataset={config.dataset!r}; got data.root=None")
    return resolve(source.reader)(config)


def _resized(split: Split, size: int) -> Split:
    """Images at size x size (bilinear, antialiased when shrinking); unchanged when already there."""
    if split.images.shape[-2:] == (size, size):
        return split
    return Split(resize_bilinear(split.images, size), split.labels)


def resize_bilinear(images: torch.Tensor, size: int) -> torch.Tensor:
    """N x C x size x size images: what torchvision.transforms.v2.functional.resize returns for
    `(images, [size, size], interpolation=BILINEAR, antialias=True)` (torchvision 0.19-0.29),
    without importing torchvision (seconds per process: every trial and `--dry-run` load data).

    Same steps as torchvision's resize_image: uint8 is interpolated natively on CPUs where
    torch has that kernel (AVX2, AVX512, arm64), otherwise in float32, rounded and cast
    back; a test compares both paths with torchvision's.
    """
    n, channels, height, width = images.shape
    if images.numel() == 0:
        return images.new_empty((n, channels, size, size))
    native = images.dtype in (torch.float32, torch.float64) or (
        images.dtype == torch.uint8 and images.device.type == "cpu" and _native_uint8_bilinear()
    )
    work = images if native else images.to(torch.float32)
    resized = F.interpolate(work, size=[size, size], mode="bilinear", align_corners=False, antialias=True)
    if native:
        return resized
    if not images.dtype.is_floating_point:
        resized = resized.round_()
    return resized.to(images.dtype)


def _native_uint8_bilinear() -> bool:
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") or platform.machine() in ("aarch64", "arm64")
