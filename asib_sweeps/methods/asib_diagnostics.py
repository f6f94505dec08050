"""ASIB's per-epoch diagnostics on a fixed validation batch: does the synergy listen to the student's query?

The synergy is meant to adapt the teachers' knowledge to the student that queries it.
If its output barely moves when the student features are shuffled within the batch
(every sample gets another sample's query), it is a label-trained fusion of the
teachers whatever its name says. Two readings:

- `query_kl`: mean over the batch of KL(p_syn || p_syn_shuffled) at tau_syn (the
  temperature the student distils at), in nats; `query_flips` is the share of samples
  whose arg-max class changes. Shuffling is a roll by one position, so it is
  deterministic and draws nothing from the run's random streams.
- `attention_entropy`: mean entropy (nats) of the head-averaged attention over the K
  teachers; log K means the query attends uniformly, i.e. it selects nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.models.interface import ModelOutput

SynergyLogits = Callable[[ModelOutput], Tensor]
"""The synergy's logits [B, C] for a student output (the teachers held fixed)."""


def shuffled_queries(student: ModelOutput) -> ModelOutput:
    """The student's output with its pooled features rolled by one sample: each sample gets another's query."""
    return dataclasses.replace(student, pooled=student.pooled.roll(1, dims=0))


def query_sensitivity(synergy_logits: SynergyLogits, student: ModelOutput, tau: float) -> dict[str, float]:
    """query_kl and query_flips (module docstring); 0 and 0 for a batch of one sample (nothing to shuffle)."""
    logits = synergy_logits(student).float()
    shuffled = synergy_logits(shuffled_queries(student)).float()
    log_p, log_q = F.log_softmax(logits / tau, dim=1), F.log_softmax(shuffled / tau, dim=1)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=1)
    flips = (logits.argmax(dim=1) != shuffled.argmax(dim=1)).float()
    return {"query_kl": float(kl.mean()), "query_flips": float(flips.mean())}


def attention_entropy(weights: Tensor) -> float:
    """Mean over the batch of -sum_k w_k log w_k for attention weights [B, K]."""
    weights = weights.float()
    return float(-torch.xlogy(weights, weights).sum(dim=1).mean())
