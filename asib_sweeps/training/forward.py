"""How the loop runs the models on a batch: memory format, autocast, masked teacher logits.

Training and evaluation share these, so a batch is prepared and the teachers are run
the same way in both.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from asib_sweeps.methods.functional import mask_unseen_classes
from asib_sweeps.models import ModelOutput, ZooModel


@dataclass(frozen=True)
class Forward:
    teachers: list[ZooModel]
    teacher_seen: list[Tensor | None]
    """Per teacher, the classes it was fine-tuned on (None: all); other logits are masked."""
    channels_last: bool
    autocast: bool
    """bf16 autocast (the config allows it on CUDA; CPU autocast is used by the numerics tests)."""
    device_type: str = "cuda"

    def prepare(self, images: Tensor) -> Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def autocast_context(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast:
            return torch.autocast(device_type=self.device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def teacher_outputs(self, images: Tensor) -> list[ModelOutput]:
        outputs = []
        for teacher, seen in zip(self.teachers, self.teacher_seen):
            out = teacher(images)
            out.logits = mask_unseen_classes(out.logits, seen)
            outputs.append(out)
        return outputs
