"""Attention transfer (Zagoruyko & Komodakis, 2017), AVER over K teachers.

    L = CE(z_S, y) + weight * sum_stages mean_{b, pixels} (A(F_S) - A(F_T))^2

with A(F) the L2-normalised, flattened channel mean of F^2: where a network puts its
activation energy. A is blind to the channel count and to the feature scale, which is
why AT works between any two architectures. When spatial sizes differ, the larger
energy map is average-pooled to the smaller size (pooling F^2 keeps "energy in this
region"; pooling F first would let signs cancel). Stages are paired by relative depth
when the counts differ (`stage_depth.paired_stages`): one term per stage of the
shallower network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import ATSettings
from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.stage_depth import paired_stages


def attention_map(energy: Tensor) -> Tensor:
    """L2-normalise a spatial energy map [B, H, W] into an attention vector [B, H * W]."""
    return F.normalize(energy.flatten(1), dim=1)


def spatial_energy(feature: Tensor) -> Tensor:
    """The channel mean of F^2 [B, H, W], in at least float32: bf16 (autocast) loses the small energies."""
    return feature.to(torch.promote_types(feature.dtype, torch.float32)).pow(2).mean(dim=1)


def attention_loss(student_feature: Tensor, teacher_feature: Tensor) -> Tensor:
    """mean (A(F_S) - A(F_T))^2 for one pair of maps, any channel counts and sizes."""
    student_energy = spatial_energy(student_feature)
    teacher_energy = spatial_energy(teacher_feature)
    size = (
        min(student_energy.shape[1], teacher_energy.shape[1]),
        min(student_energy.shape[2], teacher_energy.shape[2]),
    )
    student_att = attention_map(F.adaptive_avg_pool2d(student_energy, size))
    teacher_att = attention_map(F.adaptive_avg_pool2d(teacher_energy, size))
    return (student_att - teacher_att).pow(2).mean()


def attention_transfer_loss(student_features: list[Tensor], teacher_features: list[Tensor]) -> Tensor:
    """Sum of `attention_loss` over the stage pairs of equal relative depth."""
    pairs = paired_stages(len(student_features), len(teacher_features))
    return torch.stack([attention_loss(student_features[i], teacher_features[j]) for i, j in pairs]).sum()


class AttentionTransfer(DistillMethod):
    name = "at"
    settings: ATSettings

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        student_features = step.student.features
        per_teacher = [
            attention_transfer_loss(student_features, [f.detach() for f in teacher.features])
            for teacher in step.teachers
        ]
        return {
            "ce": F.cross_entropy(step.student.logits, step.labels),
            "at": self.settings.weight * torch.stack(per_teacher).mean(),
        }
