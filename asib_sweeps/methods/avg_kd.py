"""KD from the average of the teachers' softened distributions (AVER; method.md sections 4-5).

The teachers are first merged into one target distribution mean_k p_k^tau, and the
student matches it:

L = w_ce CE(z_S, y) + w_kd tau^2 KL(mean_k p_k^tau || p_S^tau)

(KL summed over classes, averaged over the batch). With one teacher this is `kd`; with
several, its gradient tau (p_S - mean_k p_k) / B equals that of the mean of the
per-teacher KLs, so the mixture form is the whole of "AVER". A class a teacher never
saw has probability 0 in that teacher's distribution, so it only receives the other
teachers' mass (divided by K all the same).

It has its own section, `method.avg_kd`, with kd's published defaults (tau = 4,
w_ce = 0.1, w_kd = 0.9) but no `teacher`, and the same logit-standardisation switch
(Sun et al., CVPR 2024: student and every teacher z-scored before the softmax).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import AvgKDSettings
from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.functional import soft_kl_to_probs, standardize_logits


def average_soft_targets(teacher_logits: list[Tensor], tau: float) -> Tensor:
    """mean_k softmax(z_k / tau): the teachers' averaged softened distribution [B, C].

    Computed in at least float32: bf16 logits (autocast) would round the small
    probabilities that carry KD's "dark knowledge".
    """
    dtype = torch.promote_types(teacher_logits[0].dtype, torch.float32)
    return torch.stack([F.softmax(logits.to(dtype) / tau, dim=1) for logits in teacher_logits]).mean(dim=0)


class AverageKnowledgeDistillation(DistillMethod):
    name = "avg_kd"
    settings: AvgKDSettings

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        student_logits = step.student.logits
        teacher_logits = [t.logits.detach() for t in step.teachers]
        if s.logit_standardization:
            student_logits = standardize_logits(student_logits)
            teacher_logits = [standardize_logits(logits) for logits in teacher_logits]
        target = average_soft_targets(teacher_logits, s.tau)
        return {
            "ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "kd": s.w_kd * soft_kl_to_probs(target, student_logits.to(target.dtype), s.tau),
        }
