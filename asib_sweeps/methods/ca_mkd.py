"""CA-MKD, confidence-aware multi-teacher KD (Zhang, Chen and Wang, ICASSP 2022), its logit part.

Each teacher's weight for each sample comes from how well that teacher predicts the
label: with CE_{k,b} the cross-entropy of teacher k's (untempered) logits with y_b,

    w_{k,b} = (1 - softmax_k(CE_{., b})) / (K - 1)

so the weights of a sample sum to 1 and a teacher that is confidently wrong (a class
it never saw: masked logit, CE ~ 1e9) gets weight ~0. The loss is the authors'
reduction (teacher_weighting.py): sum_{k,b} w_{k,b} tau^2 KL_b / (B K), plus w_ce CE.
The weights carry no gradient (the teachers run under no_grad in their code).

Not included: CA-MKD's intermediate-feature term (their `distill inter`, beta = 50),
which passes the student's transformed features through each teacher's last stage to
weight a feature MSE; this file is the logit part (their `distill kd` path with
`ensemble_method CAMKD`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.registry import register_method
from asib_sweeps.methods.teacher_weighting import WeightedTeachersSettings, weighted_teacher_kl


class CAMKDSettings(WeightedTeachersSettings):
    """CA-MKD's temperature and weights (Rorozhl/CA-MKD's CIFAR-100 script: tau 4, w_ce 1, w_kd 1)."""

    method_name = "ca_mkd"


def confidence_weights(teacher_logits: list[Tensor], labels: Tensor) -> Tensor:
    """w[k, b] = (1 - softmax over teachers of CE(z_k,b, y_b)) / (K - 1), in at least float32 [K, B]."""
    dtype = torch.promote_types(teacher_logits[0].dtype, torch.float32)
    losses = torch.stack([F.cross_entropy(t.to(dtype), labels, reduction="none") for t in teacher_logits])
    return (1.0 - F.softmax(losses, dim=0)) / (len(teacher_logits) - 1)


@register_method
class ConfidenceAwareMultiTeacherKD(DistillMethod):
    name = "ca_mkd"
    settings_type = CAMKDSettings
    settings: CAMKDSettings

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        teacher_logits = [t.logits.detach() for t in step.teachers]
        weights = confidence_weights(teacher_logits, step.labels)
        return {
            "ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "kd": s.w_kd * weighted_teacher_kl(weights, step.student.logits, teacher_logits, s.tau),
        }
