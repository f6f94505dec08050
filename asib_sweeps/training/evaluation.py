"""The evaluation pass: the student (and the method's per-sample terms) on val and test,
and each teacher's accuracy on the classes it was trained on.

Fixed teachers give the same outputs every epoch, so their val/test outputs are
computed once: evaluating the teachers every epoch cost three times the training
itself on the digits default. The cache has one rule: it holds the outputs of one
`teacher_version`, a counter the run advances whenever the teachers' weights change
(an epoch that adapts them, a loaded state); asked for another version, it recomputes.
Only logits and pooled features are kept (stage maps would be large), so `eval_terms`
gets teacher outputs without `features`.

Evaluation runs under `torch.inference_mode()` (no autograd bookkeeping at all). The
training step's fixed teachers run under `no_grad` instead: their outputs enter the
student's autograd graph, and tensors made in inference mode cannot be saved for
backward (torch refuses; a clone would cost more than inference mode saves).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.data import DataBundle, Split, eval_batches
from asib_sweeps.methods.base import DistillMethod
from asib_sweeps.models import ModelOutput, ZooModel
from asib_sweeps.training.forward import Forward

SPLITS = ("val", "test")


@dataclass(frozen=True)
class TeacherOutputs:
    """One split's teacher outputs, concatenated over its batches: per teacher [N, C] and [N, D]."""

    logits: list[Tensor]
    pooled: list[Tensor]

    def batch(self, start: int, end: int) -> list[ModelOutput]:
        return [
            ModelOutput(logits=logits[start:end], features=[], pooled=pooled[start:end])
            for logits, pooled in zip(self.logits, self.pooled)
        ]


@dataclass
class Evaluator:
    data: DataBundle
    forward: Forward
    method: DistillMethod
    batch_size: int
    _cached_version: int | None = field(default=None, init=False)
    _cache: dict[str, TeacherOutputs] = field(default_factory=dict, init=False)
    _fixed_batch: tuple[Tensor, Tensor] | None = field(default=None, init=False)

    @property
    def _has_eval_terms(self) -> bool:
        return type(self.method).eval_terms is not DistillMethod.eval_terms

    @torch.inference_mode()
    def diagnostics(self, student: ZooModel) -> dict[str, float]:
        """The method's `diagnostics` on one fixed validation batch (the split's first), models in eval mode.

        One batch keeps it cheap enough for every epoch; the same batch every epoch makes
        the values comparable across epochs (the CCCP objective per stage).
        """
        if type(self.method).diagnostics is DistillMethod.diagnostics:
            return {}
        if self._fixed_batch is None:
            self._fixed_batch = next(iter(self.batches(self.data.val)))
        images, labels = self._fixed_batch
        with _eval_mode(student, self.method), self.forward.autocast_context():
            return self.method.diagnostics(student(images), self.forward.teacher_outputs(images), labels)

    @torch.inference_mode()
    def evaluate(self, student: ZooModel, teacher_version: int) -> dict[str, float]:
        """Student accuracy, loss and method terms on val and test, then the teachers' accuracies."""
        metrics: dict[str, float] = {}
        with _eval_mode(student, self.method):
            for name in SPLITS:
                metrics.update(self._evaluate_split(name, student, teacher_version))
        if self.forward.teachers:
            metrics.update(self.teacher_accuracies(teacher_version))
        return metrics

    def _evaluate_split(self, name: str, student: ZooModel, teacher_version: int) -> dict[str, float]:
        split = self._split(name)
        correct = torch.zeros((), device=split.labels.device)
        loss_sum = torch.zeros((), device=split.labels.device)
        term_sums: dict[str, Tensor] = {}
        teachers = self.teacher_outputs(teacher_version)[name] if self._has_eval_terms else None
        start = 0
        for images, labels in self.batches(split):
            end = start + labels.shape[0]
            with self.forward.autocast_context():
                student_out = student(images)
                terms = self.method.eval_terms(student_out, teachers.batch(start, end), labels) if teachers else {}
            logits = student_out.logits.float()
            correct += (logits.argmax(dim=1) == labels).sum()
            loss_sum += F.cross_entropy(logits, labels, reduction="sum")
            for key, values in terms.items():
                total = values.float().sum()
                term_sums[key] = term_sums[key] + total if key in term_sums else total
            start = end
        count = len(split)
        metrics = {f"{name}_acc": float(correct) / count, f"{name}_loss": float(loss_sum) / count}
        for key, total in term_sums.items():
            # Method terms on validation keep their own name (the information plane of
            # method.md section 8 is measured there); on test they get a `test_` prefix.
            metrics[key if name == "val" else f"test_{key}"] = float(total) / count
        return metrics

    @torch.inference_mode()
    def teacher_outputs(self, teacher_version: int) -> dict[str, TeacherOutputs]:
        """The teachers' masked logits and pooled features on val and test at `teacher_version`."""
        if self._cached_version != teacher_version:
            self._cache = {name: self._compute_teacher_outputs(self._split(name)) for name in SPLITS}
            self._cached_version = teacher_version
        return self._cache

    def _compute_teacher_outputs(self, split: Split) -> TeacherOutputs:
        logits: list[list[Tensor]] = [[] for _ in self.forward.teachers]
        pooled: list[list[Tensor]] = [[] for _ in self.forward.teachers]
        for images, _ in self.batches(split):
            with self.forward.autocast_context():
                outputs = self.forward.teacher_outputs(images)
            for index, out in enumerate(outputs):
                logits[index].append(out.logits.float())
                pooled[index].append(out.pooled)
        return TeacherOutputs(logits=[torch.cat(parts) for parts in logits], pooled=[torch.cat(parts) for parts in pooled])

    def teacher_accuracies(self, teacher_version: int) -> dict[str, float]:
        """Each teacher's val/test accuracy on the samples of the classes it was trained on."""
        outputs = self.teacher_outputs(teacher_version)
        values: dict[str, float] = {}
        for name in SPLITS:
            labels = self._split(name).labels
            for index, seen in enumerate(self.forward.teacher_seen):
                keep = seen[labels] if seen is not None else torch.ones_like(labels, dtype=torch.bool)
                correct = ((outputs[name].logits[index].argmax(dim=1) == labels) & keep).sum()
                values[f"teacher{index}_{name}_acc"] = float(correct) / max(1.0, float(keep.sum()))
        return values

    def batches(self, split: Split) -> Iterator[tuple[Tensor, Tensor]]:
        for images, labels in eval_batches(split, batch_size=self.batch_size, mean=self.data.mean, std=self.data.std):
            yield self.forward.prepare(images), labels

    def _split(self, name: str) -> Split:
        return self.data.val if name == "val" else self.data.test


@contextlib.contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Evaluation mode for the pass, then each module's previous mode back."""
    previous = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, mode in zip(modules, previous):
            module.train(mode)
