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

from typing import TYPE_CHECKING, Annotated, Literal

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod, EpochPlan, MethodContext, StepInput
from asib_sweeps.methods.functional import soft_kl, standardize_logits
from asib_sweeps.methods.registry import register_method
from asib_sweeps.models.interface import ZooModel
from asib_sweeps.tunable import LogUniform, Uniform

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig


class KDSettings(MethodSettings):
    """Hinton KD's teacher, temperature and weights."""

    teacher: Annotated[int, Field(ge=0)] | Literal["best"] = "best"
    """Which teacher to distil from: an index into `teachers`, or `best` (highest accuracy on
    the student's validation split, chosen before the student trains)."""
    tau: float = Field(4.0, gt=0)
    """Softmax temperature of the KD term (Hinton et al.); the base temperature under logit standardisation."""
    w_ce: float = Field(0.1, ge=0)
    """Weight of the cross-entropy on labels."""
    w_kd: float = Field(0.9, ge=0)
    """Weight of the tau^2-scaled KL to the teacher's soft labels."""
    logit_standardization: bool = False
    """Z-score student and teacher logits before the softmax (Sun et al., CVPR 2024; their CIFAR-100
    setting: tau=2, w_kd=9)."""

    def check_teachers(self, count: int) -> None:
        if self.teacher != "best" and self.teacher >= count:
            raise ValueError(
                f"method.kd.teacher must be 'best' or an index below the number of teachers ({count}); "
                f"got method.kd.teacher={self.teacher}"
            )


@register_method
class KnowledgeDistillation(DistillMethod):
    name = "kd"
    settings_type = KDSettings
    settings: KDSettings
    dataset_defaults = {"digits": {"w_ce": 1.0, "w_kd": 1.0}}
    # Published CIFAR values (tau 4, 0.1 / 0.9) and the digits ones (1 / 1) lie inside, none at an edge.
    search_space = {"tau": Uniform(1.0, 8.0), "w_ce": LogUniform(0.02, 5.0), "w_kd": LogUniform(0.1, 10.0)}

    def __init__(self, config: RunConfig) -> None:
        super().__init__(config)
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
