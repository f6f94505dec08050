"""KD from the average of the teachers' softened distributions (method.md sections 4-5).

Unlike `kd`'s AVER extension (the mean of per-teacher KLs), the teachers are first
merged into one target distribution mean_k p_k^tau, and the student matches it:

L = w_ce CE(z_S, y) + w_kd tau^2 KL(mean_k p_k^tau || p_S^tau)

It shares `method.kd`'s tau and weights, so kd and avg_kd differ only in how the
teachers are combined. A class a teacher never saw has probability 0 in that
teacher's distribution, so it only receives the other teachers' mass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.functional import soft_kl_to_probs
from asib_sweeps.methods.kd import KDSettings
from asib_sweeps.methods.registry import register_method


def average_soft_targets(teacher_logits: list[Tensor], tau: float) -> Tensor:
    """mean_k softmax(z_k / tau): the teachers' averaged softened distribution [B, C].

    Computed in at least float32: bf16 logits (autocast) would round the small
    probabilities that carry KD's "dark knowledge".
    """
    dtype = torch.promote_types(teacher_logits[0].dtype, torch.float32)
    return torch.stack([F.softmax(logits.to(dtype) / tau, dim=1) for logits in teacher_logits]).mean(dim=0)


@register_method
class AverageKnowledgeDistillation(DistillMethod):
    name = "avg_kd"
    shares_settings_of = "kd"
    settings: KDSettings

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        student_logits = step.student.logits
        target = average_soft_targets([t.logits.detach() for t in step.teachers], self.settings.tau)
        return {
            "ce": self.settings.w_ce * F.cross_entropy(student_logits, step.labels),
            "kd": self.settings.w_kd * soft_kl_to_probs(target, student_logits.to(target.dtype), self.settings.tau),
        }
