"""`create_model`: a registered architecture by name, optionally with pretrained weights.

Where the weights come from:
- `pretrained_path`: a local state dict of this zoo model; it wins over `pretrained`
  (it is how a machine without network access gets pretrained weights).
- `pretrained=True` without a path: timm's published weights, fetched by timm. Only
  builders that accept a `pretrained` keyword (the timm-backed ones) have them.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from asib_sweeps.models.interface import ZooModel
from asib_sweeps.models.registry import ModelBuilder, get_builder, list_models
from asib_sweeps.models.weights import load_weights_file


def create_model(
    name: str,
    num_classes: int,
    *,
    pretrained: bool = False,
    pretrained_path: str | Path | None = None,
) -> ZooModel:
    """Build `name` for `num_classes` classes; see the module docstring for weights."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got num_classes={num_classes}")
    builder = get_builder(name)
    fetch_from_timm = pretrained and pretrained_path is None
    if fetch_from_timm and not _has_published_weights(builder):
        with_weights = [arch for arch in list_models() if _has_published_weights(get_builder(arch))]
        raise ValueError(
            f"pretrained=True fetches timm's published weights, which arch={name!r} does not have "
            f"(archs with them: {', '.join(with_weights)}); pass pretrained_path to start from a local file"
        )
    model = builder(num_classes, pretrained=True) if fetch_from_timm else builder(num_classes)
    if pretrained_path is not None:
        load_weights_file(model, pretrained_path, arch=name)
    return model


def _has_published_weights(builder: ModelBuilder) -> bool:
    """Builders that can fetch published weights declare a `pretrained` keyword, as timm's do."""
    return "pretrained" in inspect.signature(builder).parameters
