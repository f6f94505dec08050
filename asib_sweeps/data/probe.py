"""Whether a data set's files are where data.root says, checked without reading them.

The readers (cifar100, imagenet32, folder) fail on a missing file too, but only inside
a trial, after Ray started and possibly after teachers trained. The sweep plan calls
`data_files_problem` for every data config it will run, so a wrong or unreadable
root is a usage error before anything starts. Only names, directories and
permissions are looked at: a plan step must stay fast on ImageNet-sized roots.
"""

from __future__ import annotations

import os
from pathlib import Path

from asib_sweeps.catalog.data_sources import data_source, downloadable_names, resolve
from asib_sweeps.data.layouts import CIFAR100_FILES, CIFAR100_FOLDER, IMAGENET32_BATCHES

FOLDER_SPLITS = ("train", "test")


def data_files_problem(dataset: str, root: str | None, *, download: bool) -> str | None:
    """Why the `dataset` under `root` cannot be read as configured, or None when its files are there."""
    source = data_source(dataset)
    if download and not source.downloadable:
        return f"--download (data.download=true) works for {', '.join(downloadable_names())} only; got data.dataset={dataset!r}"
    if not source.needs_root:
        return None
    if root is None:
        return f"--data-root (data.root) is required for data.dataset={dataset!r}; got none"
    folder = Path(root)
    if download:
        return _writable_problem(folder)
    if not folder.is_dir():
        hint = f" (or pass --download to fetch {dataset} there)" if source.downloadable else ""
        return f"data.root (--data-root) must be an existing directory; got data.root={root!r}{hint}"
    return resolve(source.files_check)(folder) if source.files_check is not None else None


def cifar100_problem(root: Path) -> str | None:
    return _files_problem(root / CIFAR100_FOLDER, CIFAR100_FILES, "pass --download (data.download=true) to fetch it")


def _unreadable(path: Path) -> bool:
    return not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0))


def _files_problem(folder: Path, names: tuple[str, ...], hint: str) -> str | None:
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        return f"CIFAR-100 file(s) {', '.join(str(folder / name) for name in missing)} not found; {hint}"
    unreadable = [str(folder / name) for name in names if _unreadable(folder / name)]
    return f"data file(s) {', '.join(unreadable)} cannot be read (permissions)" if unreadable else None


def imagenet32_problem(root: Path) -> str | None:
    for name in IMAGENET32_BATCHES:
        found = [path for path in (root / name, root / f"{name}.npz") if path.is_file()]
        if not found:
            return (
                f"ImageNet32 file {root / name} (or {name}.npz) not found under data.root={str(root)!r}; it needs "
                f"{', '.join(IMAGENET32_BATCHES)} (--download cannot fetch ImageNet32)"
            )
        if _unreadable(found[0]):
            return f"data file {found[0]} cannot be read (permissions)"
    return None


def folder_problem(root: Path) -> str | None:
    classes = {}
    for split in FOLDER_SPLITS:
        folder = root / split
        if not folder.is_dir():
            return (
                f"folder data set needs {folder}/<class>/<images>; {folder} is not a directory "
                "(set --data-root / data.root to the folder holding train/ and test/)"
            )
        if _unreadable(folder):
            return f"data folder {folder} cannot be read (permissions)"
        classes[split] = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
        if not classes[split]:
            return f"folder data set needs one folder per class in {folder}; it has none"
    if classes["train"] != classes["test"]:
        only_train = sorted(set(classes["train"]) - set(classes["test"]))
        only_test = sorted(set(classes["test"]) - set(classes["train"]))
        return (
            f"{root / 'train'} and {root / 'test'} must hold the same class folders; "
            f"only in train: {only_train}, only in test: {only_test}"
        )
    return None


def _writable_problem(root: Path) -> str | None:
    """--download writes into root, or creates it under its nearest existing parent."""
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return f"--download needs a writable data.root; {existing} (for data.root={str(root)!r}) is not a writable directory"
    return None
