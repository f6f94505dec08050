"""A registry of model builders keyed by name, as in timm.

Builders register with `@register_model`; `create_model(name, num_classes, ...)`
returns a `ZooModel`. Importing `asib_sweeps.models` imports every zoo module, which
is what fills the registry.
"""

from __future__ import annotations

from collections.abc import Callable

from asib_sweeps.models.interface import ZooModel

ModelBuilder = Callable[..., ZooModel]
_REGISTRY: dict[str, ModelBuilder] = {}


def register_model(builder: ModelBuilder) -> ModelBuilder:
    """Register a builder under its function name."""
    name = builder.__name__
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is registered twice")
    _REGISTRY[name] = builder
    return builder


def list_models() -> list[str]:
    _import_zoo()
    return sorted(_REGISTRY)


def get_builder(name: str) -> ModelBuilder:
    _import_zoo()
    if name not in _REGISTRY:
        raise ValueError(f"arch must be one of {', '.join(sorted(_REGISTRY))}; got arch={name!r}")
    return _REGISTRY[name]


def _import_zoo() -> None:
    import asib_sweeps.models  # noqa: F401  (its __init__ imports the zoo modules)
