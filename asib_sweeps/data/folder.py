"""Any image-classification folder: `<root>/train/<class>/*` and `<root>/test/<class>/*`.

torchvision's ImageFolder finds the classes (sorted by name, which fixes the label of
each) and decodes the files (any format PIL reads, converted to RGB); every image is
resized to `data.image_size` x `data.image_size` (aspect ratio not kept) so the whole
split stacks into one uint8 tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from asib_sweeps.data.bundle import Split
from asib_sweeps.data.errors import DataError
from asib_sweeps.data.source import SourceData

if TYPE_CHECKING:
    from torchvision.datasets import ImageFolder

    from asib_sweeps.config import DataConfig


def read_source(data: DataConfig) -> SourceData:
    """The catalog's reader (asib_sweeps.catalog.data_sources)."""
    return read_folder(Path(data.root).expanduser(), image_size=data.image_size)  # type: ignore[arg-type]


def count_classes(root: Path) -> int:
    """The class folders of the training tree, counted as ImageFolder labels them."""
    from torchvision.datasets.folder import find_classes  # torchvision only where it is used (seconds to import)

    names, _ = find_classes(str(root / "train"))
    return len(names)


def read_folder(root: Path, *, image_size: int) -> SourceData:
    from torchvision import transforms  # torchvision only where it is used (seconds to import)
    from torchvision.datasets import ImageFolder

    for part in ("train", "test"):
        if not (root / part).is_dir():
            raise DataError(
                f"folder data set needs {root / part}/<class>/<images>; {root / part} is not a directory "
                "(set --data-root / data.root to the folder holding train/ and test/)"
            )
    resize = transforms.Compose([transforms.Resize((image_size, image_size)), transforms.PILToTensor()])
    train = ImageFolder(str(root / "train"), transform=resize)
    test = ImageFolder(str(root / "test"), transform=resize)
    if train.classes != test.classes:
        only_train = sorted(set(train.classes) - set(test.classes))
        only_test = sorted(set(test.classes) - set(train.classes))
        raise DataError(
            f"{root / 'train'} and {root / 'test'} must hold the same class folders; "
            f"only in train: {only_train}, only in test: {only_test}"
        )
    return SourceData(
        train=_stack(train),
        test=_stack(test),
        num_classes=len(train.classes),
        class_names=tuple(train.classes),
    )


def _stack(dataset: ImageFolder) -> Split:
    images = torch.stack([dataset[index][0] for index in range(len(dataset))])
    labels = torch.tensor(dataset.targets, dtype=torch.int64)
    return Split(images, labels)
