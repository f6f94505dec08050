"""The one interface every zoo model exposes, so KD methods never edit models.

A model is an ordered backbone of blocks (stem, then stages), an optional neck
(layers between the last stage and pooling), global pooling and a linear classifier.
`forward` returns the logits, every stage's feature map and the pooled feature.
Partial freezing acts on a prefix of the blocks: `set_frozen_prefix` is the only
knob, and when the frozen prefix has nothing trainable it runs under `no_grad`,
which is where freezing saves activation memory and backward time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class ModelOutput:
    logits: Tensor
    """[B, C] class scores."""
    features: list[Tensor]
    """Per-stage feature maps [B, C_i, H_i, W_i], in stage order (stem excluded)."""
    pooled: Tensor
    """[B, D] penultimate feature, the classifier's input."""


class ZooModel(nn.Module):
    """Backbone blocks + neck + pool + classifier, with a freezable block prefix."""

    def __init__(
        self,
        stem: nn.Module,
        stages: list[nn.Module],
        classifier: nn.Linear,
        neck: nn.Module | None = None,
        pool: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.neck = neck if neck is not None else nn.Identity()
        self.pool = pool if pool is not None else nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = classifier
        self.frozen_prefix = 0
        self.frozen_prefix_without_grad = False

    @property
    def num_features(self) -> int:
        return self.classifier.in_features

    @property
    def num_classes(self) -> int:
        return self.classifier.out_features

    def blocks(self) -> list[nn.Module]:
        """The ordered backbone blocks partial freezing counts: stem, then stages."""
        return [self.stem, *self.stages]

    def set_frozen_prefix(self, count: int, *, without_grad: bool) -> None:
        """Mark the first `count` blocks frozen; `without_grad` runs them under no_grad.

        Only the freezing code calls this, after setting requires_grad itself: the
        model does not decide what is trainable, it only skips autograd where told.
        """
        if not 0 <= count <= len(self.blocks()):
            raise ValueError(f"frozen prefix must be in 0..{len(self.blocks())}, got {count}")
        self.frozen_prefix = count
        self.frozen_prefix_without_grad = without_grad

    def forward(self, x: Tensor) -> ModelOutput:
        features: list[Tensor] = []
        h = x
        for index, block in enumerate(self.blocks()):
            if index < self.frozen_prefix and self.frozen_prefix_without_grad:
                with torch.no_grad():
                    h = block(h)
            else:
                h = block(h)
            if index > 0:
                features.append(h)
        pooled = self.pool(self.neck(h))
        return ModelOutput(logits=self.classifier(pooled), features=features, pooled=pooled)
