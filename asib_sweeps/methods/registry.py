"""Methods registered by name; `create_method(config)` builds the configured one."""

from __future__ import annotations

from asib_sweeps.config import RunConfig
from asib_sweeps.methods.base import DistillMethod

_REGISTRY: dict[str, type[DistillMethod]] = {}


def register_method(cls: type[DistillMethod]) -> type[DistillMethod]:
    if cls.name in _REGISTRY:
        raise ValueError(f"method {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def list_methods() -> list[str]:
    _import_methods()
    return sorted(_REGISTRY)


def create_method(config: RunConfig) -> DistillMethod:
    """Instantiate the method named by `config.method.name` with the run's config."""
    _import_methods()
    name = config.method.name
    if name not in _REGISTRY:
        raise ValueError(f"method.name must be one of {', '.join(sorted(_REGISTRY))}; got {name!r}")
    return _REGISTRY[name](config)


def _import_methods() -> None:
    import asib_sweeps.methods  # noqa: F401  (its __init__ imports every method module)
