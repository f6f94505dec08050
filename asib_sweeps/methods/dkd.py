"""Decoupled knowledge distillation (Zhao et al., CVPR 2022), AVER over K teachers.

KD's KL splits exactly into a target-class part and a non-target part:

    KL(p_T || p_S) = TCKD + (1 - p_T,t) NCKD

with TCKD = KL(b_T || b_S) over the binary split b = [p_t, 1 - p_t] and NCKD the KL
between the distributions renormalised over the C - 1 non-target classes. DKD drops
the (1 - p_T,t) coupling and weighs the parts freely:

    L = CE(z_S, y) + min(1, e / warmup) tau^2 (alpha TCKD + beta NCKD)

with e the 1-based number of the epoch being trained (the paper's linear warm-up).
All distributions are tau-softened. The parts are computed from log-probabilities
(log-sum-exp over the non-target classes) so that a near-certain target stays finite.

`logit_standardization` is Sun et al.'s switch (CVPR 2024, logit-standardization-KD):
student and teacher logits are z-scored before everything above, `tau` is the base
temperature and the tau^2 factor stays. Their CIFAR-100 setting multiplies alpha and
beta by 9 and sets tau = 2 (alpha = 9, beta = 72).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import DKDSettings
from asib_sweeps.methods.base import DistillMethod, MethodContext, StepInput
from asib_sweeps.methods.functional import MASKED_LOGIT, standardize_logits


class DecoupledKL(NamedTuple):
    """Per-sample [B] pieces of KL(p_T^tau || p_S^tau) (without the tau^2 factor)."""

    tckd: Tensor
    nckd: Tensor
    teacher_target_prob: Tensor


def decoupled_kl(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, tau: float) -> DecoupledKL:
    """TCKD, NCKD and p_T,t per sample, for tau-softened distributions."""
    target = F.one_hot(labels, student_logits.shape[1]).bool()
    dtype = torch.promote_types(student_logits.dtype, torch.float32)  # bf16 logits are computed in float32
    log_s_target, log_s_rest, log_s_nontarget = _split_log_probs(student_logits.to(dtype) / tau, target)
    log_t_target, log_t_rest, log_t_nontarget = _split_log_probs(teacher_logits.to(dtype) / tau, target)
    t_target = log_t_target.exp()
    tckd = t_target * (log_t_target - log_s_target) + log_t_rest.exp() * (log_t_rest - log_s_rest)
    nckd = (log_t_nontarget.exp() * (log_t_nontarget - log_s_nontarget)).masked_fill(target, 0.0).sum(dim=1)
    return DecoupledKL(tckd=tckd, nckd=nckd, teacher_target_prob=t_target)


def _split_log_probs(scaled_logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """log p_t, log(1 - p_t) and the non-target log-distribution (target entry masked).

    The non-target distribution is a softmax with the target's logit replaced by
    MASKED_LOGIT, so its entries over the other classes sum to 1 and the target's
    probability is exactly 0 (finite log, no 0 * inf).
    """
    log_z = torch.logsumexp(scaled_logits, dim=1)
    nontarget_logits = scaled_logits.masked_fill(target, MASKED_LOGIT)
    log_z_rest = torch.logsumexp(nontarget_logits, dim=1)
    log_target = scaled_logits[target] - log_z
    log_rest = log_z_rest - log_z
    return log_target, log_rest, F.log_softmax(nontarget_logits, dim=1)


class DecoupledKnowledgeDistillation(DistillMethod):
    name = "dkd"
    settings: DKDSettings

    def build(self, context: MethodContext) -> None:
        if context.num_classes < 3:
            raise ValueError(
                "dkd needs num_classes >= 3 (its non-target part is a distribution over the other "
                f"C - 1 classes); got num_classes={context.num_classes}"
            )

    def warmup_factor(self, epoch_number: int) -> float:
        """min(1, e / warmup) for the 1-based epoch number e; no warm-up when warmup is 0."""
        warmup = self.settings.warmup_epochs
        return 1.0 if warmup == 0 else min(1.0, epoch_number / warmup)

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        student_logits = step.student.logits
        prepare = standardize_logits if s.logit_standardization else (lambda logits: logits)
        student_in = prepare(student_logits)
        per_teacher = []
        for teacher in step.teachers:
            parts = decoupled_kl(student_in, prepare(teacher.logits.detach()), step.labels, s.tau)
            per_teacher.append((s.alpha * parts.tckd + s.beta * parts.nckd).mean() * s.tau**2)
        return {
            "ce": F.cross_entropy(student_logits, step.labels),
            "dkd": self.warmup_factor(step.plan.epoch + 1) * torch.stack(per_teacher).mean(),
        }
