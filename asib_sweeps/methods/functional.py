"""Loss pieces shared by several methods."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MASKED_LOGIT = -1e9
"""Logit given to classes a teacher never saw. It stands for -inf: softmax maps it to
exactly 0 in float32/bf16, while staying finite keeps 0 * log 0 terms at 0 instead of NaN."""


def soft_kl(target_logits: Tensor, input_logits: Tensor, tau: float) -> Tensor:
    """tau^2 * KL(p_target^tau || p_input^tau), summed over classes, mean over the batch.

    The tau^2 factor keeps gradient magnitudes comparable across temperatures (Hinton et al.).
    Computed in at least float32: under bf16 autocast the logits arrive in bf16, and
    dividing and normalising them there would round away the small probabilities.
    """
    dtype = torch.promote_types(input_logits.dtype, torch.float32)
    log_target = F.log_softmax(target_logits.to(dtype) / tau, dim=1)
    log_input = F.log_softmax(input_logits.to(dtype) / tau, dim=1)
    return F.kl_div(log_input, log_target, reduction="batchmean", log_target=True) * tau**2


def soft_kl_to_probs(target_probs: Tensor, input_logits: Tensor, tau: float) -> Tensor:
    """tau^2 * KL(target || p_input^tau) for a target given as probabilities (e.g. an average), in at least float32."""
    log_input = F.log_softmax(input_logits.to(torch.promote_types(input_logits.dtype, torch.float32)) / tau, dim=1)
    per_sample = (torch.xlogy(target_probs, target_probs) - target_probs * log_input).sum(dim=1)
    return per_sample.mean() * tau**2


def mask_unseen_classes(logits: Tensor, seen: Tensor | None) -> Tensor:
    """Give classes outside `seen` (bool [C]) the MASKED_LOGIT; None leaves logits as they are."""
    if seen is None:
        return logits
    return logits.masked_fill(~seen, MASKED_LOGIT)
