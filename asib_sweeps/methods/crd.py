"""Contrastive representation distillation (Tian et al., ICLR 2020), AVER over K teachers.

    L = CE(z_S, y) + weight * mean_k (NCE_s + NCE_t)

as in the authors' RepDistiller code: the pooled features of the student and of
teacher k go through trainable linear heads to `feat_dim`-d unit vectors e_S, e_T.
Two memory banks (one row per training sample, unit rows) hold a running average of
each side's embeddings. For an anchor i, the positive is row i of the *other* side's
bank and the negatives are `negatives` rows of samples from other classes (never the
anchor's class: RepDistiller's "exact" sampling). Scores are exp(e . m / T) / Z, with
Z estimated on the first batch (mean score x N) and then fixed, and the loss is the
NCE binary classification of the positive against noise of probability 1/N:

    NCE = -(1/B) sum_i [log P_i+ / (P_i+ + K/N) + sum_negatives log (K/N) / (P_ij + K/N)]

NCE_s takes the student's embedding against the teacher's bank, NCE_t the teacher's
embedding against the student's bank. After the scores, the batch's rows of each bank
move to normalise(momentum * row + (1 - momentum) * embedding).

Each teacher has its own pair of heads and banks (its own single-teacher CRD); one
draw of negatives per step serves them all. Scores are computed as e @ bank.T and then
gathered, instead of gathering B x (K + 1) bank rows first: the same numbers without
a [B, K + 1, feat_dim] copy of the bank (about 0.5 GB at B = 64, K = 16384).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.catalog.method_settings import CRDSettings
from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod, MethodContext, MethodSetup, StepInput


NCE_EPS = 1e-7
"""RepDistiller's guard inside the NCE logs."""


class Embedding(nn.Module):
    """Linear head to a unit vector: CRD compares directions, not magnitudes."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, pooled: Tensor) -> Tensor:
        return F.normalize(self.linear(pooled.flatten(1)).float(), dim=1)


class MemoryBank(nn.Module):
    """N unit rows (a buffer: updated by momentum, never by gradients) and its fixed normaliser Z."""

    def __init__(self, size: int, dim: int, device: torch.device) -> None:
        super().__init__()
        # RepDistiller draws rows uniformly in +-sqrt(3 / dim) (unit norm on average); we
        # normalise them so every row is a unit vector from the start.
        bound = (3.0 / dim) ** 0.5
        rows = torch.empty(size, dim, device=device).uniform_(-bound, bound)
        self.register_buffer("rows", F.normalize(rows, dim=1))
        self.register_buffer("normaliser", torch.zeros((), device=device))  # Z; 0 until the first batch sets it

    def scores(self, embeddings: Tensor, candidates: Tensor, temperature: float) -> Tensor:
        """exp(e_i . row_j / T) / Z for candidates [B, 1 + K] (positive first), [B, 1 + K].

        The first call sets Z = mean(exp(...)) * N from its own scores; later calls keep it.
        """
        # In float32 even under autocast: at T = 0.07 a bf16 dot product's error becomes ~5 % of a score.
        with torch.autocast(embeddings.device.type, enabled=False):
            raw = torch.exp((embeddings.float() @ self.rows.T).gather(1, candidates) / temperature)
        estimate = raw.detach().mean() * self.rows.shape[0]
        self.normaliser.copy_(torch.where(self.normaliser > 0, self.normaliser, estimate))
        return raw / self.normaliser

    def update(self, indices: Tensor, embeddings: Tensor, momentum: float) -> None:
        """Move the rows at `indices` toward `embeddings` and re-normalise them.

        The bank is replaced by an updated copy rather than written in place: the
        autograd graph of this step's scores holds the old bank for its backward pass.
        """
        moved = self.rows[indices] * momentum + embeddings.detach() * (1.0 - momentum)
        self.rows = self.rows.index_copy(0, indices, F.normalize(moved, dim=1))


def nce_loss(scores: Tensor, data_size: int) -> Tensor:
    """RepDistiller's ContrastLoss: NCE of the positive (column 0) against K noise samples."""
    noise = (scores.shape[1] - 1) / data_size  # K * P_noise with P_noise = 1 / N
    log_positive = torch.log(scores[:, 0] / (scores[:, 0] + noise + NCE_EPS))
    log_negatives = torch.log(noise / (scores[:, 1:] + noise + NCE_EPS))
    return -(log_positive.sum() + log_negatives.sum()) / scores.shape[0]


