"""Cross-entropy on the labels alone: the student trained without teachers."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.methods.base import DistillMethod, StepInput


class CrossEntropy(DistillMethod):
    name = "ce"

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        return {"ce": F.cross_entropy(step.student.logits, step.labels)}
