"""Building a run's parts from its config: data, student, teachers, and the method on probe shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from asib_sweeps.config import RunConfig
from asib_sweeps.data import DataBundle, Split, eval_batches, load_data, student_subset
from asib_sweeps.methods import create_method
from asib_sweeps.catalog.methods import method_entry
from asib_sweeps.methods.base import DistillMethod, MethodContext
from asib_sweeps.methods.functional import mask_unseen_classes, seen_mask
from asib_sweeps.models import ZooModel, create_model
from asib_sweeps.training.device import FastPaths, resolve_fast_paths
from asib_sweeps.training.rng import seed_everything


@dataclass(frozen=True)
class RunParts:
    data: DataBundle
    train_split: Split
    """The split the student learns from (a seeded subset of train when student_train_size is set)."""
    student: ZooModel
    teachers: list[ZooModel]
    teacher_seen: list[Tensor | None]
    method: DistillMethod
    fast: FastPaths


def build_parts(config: RunConfig, teacher_states: Sequence[Mapping[str, Tensor]], device: torch.device) -> RunParts:
    """Data on the device, then, seeded by `config.seed`, the method, the student and the teachers."""
    fast = resolve_fast_paths(config.runtime, device)
    data = load_data(config.data).to(device)
    train_split = data.train
    if config.data.student_train_size is not None:
        train_split = student_subset(data.train, config.data.student_train_size, seed=config.data.split_seed)
    seed_everything(config.seed)
    method = create_method(config)
    student = _build_model(config.student.arch, data.num_classes, fast, device, spec=config.student)
    teachers, teacher_seen = _build_teachers(config, method, teacher_states, data.num_classes, fast, device)
    _build_method(method, config, data, train_split, student, teachers, teacher_seen)
    method.to(device)
    if fast.compile is not False:
        # In place (nn.Module.compile), so state dicts, blocks() and freezing see the same modules.
        for model in (student, *teachers):
            model.compile(mode=None if fast.compile is True else fast.compile)
    return RunParts(data, train_split, student, teachers, teacher_seen, method, fast)


def _build_teachers(
    config: RunConfig,
    method: DistillMethod,
    states: Sequence[Mapping[str, Tensor]],
    num_classes: int,
    fast: FastPaths,
    device: torch.device,
) -> tuple[list[ZooModel], list[Tensor | None]]:
    if not method_entry(config.method.name).uses_teachers:
        return [], []
    if len(states) != len(config.teachers):
        raise ValueError(
            f"method {config.method.name!r} needs the weights of {len(config.teachers)} teachers, got {len(states)}"
        )
    teachers, seen = [], []
    for index, (spec, state) in enumerate(zip(config.teachers, states)):
        teacher = _build_model(spec.arch, num_classes, fast, device, spec=None)
        teacher.load_state_dict(state)
        teachers.append(teacher)
        seen.append(seen_mask(spec.classes, num_classes, device, key=f"teachers.{index}.classes"))
    return teachers, seen


def _build_method(
    method: DistillMethod,
    config: RunConfig,
    data: DataBundle,
    train_split: Split,
    student: ZooModel,
    teachers: list[ZooModel],
    teacher_seen: list[Tensor | None],
) -> None:
    """Let the method create its own parts, sized from the models' outputs on a 2-image probe."""
    probe = next(eval_batches(train_split, batch_size=2, mean=data.mean, std=data.std))[0]
    with torch.no_grad():
        student.eval()
        student_probe = student(probe)
        teacher_probes = [teacher.eval()(probe) for teacher in teachers]
    method.build(
        MethodContext(
            num_classes=data.num_classes,
            train_labels=train_split.labels,
            student=student,
            teachers=teachers,
            student_probe=student_probe,
            teacher_probes=teacher_probes,
            teacher_seen=teacher_seen,
            teacher_val_accuracies=functools.partial(_val_accuracies, teachers, teacher_seen, data, config),
        )
    )


@torch.no_grad()
def _val_accuracies(
    teachers: list[ZooModel], seen: list[Tensor | None], data: DataBundle, config: RunConfig
) -> list[float]:
    """Each teacher's accuracy over the whole validation split the student is selected on.

    Its unseen classes are masked as in training, so a teacher that never saw a class
    counts those samples as errors: the accuracy answers "how good a single teacher for
    this student is", which is what `kd`'s `best` needs (the teacher's own fine-tuning
    accuracy, in the cache's teacher.json, is measured on its class subset only).
    Plain float32 evaluation, before any compilation.
    """
    correct = [0] * len(teachers)
    for teacher in teachers:
        teacher.eval()
    batches = eval_batches(data.val, batch_size=config.data.eval_batch_size, mean=data.mean, std=data.std)
    for images, labels in batches:
        for index, (teacher, mask) in enumerate(zip(teachers, seen)):
            logits = mask_unseen_classes(teacher(images).logits, mask)
            correct[index] += int((logits.argmax(dim=1) == labels).sum())
    return [count / len(data.val) for count in correct]


def _build_model(arch: str, num_classes: int, fast: FastPaths, device: torch.device, *, spec: Any) -> ZooModel:
    """Create a zoo model on the device; `spec` carries pretrained settings (None for teachers,
    whose fine-tuned weights are loaded right after)."""
    model = create_model(
        arch,
        num_classes,
        pretrained=bool(spec and spec.pretrained),
        pretrained_path=spec.pretrained_path if spec else None,
    ).to(device)
    if fast.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model

