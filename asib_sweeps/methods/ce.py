"""Cross-entropy on the labels alone: the student trained without teachers."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.registry import register_method


@register_method
class CrossEntropy(DistillMethod):
    name = "ce"
    uses_teachers = False

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        return {"ce": F.cross_entropy(step.student.logits, step.labels)}
