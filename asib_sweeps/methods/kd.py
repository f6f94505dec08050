"""Hinton et al.'s knowledge distillation, extended to K teachers by averaging (AVER).

L = w_ce CE(z_S, y) + w_kd mean_k tau^2 KL(p_k^tau || p_S^tau)   (method.md section 5)

Teachers are fixed in every baseline, so their outputs are detached: no gradient can
reach a teacher even if the loop forgot to run them under no_grad.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.functional import soft_kl
from asib_sweeps.methods.registry import register_method
from asib_sweeps.tunable import LogUniform, Uniform


class KDSettings(MethodSettings):
    """Hinton KD's temperature and weights (avg_kd reads them too)."""

    tau: float = Field(4.0, gt=0)
    """Softmax temperature of the KD term (Hinton et al.)."""
    w_ce: float = Field(0.1, ge=0)
    """Weight of the cross-entropy on labels."""
    w_kd: float = Field(0.9, ge=0)
    """Weight of the tau^2-scaled KL to the teachers' soft labels."""


@register_method
class KnowledgeDistillation(DistillMethod):
    name = "kd"
    settings_type = KDSettings
    settings: KDSettings
    dataset_defaults = {"digits": {"w_ce": 1.0, "w_kd": 1.0}}
    # Published CIFAR values (tau 4, 0.1 / 0.9) and the digits ones (1 / 1) lie inside, none at an edge.
    search_space = {"tau": Uniform(1.0, 8.0), "w_ce": LogUniform(0.02, 5.0), "w_kd": LogUniform(0.1, 10.0)}

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        student_logits = step.student.logits
        per_teacher = [soft_kl(t.logits.detach(), student_logits, self.settings.tau) for t in step.teachers]
        return {
            "ce": self.settings.w_ce * F.cross_entropy(student_logits, step.labels),
            "kd": self.settings.w_kd * torch.stack(per_teacher).mean(),
        }
