"""Optimisers and LR schedules built from an OptimConfig.

Each trained part (student, synergy, teachers) gets its own optimiser and schedule,
and a schedule advances only in the epochs its part trains: under CCCP that gives
one cosine over all B-epochs and one over all A-epochs, as method.md asks. In E2E,
where student and synergy train every epoch with the same hyper-parameters, two
optimisers are the same arithmetic as one over both.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR, LRScheduler, MultiStepLR

from asib_sweeps.config import OptimConfig


def build_optimizer(
    params: Iterable[nn.Parameter], config: OptimConfig, *, lr: float | None = None, weight_decay: float | None = None
) -> Optimizer:
    """SGD or AdamW over `params`; on CUDA the fused kernels (one launch per step for all
    parameters; same update up to floating-point rounding), elsewhere torch's default."""
    lr = config.lr if lr is None else lr
    weight_decay = config.weight_decay if weight_decay is None else weight_decay
    params = list(params)
    fused = True if params and all(p.is_cuda for p in params) else None
    if config.name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=weight_decay, fused=fused
        )
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused)


def build_scheduler(optimizer: Optimizer, config: OptimConfig, *, active_epochs: int) -> LRScheduler:
    """A per-epoch schedule over the `active_epochs` epochs this optimiser steps in."""
    if config.schedule == "cosine":
        return CosineAnnealingLR(optimizer, T_max=max(1, active_epochs))
    if config.schedule == "step":
        return MultiStepLR(optimizer, milestones=list(config.milestones), gamma=config.gamma)
    return ConstantLR(optimizer, factor=1.0, total_iters=0)
