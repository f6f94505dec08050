"""EBKD, entropy-based multi-teacher KD (Kwon et al., ICASSP 2020), as the CA-MKD authors run it.

Each teacher's weight for each sample falls with the entropy of its (untempered)
prediction: with H_{k,b} = -sum_c p_{k,b,c} log p_{k,b,c},

    w_{k,b} = 1 - H_{k,b} / sum_j H_{j,b}

(the weights of a sample sum to K - 1, not 1: Rorozhl/CA-MKD's helper/loops.py, which
this follows). The loss is their reduction (teacher_weighting.py):
sum_{k,b} w_{k,b} tau^2 KL_b / (B K), plus w_ce CE; the weights carry no gradient.

Two departures, both where their code would return NaN and nowhere else: 0 log 0 is
taken as 0 (their torch.log of an exact 0 probability, e.g. a class a teacher never
saw, gives 0 * -inf), and a sample on which every teacher has entropy exactly 0 gets
equal weights 1 instead of 0 / 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import EBKDSettings
from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.teacher_weighting import weighted_teacher_kl


def entropy_weights(teacher_logits: list[Tensor]) -> Tensor:
    """w[k, b] = 1 - H_k,b / sum_j H_j,b from each teacher's untempered softmax, in at least float32 [K, B]."""
    dtype = torch.promote_types(teacher_logits[0].dtype, torch.float32)
    probs = [F.softmax(t.to(dtype), dim=1) for t in teacher_logits]
    entropy = torch.stack([-torch.xlogy(p, p).sum(dim=1) for p in probs])
    total = entropy.sum(dim=0).clamp_min(torch.finfo(dtype).tiny)
    return 1.0 - entropy / total


class EntropyBasedKD(DistillMethod):
    name = "ebkd"
    settings: EBKDSettings

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        teacher_logits = [t.logits.detach() for t in step.teachers]
        weights = entropy_weights(teacher_logits)
        return {
            "ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "kd": s.w_kd * weighted_teacher_kl(weights, step.student.logits, teacher_logits, s.tau),
        }
