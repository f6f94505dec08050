"""From a method's catalog entry (asib_sweeps.catalog.methods) to its torch implementation.

The catalog declares every method without importing it; this module imports the one a
run uses, by the entry's "module:Class", and builds it from its own settings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from asib_sweeps.catalog.methods import method_entry
from asib_sweeps.methods.base import DistillMethod, MethodSetup

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig


def method_class(name: str) -> type[DistillMethod]:
    """The `DistillMethod` subclass of method `name` (imported on first use)."""
    module, _, attribute = method_entry(name).implementation.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if not (isinstance(cls, type) and issubclass(cls, DistillMethod)) or cls.name != name:
        raise TypeError(f"the catalog's implementation of method {name!r}, {module}:{attribute}, is not its DistillMethod")
    return cls


def create_method(config: RunConfig) -> DistillMethod:
    """The method `config.method.name`, built from its own settings and what it may know of the run."""
    entry = method_entry(config.method.name)
    settings = getattr(config.method, entry.section) if entry.section is not None else None
    return method_class(entry.name)(settings, MethodSetup.of(config))
