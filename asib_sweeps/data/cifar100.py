"""CIFAR-100 in torchvision's on-disk layout: `<root>/cifar-100-python/{train,test,meta}`.

The files are read here (not through torchvision.datasets.CIFAR100, which would keep a
second HWC copy and rejects files it cannot checksum); the download, when asked for,
is torchvision's own, with its checksum.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from asib_sweeps.data.bundle import Split
from asib_sweeps.data.errors import DataError
from asib_sweeps.data.layouts import CIFAR100_FILES, CIFAR100_FOLDER
from asib_sweeps.data.files import images_from_rows, labels_from_list, load_pickle, require_keys
from asib_sweeps.data.source import SourceData

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig

CIFAR100_CLASSES = 100


def read_source(data: DataConfig) -> SourceData:
    """The catalog's reader (asib_sweeps.catalog.data_sources)."""
    return read_cifar100(Path(data.root).expanduser(), download=data.download)  # type: ignore[arg-type]


def read_cifar100(root: Path, *, download: bool) -> SourceData:
    from torchvision.datasets import CIFAR100  # torchvision only where it is used (seconds to import)
    from torchvision.datasets.utils import download_and_extract_archive

    folder = root / CIFAR100_FOLDER
    if download and not all((folder / name).is_file() for name in CIFAR100_FILES):
        download_and_extract_archive(CIFAR100.url, str(root), filename=CIFAR100.filename, md5=CIFAR100.tgz_md5)
    for name in CIFAR100_FILES:
        if not (folder / name).is_file():
            raise DataError(
                f"CIFAR-100 file {folder / name} not found; point --data-root (data.root) at the folder that "
                "holds cifar-100-python/, or pass --download (data.download=true) to fetch it there"
            )
    meta_path = folder / "meta"
    meta = load_pickle(meta_path)
    require_keys(meta, ("fine_label_names",), meta_path)
    names = tuple(str(name) for name in meta["fine_label_names"])
    if len(names) != CIFAR100_CLASSES:
        raise DataError(f"{meta_path}: fine_label_names must name {CIFAR100_CLASSES} classes, got {len(names)}")
    return SourceData(
        train=_read_split(folder / "train"),
        test=_read_split(folder / "test"),
        num_classes=CIFAR100_CLASSES,
        class_names=names,
    )


def _read_split(path: Path) -> Split:
    content = load_pickle(path)
    require_keys(content, ("data", "fine_labels"), path)
    images = images_from_rows(content["data"], path)
    labels = labels_from_list(content["fine_labels"], path, count=CIFAR100_CLASSES, first=0)
    if len(labels) != len(images):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} fine_labels")
    return Split(images, labels)
