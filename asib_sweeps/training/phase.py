"""The one place an epoch's phase sets what trains: requires_grad, train/eval modes, freeze levels."""

from __future__ import annotations

from asib_sweeps.freezing import apply_freeze_level, trainable_parameter_count
from asib_sweeps.methods.base import DistillMethod, EpochPlan, Part
from asib_sweeps.models import ZooModel


def configure_phase(
    plan: EpochPlan, parts: frozenset[Part], *, student: ZooModel, teachers: list[ZooModel], method: DistillMethod
) -> None:
    """Put every model and the method in the state the epoch's phase trains them in.

    Teachers keep their fine-tuned BatchNorm statistics even while adapting (eval mode).
    The method's modules are put in training mode first, then its `on_epoch_start`
    hook runs, where a method may hold some of them fixed (ASIB's B-phase).
    """
    trains_student = "student" in parts
    student.train(trains_student)
    student.requires_grad_(trains_student)
    if trains_student:
        apply_freeze_level(student, plan.student_freeze_level, train_bn=plan.frozen_bn_trains)
    for part, params in method.parameter_groups().items():
        for param in params:
            param.requires_grad_(part in parts)
    method.train(True)
    trains_teachers = "teachers" in parts
    for teacher in teachers:
        teacher.eval()
        teacher.requires_grad_(trains_teachers)
        if trains_teachers:
            apply_freeze_level(teacher, plan.teacher_freeze_level, train_bn=plan.frozen_bn_trains)
        else:
            teacher.set_frozen_prefix(0, without_grad=False)
    method.on_epoch_start(plan)


def trainable_count(parts: frozenset[Part], *, student: ZooModel, teachers: list[ZooModel], method: DistillMethod) -> int:
    """Parameters that receive gradients in a phase (after `configure_phase`)."""
    modules = [method, *([student] if "student" in parts else []), *(teachers if "teachers" in parts else [])]
    return trainable_parameter_count(modules)
