"""CA-MKD, confidence-aware multi-teacher KD (Zhang, Chen and Wang, ICASSP 2022).

Logit part. Each teacher's weight for each sample comes from how well that teacher
predicts the label: with CE_{k,b} the cross-entropy of teacher k's (untempered)
logits with y_b,

    w_{k,b} = (1 - softmax_k(CE_{., b})) / (K - 1)

so the weights of a sample sum to 1 and a teacher that is confidently wrong (a class
it never saw: masked logit, CE ~ 1e9) gets weight ~0. The KL term is the authors'
reduction (teacher_weighting.py): sum_{k,b} w_{k,b} tau^2 KL_b / (B K); these weights
carry no gradient (the teachers run under no_grad in their code).

Feature part (their `distill inter`, distiller_zoo/CAMKD.py and models/util.CalWeight).
The student's last-stage map is resized to each teacher's last-stage map (adaptive
average pooling when it is at least as large, bilinear interpolation otherwise; as in
their code, each teacher's resize starts from the map resized for the teacher
before it), embedded by a 1x1 conv + BN + ReLU per teacher (their `Embed`, trained
with the student), and passed through that teacher's own head (neck, pooling,
classifier; its unseen classes masked) to weigh the teachers the same way, from the
CE of those logits with the label. Here the weights are *not* detached: the gradient
reaches the embedding through them too, as in the authors' code. Then

    L_feat = sum_{k,b} v_{k,b} mean_{c,h,w} (E_k(F_S) - F_k)^2_b / (B K)

and L = w_ce CE + w_kd L_KL + w_feat L_feat, with L_feat left out of the first epoch
(their loop adds it from epoch 2 on). Their CIFAR-100 script: tau 4, w_ce 1, w_kd 1,
w_feat (their beta) 50.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.catalog.method_settings import CAMKDSettings
from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod, MethodContext, MethodSetup, StepInput
from asib_sweeps.methods.functional import mask_unseen_classes
from asib_sweeps.methods.teacher_weighting import weighted_teacher_kl
from asib_sweeps.models.interface import ZooModel


def confidence_weights(teacher_logits: list[Tensor], labels: Tensor) -> Tensor:
    """w[k, b] = (1 - softmax over teachers of CE(z_k,b, y_b)) / (K - 1), in at least float32 [K, B]."""
    dtype = torch.promote_types(teacher_logits[0].dtype, torch.float32)
    losses = torch.stack([F.cross_entropy(t.to(dtype), labels, reduction="none") for t in teacher_logits])
    return (1.0 - F.softmax(losses, dim=0)) / (len(teacher_logits) - 1)


def resized_like(current: Tensor, teacher_map: Tensor, student_height: int) -> Tensor:
    """The authors' resize of `current` (the map resized for the previous teacher, or the
    student's): adaptive average pooling when the *student's* height is at least the
    teacher's, bilinear interpolation otherwise."""
    size = teacher_map.shape[2:]
    if student_height >= size[0]:
        return F.adaptive_avg_pool2d(current, size)
    return F.interpolate(current, size=size, mode="bilinear")


def build_embedding(student_channels: int, teacher_channels: int) -> nn.Sequential:
    """Their `Embed` with convs=False: a 1x1 conv (with bias), BN, ReLU."""
    return nn.Sequential(nn.Conv2d(student_channels, teacher_channels, 1), nn.BatchNorm2d(teacher_channels), nn.ReLU())


class ConfidenceAwareMultiTeacherKD(DistillMethod):
    name = "ca_mkd"
    settings: CAMKDSettings

    def __init__(self, settings: MethodSettings | None, setup: MethodSetup) -> None:
        super().__init__(settings, setup)
        self.embeddings = nn.ModuleList()
        # Plain lists, not submodules: the teachers are the run's, never this method's parameters.
        self.teacher_heads: list[ZooModel] = []
        self.teacher_seen: list[Tensor | None] = []

    def build(self, context: MethodContext) -> None:
        if self.settings.w_feat == 0:
            return
        student_map = context.student_probe.features[-1]
        self.embeddings = nn.ModuleList(
            build_embedding(student_map.shape[1], probe.features[-1].shape[1]) for probe in context.teacher_probes
        ).to(student_map.device)
        self.teacher_heads = list(context.teachers)
        self.teacher_seen = list(context.teacher_seen)

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        teacher_logits = [t.logits.detach() for t in step.teachers]
        weights = confidence_weights(teacher_logits, step.labels)
        terms = {
            "ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "kd": s.w_kd * weighted_teacher_kl(weights, step.student.logits, teacher_logits, s.tau),
        }
        if s.w_feat > 0:
            teacher_maps = [t.features[-1].detach() for t in step.teachers]
            feature = self.feature_term(step.student.features[-1], teacher_maps, step.labels)
            terms["feat"] = s.w_feat * feature * (0.0 if step.plan.epoch == 0 else 1.0)
        return terms

    def feature_term(self, student_map: Tensor, teacher_maps: list[Tensor], labels: Tensor) -> Tensor:
        """sum_{k,b} v_{k,b} MSE_b(E_k(F_S), F_k) / (B K), v from the teachers' heads on E_k(F_S)."""
        if len(self.embeddings) != len(teacher_maps):
            raise RuntimeError(
                f"ca_mkd has {len(self.embeddings)} feature embeddings for {len(teacher_maps)} teachers; "
                "call build(context) with the run's teachers before training"
            )
        embedded, head_logits = [], []
        resized = student_map
        parts = zip(self.embeddings, self.teacher_heads, self.teacher_seen, teacher_maps)
        for embedding, head, seen, teacher_map in parts:
            resized = resized_like(resized, teacher_map, student_map.shape[2])
            embedded.append(embedding(resized))
            head_logits.append(mask_unseen_classes(head.classifier(head.pool(head.neck(embedded[-1]))), seen))
        weights = confidence_weights(head_logits, labels)
        dtype = torch.promote_types(student_map.dtype, torch.float32)  # bf16 maps are compared in float32
        per_sample = torch.stack(
            [(e.to(dtype) - t.to(dtype)).square().flatten(1).mean(dim=1) for e, t in zip(embedded, teacher_maps)]
        )
        return (weights * per_sample).sum() / (labels.shape[0] * len(teacher_maps))

