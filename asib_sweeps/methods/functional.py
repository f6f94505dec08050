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


def seen_mask(classes: list[int] | None, num_classes: int, device: torch.device, *, key: str) -> Tensor | None:
    """A teacher's class subset as a bool mask [C] (None: it saw every class); `key` names it in errors."""
    if classes is None:
        return None
    outside = [c for c in classes if not 0 <= c < num_classes]
    if outside:
        raise ValueError(f"{key} must lie in 0..{num_classes - 1}; got {outside}")
    mask = torch.zeros(num_classes, dtype=torch.bool, device=device)
    mask[torch.tensor(classes, device=device)] = True
    return mask


def mask_unseen_classes(logits: Tensor, seen: Tensor | None) -> Tensor:
    """Give classes outside `seen` (bool [C]) the MASKED_LOGIT; None leaves logits as they are."""
    if seen is None:
        return logits
    return logits.masked_fill(~seen, MASKED_LOGIT)


def soft_kl_per_sample(target_logits: Tensor, input_logits: Tensor, tau: float) -> Tensor:
    """tau^2 * KL(p_target^tau || p_input^tau) per sample [B], summed over classes, in at least float32.

    The per-sample form of `soft_kl` (the CA-MKD authors' `DistillKL(is_ca=True)`), for
    methods that weigh each sample's KL before reducing.
    """
    dtype = torch.promote_types(input_logits.dtype, torch.float32)
    log_target = F.log_softmax(target_logits.to(dtype) / tau, dim=1)
    log_input = F.log_softmax(input_logits.to(dtype) / tau, dim=1)
    return (log_target.exp() * (log_target - log_input)).sum(dim=1) * tau**2


STANDARDIZE_EPS = 1e-7
"""Added to the standard deviation, as in Sun et al.'s `normalize` (logit-standardization-KD)."""


def standardize_logits(logits: Tensor) -> Tensor:
    """Sun et al.'s logit standardisation (CVPR 2024): (z - mean(z)) / (1e-7 + std(z)) per row.

    As in their code, std is the unbiased (C - 1) estimate over the classes and the
    epsilon is added to it. Classes a teacher never saw (MASKED_LOGIT) are left out of
    the mean and std and stay masked: counting a -1e9 entry would flatten the seen
    classes to one value. Without masked entries this is exactly their formula.
    Computed in at least float32.
    """
    z = logits.to(torch.promote_types(logits.dtype, torch.float32))
    seen = z > MASKED_LOGIT / 2
    count = seen.sum(dim=1, keepdim=True)
    mean = torch.where(seen, z, 0.0).sum(dim=1, keepdim=True) / count
    centred = torch.where(seen, z - mean, 0.0)
    std = (centred.square().sum(dim=1, keepdim=True) / (count - 1)).sqrt()
    return torch.where(seen, centred / (STANDARDIZE_EPS + std), MASKED_LOGIT)
