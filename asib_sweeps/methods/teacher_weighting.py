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

import torch
from torch import Tensor

from asib_sweeps.methods.functional import soft_kl_per_sample


def weighted_teacher_kl(weights: Tensor, student_logits: Tensor, teacher_logits: list[Tensor], tau: float) -> Tensor:
    """sum_{k,b} weights[k, b] tau^2 KL_b(p_k || p_S) / (B K): the authors' reduction."""
    per_sample = torch.stack([soft_kl_per_sample(t, student_logits, tau) for t in teacher_logits])
    batch, teachers = student_logits.shape[0], len(teacher_logits)
    return (weights.detach().to(per_sample.dtype) * per_sample).sum() / (batch * teachers)
