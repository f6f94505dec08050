"""KD methods, one module each, declared in asib_sweeps.catalog.methods and imported on use."""

from asib_sweeps.methods.registry import create_method, method_class

__all__ = ["create_method", "method_class"]