class ContrastPair(nn.Module):
    """One teacher's CRD: the two heads and the two banks."""

    def __init__(self, student_dim: int, teacher_dim: int, data_size: int, settings: CRDSettings, device: torch.device):
        super().__init__()
        self.student_head = Embedding(student_dim, settings.feat_dim).to(device)
        self.teacher_head = Embedding(teacher_dim, settings.feat_dim).to(device)
        self.student_bank = MemoryBank(data_size, settings.feat_dim, device)
        self.teacher_bank = MemoryBank(data_size, settings.feat_dim, device)

    def forward(
        self, student_pooled: Tensor, teacher_pooled: Tensor, candidates: Tensor, settings: CRDSettings
    ) -> Tensor:
        """NCE_s + NCE_t for a batch; updates both banks at the batch's indices (candidates[:, 0])."""
        student = self.student_head(student_pooled)
        teacher = self.teacher_head(teacher_pooled)
        data_size = self.student_bank.rows.shape[0]
        nce_student = nce_loss(self.teacher_bank.scores(student, candidates, settings.temperature), data_size)
        nce_teacher = nce_loss(self.student_bank.scores(teacher, candidates, settings.temperature), data_size)
        self.student_bank.update(candidates[:, 0], student, settings.momentum)
        self.teacher_bank.update(candidates[:, 0], teacher, settings.momentum)
        return nce_student + nce_teacher


class ContrastiveRepresentationDistillation(DistillMethod):
    name = "crd"
    settings: CRDSettings

    def __init__(self, settings: MethodSettings | None, setup: MethodSetup) -> None:
        super().__init__(settings, setup)
        self.pairs = nn.ModuleList()
        self.negative_count = 0
        self.register_buffer("train_labels", torch.zeros(0, dtype=torch.long), persistent=False)

    def build(self, context: MethodContext) -> None:
        labels = context.train_labels
        device = context.student_probe.pooled.device
        class_sizes = torch.unique(labels, return_counts=True)[1]
        available = len(labels) - int(class_sizes.max())
        if available < 1:
            raise ValueError(
                f"crd needs training samples of at least 2 classes for its negatives; got {len(labels)} "
                f"samples of {len(class_sizes)} class(es)"
            )
        self.negative_count = min(self.settings.negatives, available)
        self.train_labels = labels.to(device)
        student_dim = context.student_probe.pooled.flatten(1).shape[1]
        self.pairs = nn.ModuleList(
            ContrastPair(student_dim, probe.pooled.flatten(1).shape[1], len(labels), self.settings, device)
            for probe in context.teacher_probes
        )

    def sample_negatives(self, labels: Tensor) -> Tensor:
        """`negative_count` distinct training indices per anchor [B, K], none of the anchor's class.

        A multinomial without replacement over a 0/1 weight never draws a 0-weight
        (same-class) index; `negative_count` is at most the smallest number of
        other-class samples, so every anchor has enough.
        """
        other_class = (self.train_labels[None, :] != labels[:, None]).float()
        return torch.multinomial(other_class, self.negative_count, replacement=False)

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        if len(self.pairs) != len(step.teachers):
            raise RuntimeError(
                f"crd has heads for {len(self.pairs)} teachers but got {len(step.teachers)}; "
                "call build(context) with the run's teachers before training"
            )
        candidates = torch.cat([step.indices[:, None], self.sample_negatives(step.labels)], dim=1)
        per_teacher = [
            pair(step.student.pooled, teacher.pooled.detach(), candidates, self.settings)
            for pair, teacher in zip(self.pairs, step.teachers)
        ]
        return {
            "ce": F.cross_entropy(step.student.logits, step.labels),
            "crd": self.settings.weight * torch.stack(per_teacher).mean(),
        }
