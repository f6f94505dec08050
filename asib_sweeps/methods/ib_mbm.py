"""The Information-Bottleneck Manifold-Bridging Module (IB-MBM) and the synergy head.

method.md section 1: every network's pooled feature goes through its own adapter
into a common d-dimensional space; the student's adapted feature is the one query
token, the teachers' are the key/value tokens; attention fuses them into a state s,
and a diagonal Gaussian q(z|x) = N(mu(s), sigma(s)^2) is the bottleneck. The synergy
head maps z to class logits. Sampling is what makes the bottleneck an information
bottleneck: it happens only while training and only when the module is stochastic
(use_ib); otherwise z = mu and the module is an ordinary deterministic fusion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

MIN_SIGMA = 1e-4
"""Floor on sigma (method.md): keeps log sigma^2 finite should logvar_clip ever allow it."""


def adapter(in_dim: int, dim: int) -> nn.Sequential:
    """A_k = Linear(D_k -> d) . ReLU . Linear(d -> d): maps one network's pooled feature to the shared space."""
    return nn.Sequential(nn.Linear(in_dim, dim), nn.ReLU(), nn.Linear(dim, dim))


def synergy_head(dim: int, num_classes: int, dropout: float) -> nn.Sequential:
    """g = LayerNorm . GELU . Dropout . Linear(d -> C): the synergy's classifier on the code z."""
    return nn.Sequential(nn.LayerNorm(dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, num_classes))


@dataclass
class BottleneckCode:
    """What the bottleneck produces for a batch: the code used downstream and q(z|x)'s parameters."""

    z: Tensor
    """[B, d] mu + sigma * eps when sampling, else mu."""
    mu: Tensor
    """[B, d]"""
    sigma: Tensor
    """[B, d] standard deviation, already clipped (via log sigma^2) and floored."""


def gaussian_kl(mu: Tensor, sigma: Tensor) -> Tensor:
    """Per-sample KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum_d (mu^2 + sigma^2 - log sigma^2 - 1), in nats, shape [B]."""
    variance = sigma.square()
    return 0.5 * (mu.square() + variance - variance.log() - 1.0).sum(dim=1)


class IBMBM(nn.Module):
    """Adapters, one-query attention over the teachers, and the Gaussian bottleneck.

    `stochastic` is the use_ib switch: when it is off the module never samples and
    z = mu in training too (beta is 0 then, so nothing would train sigma anyway).
    `logvar_init`, when given, is where log sigma^2 starts (the log-variance projection's
    bias); None keeps PyTorch's init (log sigma^2 ~ 0, sigma ~ 1).

    `query_in_values` adds the student's adapted feature (its own projection) to every
    value token. In the design note's module the student reaches the code only through
    the attention weights over K teachers and the residual, and a trained synergy can
    ignore both (its output barely moves when the queries are shuffled: docs/benchmarks.md);
    here the student's content enters what is attended itself. An option, off by default:
    whether it helps is for validation to say.
    """

    def __init__(
        self,
        *,
        teacher_dims: Sequence[int],
        student_dim: int,
        dim: int,
        heads: int,
        logvar_clip: float,
        stochastic: bool,
        logvar_init: float | None = None,
        query_in_values: bool = False,
    ) -> None:
        super().__init__()
        if not teacher_dims:
            raise ValueError("teacher_dims must name at least one teacher, got an empty list")
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads; got dim={dim}, heads={heads}")
        if logvar_clip <= 0:
            raise ValueError(f"logvar_clip must be > 0, got logvar_clip={logvar_clip}")
        self.dim = dim
        self.logvar_clip = logvar_clip
        self.stochastic = stochastic
        self.student_adapter = adapter(student_dim, dim)
        self.teacher_adapters = nn.ModuleList(adapter(d, dim) for d in teacher_dims)
        self.query_proj = nn.Linear(dim, dim)
        self.key_value_proj = nn.Linear(dim, dim)
        self.query_norm = nn.LayerNorm(dim)
        self.key_value_norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.state_norm = nn.LayerNorm(dim)
        self.mu_proj = nn.Linear(dim, dim)
        self.logvar_proj = nn.Linear(dim, dim)
        if logvar_init is not None:
            nn.init.constant_(self.logvar_proj.bias, logvar_init)
        self.value_query_proj = nn.Linear(dim, dim) if query_in_values else None
        """query_in_values: the student's adapted feature, projected, is added to every value token."""

    @property
    def num_teachers(self) -> int:
        return len(self.teacher_adapters)

    def _query_and_tokens(
        self, student_feature: Tensor, teacher_features: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The student's query [B, 1, d], the teachers' key tokens [B, K, d] and the value tokens [B, K, d]:
        the key tokens themselves, plus the student's projected feature under query_in_values."""
        if len(teacher_features) != self.num_teachers:
            raise ValueError(f"expected {self.num_teachers} teacher features, got {len(teacher_features)}")
        student = self.student_adapter(student_feature)
        query = self.query_norm(self.query_proj(student)).unsqueeze(1)
        tokens = torch.stack(
            [
                self.key_value_norm(self.key_value_proj(a(h)))
                for a, h in zip(self.teacher_adapters, teacher_features, strict=True)
            ],
            dim=1,
        )
        if self.value_query_proj is None:
            return query, tokens, tokens
        return query, tokens, tokens + self.value_query_proj(student).unsqueeze(1)

    def attention_weights(self, student_feature: Tensor, teacher_features: Sequence[Tensor]) -> Tensor:
        """[B, K]: how the query spreads its attention over the teachers, averaged over heads."""
        query, tokens, values = self._query_and_tokens(student_feature, teacher_features)
        _, weights = self.attention(query, tokens, values, need_weights=True, average_attn_weights=True)
        return weights.squeeze(1)

    def forward(self, student_feature: Tensor, teacher_features: Sequence[Tensor]) -> BottleneckCode:
        """student_feature [B, D_S] and one [B, D_k] per teacher -> the code of each sample."""
        query, tokens, values = self._query_and_tokens(student_feature, teacher_features)
        attended, _ = self.attention(query, tokens, values, need_weights=False)
        state = self.state_norm(attended + query).squeeze(1)
        mu = self.mu_proj(state)
        logvar = self.logvar_proj(state).clamp(-self.logvar_clip, self.logvar_clip)
        sigma = torch.exp(0.5 * logvar).clamp_min(MIN_SIGMA)
        z = mu + sigma * torch.randn_like(mu) if self.stochastic and self.training else mu
        return BottleneckCode(z=z, mu=mu, sigma=sigma)
