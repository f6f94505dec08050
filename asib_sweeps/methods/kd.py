"""Hinton et al.'s knowledge distillation, extended to K teachers by averaging (AVER).

L = w_ce CE(z_S, y) + w_kd mean_k tau^2 KL(p_k^tau || p_S^tau)   (method.md section 5)

Teachers are fixed in every baseline, so their outputs are detached: no gradient can
reach a teacher even if the loop forgot to run them under no_grad.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.config import RunConfig
from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.functional import soft_kl
from asib_sweeps.methods.registry import register_method


@register_method
class KnowledgeDistillation(DistillMethod):
    name = "kd"

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.settings = config.method.kd

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        student_logits = step.student.logits
        per_teacher = [soft_kl(t.logits.detach(), student_logits, self.settings.tau) for t in step.teachers]
        return {
            "ce": self.settings.w_ce * F.cross_entropy(student_logits, step.labels),
            "kd": self.settings.w_kd * torch.stack(per_teacher).mean(),
        }
