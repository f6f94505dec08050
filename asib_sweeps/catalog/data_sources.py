"""Every data source, declared once and free of torch: its name, class count and what it needs.

The config's `data.dataset` choices, `--dataset`, the plan's file checks, the class
counts the studies need before any image is read, and the reader a run calls all come
from these records. A record names its reader and its file check as "module:function",
imported only when used (the readers import torch).

Adding a data source is its reader module in `asib_sweeps/data/` (a `read_source(data)`
returning `SourceData`) plus one record here. A record added from elsewhere with
`add_source` must be added before `asib_sweeps.config` is first imported: the config's
`data.dataset` choices are built from this list when it loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asib_sweeps.catalog.late_entries import refuse_after_the_config


@dataclass(frozen=True)
class DataSource:
    name: str
    reader: str
    """"module:function" taking the run's DataConfig and returning the source's SourceData."""
    classes: int | None
    """The number of classes; None: counted from the files by `class_counter`."""
    needs_root: bool = True
    """It is read from data.root (`--data-root`); False: embedded in a dependency."""
    downloadable: bool = False
    """data.download (`--download`) can fetch it into data.root."""
    own_test_split: bool = True
    """It ships a test split; False: data.test_fraction carves one, so it is part of a teacher's key."""
    files_check: str | None = None
    """"module:function(root, download) -> problem | None": its files checked by name, before any run."""
    class_counter: str | None = None
    """"module:function(root) -> int" when `classes` is None."""
    labels: str | None = None
    """"module:function(data) -> labels" (numpy) for sources cheap to read: the labels a run's splits start
    from (the train split's, or all of them without a test split); the plan then draws every split the
    trials will draw, before anything runs."""
    class_counts: tuple[int, ...] | None = None
    """Images per class (class 0 first) of what a run's splits start from, when that is fixed: the plan
    then proves from the counts that every seed can draw the splits, reading and importing nothing more."""


_SOURCES: list[DataSource] = [
    DataSource(
        "digits", "asib_sweeps.data.digits:read_source", 10, needs_root=False, own_test_split=False,
        labels="asib_sweeps.data.label_plan:digits_labels",
        class_counts=(178, 182, 177, 183, 181, 182, 181, 179, 174, 180),  # scikit-learn's 1797; a test compares
    ),
    DataSource(
        "cifar100", "asib_sweeps.data.cifar100:read_source", 100, downloadable=True,
        files_check="asib_sweeps.data.probe:cifar100_problem",
    ),
    DataSource(
        "imagenet32", "asib_sweeps.data.imagenet32:read_source", 1000,
        files_check="asib_sweeps.data.probe:imagenet32_problem",
    ),
    DataSource(
        "folder", "asib_sweeps.data.folder:read_source", None, files_check="asib_sweeps.data.probe:folder_problem",
        class_counter="asib_sweeps.data.folder:count_classes",
    ),
]  # fmt: skip


def add_source(source: DataSource) -> None:
    """Register one more data source (a plugin's); before `asib_sweeps.config` is imported."""
    refuse_after_the_config("data source", source.name)
    if any(known.name == source.name for known in _SOURCES):
        raise ValueError(f"data source {source.name!r} is declared twice")
    _SOURCES.append(source)


def source_names() -> tuple[str, ...]:
    return tuple(source.name for source in _SOURCES)


def data_source(name: str) -> DataSource:
    for source in _SOURCES:
        if source.name == name:
            return source
    raise ValueError(f"data.dataset must be one of {', '.join(source_names())}; got {name!r}")


def downloadable_names() -> tuple[str, ...]:
    return tuple(source.name for source in _SOURCES if source.downloadable)


def resolve(reference: str) -> Callable[..., Any]:
    """The function a "module:function" reference names, imported now."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
