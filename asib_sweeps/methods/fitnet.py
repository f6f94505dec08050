"""FitNets hints (Romero et al., 2015) in mdistiller's one-stage form, AVER over K teachers.

    L = CE(z_S, y) + weight * mean_k MSE(r_k(F_S), F_k)

at one stage: `method.fitnet.stage` of the student (None = its middle stage,
len(features) // 2) and, in each teacher, the stage at the same relative depth
(`stage_depth.stage_at_same_depth`). Each teacher has its own regressor r_k, a stack
of conv + BN + ReLU blocks built from the probe shapes so that it outputs exactly
the teacher's map: stride-2 convs (repeated) where the student's map is larger,
stride-2 transposed convs where it is smaller, a 3x3 conv where the sizes match.
The regressors are this module's parameters: checkpointed with it and trained with
the student.
"""

from __future__ import annotations

from collections.abc import Sequence


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.catalog.method_settings import FitNetSettings
from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod, MethodContext, MethodSetup, StepInput
from asib_sweeps.methods.stage_depth import stage_at_same_depth


Size = tuple[int, int]


def build_regressor(student_shape: Sequence[int], teacher_shape: Sequence[int]) -> nn.Sequential:
    """conv + BN + ReLU blocks mapping a [C_s, H_s, W_s] map to a [C_t, H_t, W_t] one.

    Each block halves, doubles or keeps each spatial dimension (independently) until
    the teacher's size is reached; a size that halving or doubling cannot reach
    exactly, or a map larger in one dimension and smaller in the other, is an error.
    """
    in_channels, *student_size = student_shape
    out_channels, *teacher_size = teacher_shape
    size, target = (student_size[0], student_size[1]), (teacher_size[0], teacher_size[1])
    growing = any(s < t for s, t in zip(size, target))
    shrinking = any(s > t for s, t in zip(size, target))
    problem = (
        f"fitnet regressor cannot map a student map {tuple(student_shape)} to a teacher map {tuple(teacher_shape)}"
    )
    if growing and shrinking:
        raise ValueError(f"{problem}: one spatial size is larger and the other smaller")
    blocks: list[nn.Module] = []
    channels = in_channels
    while True:
        conv, size = _resizing_conv(channels, out_channels, size, target)
        blocks += [conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
        channels = out_channels
        if size == target:
            return nn.Sequential(*blocks)
        if any((s > t) if growing else (s < t) for s, t in zip(size, target)):
            raise ValueError(f"{problem}: the size ratio is not a power of 2")


def _resizing_conv(in_channels: int, out_channels: int, size: Size, target: Size) -> tuple[nn.Module, Size]:
    """One bias-free conv (BN follows) that moves each spatial size one step toward the target."""
    if any(s > t for s, t in zip(size, target)):
        stride = (2 if size[0] > target[0] else 1, 2 if size[1] > target[1] else 1)
        conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        return conv, (-(-size[0] // stride[0]), -(-size[1] // stride[1]))  # ceil(size / stride)
    if any(s < t for s, t in zip(size, target)):
        stride = (2 if size[0] < target[0] else 1, 2 if size[1] < target[1] else 1)
        kernel = (stride[0] + 2, stride[1] + 2)  # out = (size - 1) * stride - 2 * padding + kernel = size * stride
        transposed = nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=stride, padding=1, bias=False)
        return transposed, (size[0] * stride[0], size[1] * stride[1])
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), size


class FitNet(DistillMethod):
    name = "fitnet"
    settings: FitNetSettings

    def __init__(self, settings: MethodSettings | None, setup: MethodSetup) -> None:
        super().__init__(settings, setup)
        self.regressors = nn.ModuleList()
        self.student_stage = -1
        self.teacher_stages: list[int] = []

    def build(self, context: MethodContext) -> None:
        stage_count = len(context.student_probe.features)
        stage = self.settings.stage if self.settings.stage is not None else stage_count // 2
        if not 0 <= stage < stage_count:
            raise ValueError(
                f"method.fitnet.stage must be in 0..{stage_count - 1} (the student has {stage_count} stages) "
                f"or null for the middle one; got method.fitnet.stage={stage}"
            )
        student_shape = context.student_probe.features[stage].shape[1:]
        self.student_stage = stage
        self.teacher_stages = []
        regressors = []
        for probe in context.teacher_probes:
            teacher_stage = stage_at_same_depth(stage, stage_count, len(probe.features))
            self.teacher_stages.append(teacher_stage)
            regressors.append(build_regressor(student_shape, probe.features[teacher_stage].shape[1:]))
        self.regressors = nn.ModuleList(regressors).to(context.student_probe.features[stage].device)

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        if len(self.regressors) != len(step.teachers):
            raise RuntimeError(
                f"fitnet has {len(self.regressors)} regressors for {len(step.teachers)} teachers; "
                "call build(context) with the run's teachers before training"
            )
        hint = step.student.features[self.student_stage]
        per_teacher = [
            F.mse_loss(regressor(hint), teacher.features[stage].detach())
            for regressor, teacher, stage in zip(self.regressors, step.teachers, self.teacher_stages)
        ]
        return {
            "ce": F.cross_entropy(step.student.logits, step.labels),
            "fitnet": self.settings.weight * torch.stack(per_teacher).mean(),
        }
