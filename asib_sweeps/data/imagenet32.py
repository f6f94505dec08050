"""Downsampled ImageNet 32x32 (Chrabaszcz et al. 2017) as image-net.org distributes it.

`<root>/train_data_batch_1 .. train_data_batch_10` and `<root>/val_data`, each either
the pickle of the original release or the `.npz` of its numpy release, with `data`
([N, 3072] uint8, channel-major) and `labels` (1..1000). The official validation set
serves as the test split. It cannot be downloaded without an image-net.org account.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from asib_sweeps.data.bundle import Split
from asib_sweeps.data.errors import DataError
from asib_sweeps.data.files import images_from_rows, labels_from_list, load_npz, load_pickle, require_keys
from asib_sweeps.data.layouts import IMAGENET32_BATCHES
from asib_sweeps.data.source import SourceData

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig

IMAGENET32_CLASSES = 1000


def read_source(data: DataConfig) -> SourceData:
    """The catalog's reader (asib_sweeps.catalog.data_sources)."""
    return read_imagenet32(Path(data.root).expanduser())  # type: ignore[arg-type]


def read_imagenet32(root: Path) -> SourceData:
    paths = [_batch_path(root, name) for name in IMAGENET32_BATCHES]
    train_parts = [_read_batch(path) for path in paths[:-1]]
    train = Split(
        torch.cat([part.images for part in train_parts]),
        torch.cat([part.labels for part in train_parts]),
    )
    return SourceData(
        train=train,
        test=_read_batch(paths[-1]),
        num_classes=IMAGENET32_CLASSES,
        # The release numbers classes only; names live in a separate synset map.
        class_names=tuple(str(index) for index in range(IMAGENET32_CLASSES)),
    )


def _batch_path(root: Path, name: str) -> Path:
    for candidate in (root / name, root / f"{name}.npz"):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"ImageNet32 file {root / name} (or {root / name}.npz) not found; point --data-root (data.root) at the "
        "folder holding train_data_batch_1..10 and val_data (--download cannot fetch ImageNet32: get "
        "Imagenet32_train and Imagenet32_val from image-net.org with an account)"
    )


def _read_batch(path: Path) -> Split:
    content: dict[str, Any] = load_npz(path) if path.suffix == ".npz" else load_pickle(path)
    require_keys(content, ("data", "labels"), path)
    images = images_from_rows(content["data"], path)
    labels = labels_from_list(content["labels"], path, count=IMAGENET32_CLASSES, first=1)
    if len(labels) != len(images):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    return Split(images, labels)
