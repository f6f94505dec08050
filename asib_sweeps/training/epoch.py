"""One training epoch: forward passes, the method's loss terms, the optimiser steps.

Per-step values stay on the device and are read once at the end of the epoch, so
the hot loop never waits on the device.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor

from asib_sweeps.config import RunConfig
from asib_sweeps.data import DataBundle, Split, train_batches
from asib_sweeps.errors import NonRetryableError
from asib_sweeps.methods.base import DistillMethod, EpochPlan, Part, StepInput
from asib_sweeps.models import ZooModel
from asib_sweeps.training.component_metrics import SavedActivations
from asib_sweeps.training.forward import Forward


class NonFiniteLossError(NonRetryableError, FloatingPointError):
    """A loss term became NaN or infinite; the run stops rather than train on garbage."""


@dataclass(frozen=True)
class EpochTotals:
    """Sums over an epoch's samples, still on the device."""

    term_sums: dict[str, Tensor]
    correct: Tensor
    seen: int
    steps: int
    saved_activation_mb: float
    """Bytes autograd saved for backward in the epoch's first step (component_metrics.SavedActivations), in MiB."""


@dataclass(frozen=True)
class EpochTrainer:
    config: RunConfig
    data: DataBundle
    train_split: Split
    student: ZooModel
    method: DistillMethod
    forward: Forward

    def train(self, plan: EpochPlan, parts: frozenset[Part], optimizers: list[torch.optim.Optimizer]) -> EpochTotals:
        trains_student, trains_teachers = "student" in parts, "teachers" in parts
        term_sums: dict[str, Tensor] = {}
        correct = torch.zeros((), device=self.train_split.labels.device)
        seen = steps = 0
        saved = SavedActivations([self.student, self.method, *self.forward.teachers])
        for images, labels, indices in self._batches(plan):
            images = self.forward.prepare(images)
            with saved.counting() if steps == 0 else contextlib.nullcontext(), self.forward.autocast_context():
                with torch.set_grad_enabled(trains_student):
                    student_out = self.student(images)
                with torch.set_grad_enabled(trains_teachers):
                    teacher_outs = self.forward.teacher_outputs(images)
                step = StepInput(student=student_out, teachers=teacher_outs, labels=labels, indices=indices, plan=plan)
                terms = self.method(step)
                loss = torch.stack([term.float() for term in terms.values()]).sum()
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            batch = labels.shape[0]
            for name, term in terms.items():
                value = term.detach().float() * batch
                term_sums[name] = term_sums[name] + value if name in term_sums else value
            correct += (student_out.logits.detach().argmax(dim=1) == labels).sum()
            seen += batch
            steps += 1
        return EpochTotals(
            term_sums=term_sums, correct=correct, seen=seen, steps=steps, saved_activation_mb=saved.megabytes
        )

    def _batches(self, plan: EpochPlan):  # noqa: ANN202 - the pipeline's iterator
        cfg = self.config.data
        return train_batches(
            self.train_split,
            batch_size=cfg.batch_size,
            seed=self.config.seed,
            epoch=plan.epoch,
            mean=self.data.mean,
            std=self.data.std,
            crop_padding=cfg.crop_padding,
            flip=cfg.flip,
        )


def epoch_means(plan: EpochPlan, totals: EpochTotals) -> dict[str, float]:
    """Loss terms and accuracy averaged over the epoch; a non-finite term stops the run.

    Checked once per epoch on the accumulated sums rather than per step; the failing
    epoch is never reported or checkpointed, so no non-finite state is kept.
    """
    means = {name: float(total) / totals.seen for name, total in totals.term_sums.items()}
    bad = {name: value for name, value in means.items() if not torch.isfinite(torch.tensor(value))}
    if bad:
        listed = ", ".join(f"{name}={value}" for name, value in bad.items())
        raise NonFiniteLossError(f"non-finite loss at epoch {plan.epoch} (phase {plan.phase}): {listed}")
    out = {f"loss_{name}": value for name, value in means.items()}
    out["train_loss"] = sum(means.values())
    out["train_acc"] = float(totals.correct) / totals.seen
    out["steps"] = totals.steps
    out["saved_activation_mb"] = totals.saved_activation_mb
    return out
