"""Methods registered by name, in the order `methods/__init__.py` imports them.

Everything that lists methods (the config's `method` sections and `method.name`
choices, the SOTA study's arms, the docs, the tests) reads this registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod
from asib_sweeps.tunable import Domain

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig

_REGISTRY: dict[str, type[DistillMethod]] = {}


def register_method(cls: type[DistillMethod]) -> type[DistillMethod]:
    if cls.name in _REGISTRY:
        raise ValueError(f"method {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def method_names() -> tuple[str, ...]:
    """Every registered method, in registration order."""
    return tuple(_REGISTRY)


def list_methods() -> list[str]:
    return sorted(_REGISTRY)


def method_class(name: str) -> type[DistillMethod]:
    if name not in _REGISTRY:
        raise ValueError(f"method.name must be one of {', '.join(_REGISTRY)}; got {name!r}")
    return _REGISTRY[name]


def settings_types() -> dict[str, type[MethodSettings]]:
    """Each method's own config section type, by section name (= method name)."""
    return {name: cls.settings_type for name, cls in _REGISTRY.items() if cls.settings_type is not None}


def tunable_space(name: str) -> dict[str, Domain]:
    """The ranges method `name` may be tuned over, keyed by setting name (its `search_space`)."""
    return dict(method_class(name).search_space)


def create_method(config: RunConfig) -> DistillMethod:
    """Instantiate the method named by `config.method.name` with the run's config."""
    return method_class(config.method.name)(config)
