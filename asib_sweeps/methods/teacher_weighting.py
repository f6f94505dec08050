"""What the per-sample weighted multi-teacher baselines (ca_mkd, ebkd) share.

Both follow the training loop of Zhang et al.'s public code (Rorozhl/CA-MKD,
helper/loops.py), which ships CA-MKD, EBKD, AE-KD and AVER side by side:

    L = w_ce CE(z_S, y) + w_kd sum_{k,b} w_{k,b} tau^2 KL_b(p_k^tau || p_S^tau) / (B K)

with KL_b summed over classes for sample b (their `DistillKL(is_ca=True)`), the
weights w_{k,b} built from the teachers' outputs only (no gradient), and the double
sum divided by the batch size B *and* the number of teachers K, whatever the weights
sum to. Their CIFAR-100 script runs it with w_ce = w_kd = 1 and tau = 4.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field
from torch import Tensor

from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.functional import soft_kl_per_sample


class WeightedTeachersSettings(MethodSettings):
    """Temperature and weights of a per-sample weighted multi-teacher KD (the CA-MKD authors' defaults)."""

    tau: float = Field(4.0, gt=0)
    """Softmax temperature of the KL terms (their `kd_T`)."""
    w_ce: float = Field(1.0, ge=0)
    """Weight of the cross-entropy on labels (their `gamma`, -r)."""
    w_kd: float = Field(1.0, ge=0)
    """Weight of the weighted KL term (their `alpha`, -a)."""

    def check_teachers(self, count: int) -> None:
        if count < 2:
            raise ValueError(
                f"method.name={self.method_name!r} weighs several teachers against each other and needs at least 2; "
                f"got {count} teacher(s) (use kd for one)"
            )

    method_name: ClassVar[str] = ""
    """The method whose section this is, for error messages."""


def weighted_teacher_kl(weights: Tensor, student_logits: Tensor, teacher_logits: list[Tensor], tau: float) -> Tensor:
    """sum_{k,b} weights[k, b] tau^2 KL_b(p_k || p_S) / (B K): the authors' reduction."""
    per_sample = torch.stack([soft_kl_per_sample(t, student_logits, tau) for t in teacher_logits])
    batch, teachers = student_logits.shape[0], len(teacher_logits)
    return (weights.detach().to(per_sample.dtype) * per_sample).sum() / (batch * teachers)
