"""What the plan needs to know of a data source before reading it, without torch: its class count."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from asib_sweeps.catalog.data_sources import data_source, resolve
from asib_sweeps.data.errors import DataError

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig


def source_class_count(config: DataConfig) -> int:
    """How many classes the source has, without reading its images.

    Studies that split the label space (overlap) need it before any data is loaded;
    a source without a fixed count (folder) counts its class folders, as it labels them.
    """
    source = data_source(config.dataset)
    if source.classes is not None:
        return source.classes
    if config.root is None:
        raise DataError(f"data.root (--data-root) is required for data.dataset={config.dataset!r}; got data.root=None")
    assert source.class_counter is not None, f"data source {source.name!r} declares neither classes nor a counter"
    return int(resolve(source.class_counter)(Path(config.root).expanduser()))
