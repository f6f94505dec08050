"""DIST, KD from a stronger teacher (Huang et al., NeurIPS 2022), AVER over K teachers.

DIST replaces the KL with relations that survive a large teacher-student gap: with
Y_S, Y_T = softmax(z / tau) as [B, C] matrices and rho the Pearson correlation,

    inter = 1 - mean_b rho(Y_S[b, :], Y_T[b, :])     (each sample's class ranking)
    intra = 1 - mean_c rho(Y_S[:, c], Y_T[:, c])     (each class across the batch)
    L = w_ce CE(z_S, y) + w_kd mean_k tau^2 (beta inter_k + gamma intra_k)

As in the authors' code (hunto/image_classification_sota, lib/models/losses/dist_kd.py):
rho is the cosine similarity of mean-centred vectors with 1e-8 added to the product
of the norms, both terms carry tau^2, and their CIFAR-100 config (dist_cifar.yaml,
`kd: dist_t4`, ori_loss_weight 1, kd_loss_weight 2) gives tau 4, beta = gamma = 1,
w_ce 1, w_kd 2. Several teachers are averaged loss by loss (AVER), as in `dkd`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import DISTSettings
from asib_sweeps.methods.base import DistillMethod, StepInput

PEARSON_EPS = 1e-8
"""Added to |a| |b| in the authors' cosine_similarity."""


def pearson_rows(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of each row of a with the same row of b [N], the authors' epsilon included."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + PEARSON_EPS)


def dist_relations(student_logits: Tensor, teacher_logits: Tensor, tau: float) -> tuple[Tensor, Tensor]:
    """(inter, intra) relation losses for one teacher, without the tau^2 factor, in at least float32."""
    dtype = torch.promote_types(student_logits.dtype, torch.float32)
    y_s = F.softmax(student_logits.to(dtype) / tau, dim=1)
    y_t = F.softmax(teacher_logits.to(dtype) / tau, dim=1)
    inter = 1 - pearson_rows(y_s, y_t).mean()
    intra = 1 - pearson_rows(y_s.T, y_t.T).mean()
    return inter, intra


class DISTDistillation(DistillMethod):
    name = "dist"
    settings: DISTSettings

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        per_teacher = []
        for teacher in step.teachers:
            inter, intra = dist_relations(step.student.logits, teacher.logits.detach(), s.tau)
            per_teacher.append(s.tau**2 * (s.beta * inter + s.gamma * intra))
        return {
            "ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "kd": s.w_kd * torch.stack(per_teacher).mean(),
        }
