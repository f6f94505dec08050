"""Hinton et al.'s knowledge distillation from one teacher (NIPS 2014 workshop).

L = w_ce CE(z_S, y) + w_kd tau^2 KL(p_T^tau || p_S^tau)   (method.md section 5)

with the KL summed over classes and averaged over the batch, as in mdistiller's
`kd_loss` and the CA-MKD authors' `DistillKL`. The teacher is `method.kd.teacher`: an
index into `teachers`, or `best`, the teacher with the highest accuracy on the
student's validation split, measured once when the method is built (before the
student trains, so the choice uses no test data and never changes during a run).
The multi-teacher average is `avg_kd`; the confidence-aware multi-teacher baselines
are `ca_mkd`, `ebkd` and `ae_kd`.

`logit_standardization` turns on Sun et al.'s logit standardisation (CVPR 2024):
both logit vectors are z-scored before the softmax (functional.standardize_logits),
and `tau` becomes their "base temperature"; the tau^2 factor stays, as in their code.
Their CIFAR-100 setting is tau = 2 with w_kd = 9 (w_ce stays 0.1).

Teachers are fixed in every baseline, so their outputs are detached: no gradient can
reach a teacher even if the loop forgot to run them under no_grad.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import KDSettings
from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod, EpochPlan, MethodContext, MethodSetup, StepInput
from asib_sweeps.methods.functional import soft_kl, standardize_logits
from asib_sweeps.models.interface import ZooModel


class KnowledgeDistillation(DistillMethod):
    name = "kd"
    settings: KDSettings

    def __init__(self, settings: MethodSettings | None, setup: MethodSetup) -> None:
        super().__init__(settings, setup)
        self.teacher_index: int | None = self.settings.teacher if self.settings.teacher != "best" else None

    def build(self, context: MethodContext) -> None:
        if self.settings.teacher == "best" and len(context.teachers) > 1:
            accuracies = context.teacher_val_accuracies()
            # The earliest teacher wins a tie, so the choice is deterministic.
            self.teacher_index = max(range(len(accuracies)), key=lambda k: (accuracies[k], -k))

    def chosen_teacher(self, teachers: int) -> int:
        """The teacher index this run distils from (a lone teacher needs no choosing)."""
        if self.teacher_index is not None:
            return self.teacher_index
        if teachers == 1:
            return 0
        raise RuntimeError("method.kd.teacher='best' is resolved in build(); build the method before its first step")

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        student_logits = step.student.logits
        teacher_logits = step.teachers[self.chosen_teacher(len(step.teachers))].logits.detach()
        if s.logit_standardization:
            student_logits, teacher_logits = standardize_logits(student_logits), standardize_logits(teacher_logits)
        return {
            "ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "kd": s.w_kd * soft_kl(teacher_logits, student_logits, s.tau),
        }

    def on_epoch_end(self, plan: EpochPlan, teachers: list[ZooModel]) -> dict[str, float]:
        """Record the teacher distilled from (`kd_teacher`), so a table shows which one `best` chose."""
        return {"kd_teacher": self.chosen_teacher(len(teachers))}
