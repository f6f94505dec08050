"""What a KD method is to the training loop.

A method (mdistiller's convention) is a small `nn.Module` that takes the student's and
the teachers' outputs and the labels and returns a dict of named loss terms; the loop
sums them, backpropagates and logs each term. Methods never edit the models. Parts
they train themselves (regressors, CRD heads and memory, ASIB's IB-MBM) are their own
parameters and buffers, so they are checkpointed with the method's state dict.

Training is a sequence of epochs, each with a phase. Plain methods run every epoch in
the `joint` phase, training the student (and their own parameters). ASIB also has the
synergy warm-up `W`, the CCCP phases `A` (synergy, and the teachers under T-Adapt) and
`B` (student), and plans the teachers' freeze level per stage. The loop asks the method for that plan, for
which parts train in each phase and for how each part's optimiser differs from the
run's `optim`, and nothing else about the method's internals.

A method is one file: its class sets `name` and reads its typed config section as
`self.settings`; its entry in asib_sweeps/catalog/methods.py (settings class, search
space, data-set defaults, "module:Class") makes the config, the CLI, the studies and the
docs know it. A method is built from its own settings and a `MethodSetup`, never from the
whole run config, and creates its parts in `build` from a `MethodContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from torch import Tensor, nn

from asib_sweeps.config_section import MethodSettings
from asib_sweeps.models.interface import ModelOutput, ZooModel

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig

Phase = Literal["joint", "W", "A", "B"]
Part = Literal["student", "synergy", "teachers"]


@dataclass(frozen=True)
class EpochPlan:
    epoch: int
    """Global epoch index, 0-based."""
    stage: int
    phase: Phase
    teacher_freeze_level: int = -1
    """Partial-freezing level of the teachers in this epoch (-1 freezes nothing); only
    read when the teachers train."""
    student_freeze_level: int = -1
    frozen_bn_trains: bool = True
    """Whether BatchNorm affine parameters inside frozen blocks keep training."""
    synergy_epoch: int = 0
    """ASIB: 1-based count of the epochs so far that train its synergy (0 in other epochs)."""


@dataclass(frozen=True)
class PartOptimizer:
    """How the optimiser of one part differs from the run's `optim` (None: as configured)."""

    lr: float | None = None
    weight_decay: float | None = None
    constant_lr: bool = False
    """Hold the learning rate fixed instead of following `optim.schedule`."""


@dataclass(frozen=True)
class MethodSetup:
    """What a method may know of the run when it is created, besides its own settings."""

    teachers: int
    """How many teachers the run has."""
    student_pretrained: bool
    """The student starts from pretrained weights (ASIB then plans the student's freezing)."""
    batch_size: int
    """Training mini-batch size (ASIB sizes its step budgets in optimiser steps)."""

    @classmethod
    def of(cls, config: RunConfig) -> MethodSetup:
        return cls(len(config.teachers), config.student.starts_pretrained, config.data.batch_size)


@dataclass(frozen=True)
class MethodContext:
    """What a method may know about the run when it builds its own parts."""

    num_classes: int
    train_labels: Tensor
    """Labels of the split the student trains on, indexed like the batches' indices."""
    student: ZooModel
    teachers: list[ZooModel]
    student_probe: ModelOutput
    """Outputs of the student on a 2-image probe batch: shapes for sizing heads."""
    teacher_probes: list[ModelOutput]
    teacher_seen: list[Tensor | None]
    """Each teacher's seen classes as a bool mask [C] on the run's device (None: every class)."""
    teacher_val_accuracies: Callable[[], list[float]] = lambda: _not_measured()
    """Each teacher's accuracy on the student's validation split (all its samples, unseen
    classes masked), measured when called: only a method that chooses a teacher pays for it."""


def _not_measured() -> list[float]:
    raise RuntimeError("this MethodContext was built without the teachers' validation accuracies")


@dataclass(frozen=True)
class StepInput:
    student: ModelOutput
    teachers: list[ModelOutput]
    """Teacher outputs, logits of classes a teacher never saw already masked."""
    labels: Tensor
    indices: Tensor
    """Positions of the batch's samples in the training split (CRD's memory)."""
    plan: EpochPlan


class DistillMethod(nn.Module):
    """Base class; subclasses set `name` (and their settings), implement `build` and `forward`."""

    name: ClassVar[str]

    def __init__(self, settings: MethodSettings | None, setup: MethodSetup) -> None:
        super().__init__()
        self.settings: Any = settings
        self.setup = setup

    def build(self, context: MethodContext) -> None:
        """Create the method's own parameters from the probe shapes (default: none)."""

    def plan(self, epochs: int) -> list[EpochPlan]:
        """The epoch sequence: by default `epochs` joint epochs in one stage."""
        return [EpochPlan(epoch=e, stage=0, phase="joint") for e in range(epochs)]

    def trained_parts(self, phase: Phase) -> frozenset[Part]:
        """Which parts receive gradient steps in a phase (default: the student)."""
        return frozenset({"student"})

    def part_optimizer(self, part: Part) -> PartOptimizer:
        """How `part`'s optimiser departs from the run's `optim` (default: it does not)."""
        return PartOptimizer()

    def parameter_groups(self) -> dict[Part, list[nn.Parameter]]:
        """The method's own trainable parameters, by the part they train with."""
        own = [p for p in self.parameters() if p.requires_grad]
        return {"student": own} if own else {}

    def forward(self, step: StepInput) -> dict[str, Tensor]:  # noqa: D102
        raise NotImplementedError

    def eval_terms(self, student: ModelOutput, teachers: list[ModelOutput], labels: Tensor) -> dict[str, Tensor]:
        """Per-sample values [B] the loop averages over a split (e.g. synergy accuracy).

        The teachers' outputs here carry logits and pooled features but no stage maps:
        the loop computes them once per split while the teachers are fixed.
        """
        return {}

    def diagnostics(self, student: ModelOutput, teachers: list[ModelOutput], labels: Tensor) -> dict[str, float]:
        """Per-epoch readings on a fixed validation batch, models in eval mode (default: none).

        For what a method's parts do rather than how well the student does (ASIB: its
        joint objective, and whether its synergy listens to the student's query).
        """
        return {}

    def on_epoch_start(self, plan: EpochPlan) -> None:
        """Hook before each epoch's first step (e.g. proximal anchors at stage starts)."""

    def on_epoch_end(self, plan: EpochPlan, teachers: list[ZooModel]) -> dict[str, float]:
        """Hook after each epoch's training; may return extra per-epoch metrics."""
        return {}

    def on_evaluated(self, plan: EpochPlan, metrics: dict[str, float]) -> None:
        """Hook after each epoch's evaluation, with its validation metrics (e.g. to gate a loss term)."""
