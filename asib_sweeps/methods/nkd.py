"""NKD, normalized KD (Yang et al., ICCV 2023), AVER over K teachers.

NKD splits the teacher's distribution into the target and the non-target classes and
normalises the non-target part to sum 1 before matching it:

    L_target = -mean_b T_t,b log S_t,b                      (untempered, tau = 1)
    L_non    = -gamma tau^2 mean_b sum_{c != y_b} T^tau_c,b log S^tau_c,b
    L = w_ce CE(z_S, y) + mean_k (L_target,k + L_non,k)

with T_t = softmax(z_T)[y] detached, and T^tau, S^tau the softmax over the C - 1
non-target logits only (the target column removed, then softmax, as in the authors'
code). This is Yang et al.'s NKDLoss (yzd-v/cls_KD, mmcls/.../nkd.py) term by term:
batch means, no epsilon, tau^2 on the non-target part only; the student's own CE has
weight 1 in their distiller. Their CIFAR-100 config (res34_distill_res18_cifar.py)
uses tau 3, gamma 3.5. Several teachers are averaged loss by loss (AVER), as in `dkd`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import NKDSettings
from asib_sweeps.methods.base import DistillMethod, MethodContext, StepInput


def nkd_loss(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, tau: float, gamma: float) -> Tensor:
    """L_target + L_non for one teacher, in at least float32."""
    dtype = torch.promote_types(student_logits.dtype, torch.float32)
    z_s, z_t = student_logits.to(dtype), teacher_logits.to(dtype)
    target = F.one_hot(labels, z_s.shape[1]).bool()
    log_s_target = F.log_softmax(z_s, dim=1)[target]
    t_target = F.softmax(z_t, dim=1)[target].detach()
    loss_target = -(t_target * log_s_target).mean()
    rows, others = z_s.shape[0], z_s.shape[1] - 1
    log_s_rest = F.log_softmax(z_s[~target].reshape(rows, others) / tau, dim=1)
    t_rest = F.softmax(z_t[~target].reshape(rows, others) / tau, dim=1)
    loss_non = -gamma * tau**2 * (t_rest * log_s_rest).sum(dim=1).mean()
    return loss_target + loss_non


class NormalizedKD(DistillMethod):
    name = "nkd"
    settings: NKDSettings

    def build(self, context: MethodContext) -> None:
        if context.num_classes < 3:
            raise ValueError(
                "nkd needs num_classes >= 3 (its non-target part is a distribution over the other "
                f"C - 1 classes); got num_classes={context.num_classes}"
            )

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        per_teacher = [
            nkd_loss(step.student.logits, t.logits.detach(), step.labels, s.tau, s.gamma) for t in step.teachers
        ]
        return {
            "ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "nkd": torch.stack(per_teacher).mean(),
        }
