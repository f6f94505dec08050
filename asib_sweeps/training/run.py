"""One training run, as a sequence of epochs that can stop and resume anywhere.

The same loop fine-tunes a teacher (method `ce`, no teachers) and distils a student
with any registered method: the method says which parts train in each epoch's phase,
how their optimisers differ from the run's, and returns named loss terms; this loop
does the forward passes (training/epoch.py), sums the terms, steps the optimisers of
the parts that train, evaluates on val and test (training/evaluation.py), and returns
the epoch's metrics. Everything it needs to continue bit-for-bit is in
`state_dict()`: models, method, optimisers, schedulers, RNG states, history.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from analysis.best_epoch import best_validation_epoch
from asib_sweeps.config import RunConfig
from asib_sweeps.methods.base import EpochPlan, Part
from asib_sweeps.training.build import RunParts, build_parts
from asib_sweeps.training.component_metrics import TeacherAnchors, frozen_count, output_drift_kl
from asib_sweeps.training.device import peak_memory_mb, reset_peak_memory, resolve_device
from asib_sweeps.training.epoch import EpochTrainer, NonFiniteLossError, epoch_means
from asib_sweeps.training.evaluation import Evaluator
from asib_sweeps.training.forward import Forward
from asib_sweeps.training.optim import build_optimizer, build_scheduler
from asib_sweeps.training.phase import configure_phase, trainable_count
from asib_sweeps.training.rng import capture_rng_state, restore_rng_state

STATE_VERSION = 1
LR_PART_ORDER: tuple[Part, ...] = ("student", "synergy", "teachers")
"""The `lr` column shows the learning rate of the first of these parts an epoch trains."""

__all__ = ["NonFiniteLossError", "TrainingRun"]


class TrainingRun:
    """A run's models, method, optimisers and progress; `run_epoch()` advances it by one epoch."""

    def __init__(self, *, config: RunConfig, device: torch.device, parts: RunParts, keep_best_weights: bool) -> None:
        self.config = config
        self.device = device
        self.data = parts.data
        self.train_split = parts.train_split
        self.student = parts.student
        self.teachers = parts.teachers
        self.method = parts.method
        self.plan = self.method.plan(config.epochs)
        self.keep_best_weights = keep_best_weights
        self.best_student_state: dict[str, Tensor] | None = None
        self.history: list[dict[str, Any]] = []
        forward = Forward(
            teachers=parts.teachers,
            teacher_seen=parts.teacher_seen,
            channels_last=parts.fast.channels_last,
            autocast=parts.fast.autocast,
            device_type=device.type,
        )
        self.trainer = EpochTrainer(config, parts.data, parts.train_split, parts.student, parts.method, forward)
        self.evaluator = Evaluator(parts.data, forward, parts.method, batch_size=config.data.eval_batch_size)
        self.teacher_version = 0
        """Advanced whenever the teachers' weights change; the evaluator's cache follows it."""
        self._teachers_adapt = any("teachers" in self.method.trained_parts(p.phase) for p in self.plan)
        self.teacher_anchors = TeacherAnchors(parts.teachers) if parts.teachers else None
        """theta^0 of the teachers, for the drift columns (component_metrics)."""
        self._val_logits_before: list[Tensor] | None = None
        """The teachers' validation logits at the start of the adapting phase under way."""
        self.optimizers, self.schedulers = self._build_optimisers()

    @classmethod
    def create(
        cls,
        config: RunConfig,
        *,
        teacher_states: Sequence[Mapping[str, Tensor]] = (),
        device: torch.device | None = None,
        keep_best_weights: bool = False,
    ) -> "TrainingRun":
        """Build data, models and method for `config`, seeded by `config.seed`.

        `teacher_states` are the fine-tuned teachers' weights, in the order of
        `config.teachers` (required by every method that uses teachers).
        `keep_best_weights` keeps a copy of the student at its best validation epoch
        (teacher fine-tuning selects teachers this way).
        """
        device = device if device is not None else resolve_device(config.runtime.device)
        parts = build_parts(config, teacher_states, device)
        return cls(config=config, device=device, parts=parts, keep_best_weights=keep_best_weights)

    def _build_optimisers(self) -> tuple[dict[str, torch.optim.Optimizer], dict[str, Any]]:
        """One optimiser per part that trains in some epoch, scheduled over the epochs it is active."""
        active_epochs: dict[Part, int] = {}
        for plan in self.plan:
            for part in self.method.trained_parts(plan.phase):
                active_epochs[part] = active_epochs.get(part, 0) + 1
        optimizers: dict[str, torch.optim.Optimizer] = {}
        schedulers: dict[str, Any] = {}
        optim = self.config.optim
        for part, epochs in active_epochs.items():
            params = self._part_parameters(part)
            if not params:
                continue
            custom = self.method.part_optimizer(part)
            optimizer = build_optimizer(params, optim, lr=custom.lr, weight_decay=custom.weight_decay)
            schedule = optim.model_copy(update={"schedule": "constant"}) if custom.constant_lr else optim
            optimizers[part] = optimizer
            schedulers[part] = build_scheduler(optimizer, schedule, active_epochs=epochs)
        return optimizers, schedulers

    def _part_parameters(self, part: Part) -> list[nn.Parameter]:
        own = self.method.parameter_groups().get(part, [])
        if part == "student":
            return [*self.student.parameters(), *own]
        if part == "teachers":
            return [p for teacher in self.teachers for p in teacher.parameters()]
        return list(own)

    # ------------------------------------------------------------------ progress
    @property
    def total_epochs(self) -> int:
        return len(self.plan)

    @property
    def next_epoch(self) -> int:
        return len(self.history)

    @property
    def finished(self) -> bool:
        return self.next_epoch >= self.total_epochs

    def summary(self) -> dict[str, Any]:
        """Final and best-validation metrics (the best epoch: analysis.best_epoch, the earliest maximum of val_acc)."""
        best = best_validation_epoch(self.history)
        if best is None:
            return {}
        return {
            "test_acc_final": self.history[-1]["test_acc"],
            "val_acc_final": self.history[-1]["val_acc"],
            "test_acc_best_val": best["test_acc"],
            "val_acc_best": best["val_acc"],
            "best_epoch": best["epoch"],
        }

    # ------------------------------------------------------------------ one epoch
    def run_epoch(self) -> dict[str, Any]:
        """Train the next planned epoch, evaluate on val and test, and return its metrics."""
        if self.finished:
            raise RuntimeError(f"the run has finished all {self.total_epochs} epochs")
        plan = self.plan[self.next_epoch]
        parts = self.method.trained_parts(plan.phase)
        models = {"student": self.student, "teachers": self.teachers, "method": self.method}
        configure_phase(plan, parts, **models)
        reset_peak_memory(self.device)
        metrics: dict[str, Any] = {
            "epoch": plan.epoch,
            "stage": plan.stage,
            "phase": plan.phase,
            "teacher_freeze_level": plan.teacher_freeze_level,
            "student_freeze_level": plan.student_freeze_level,
            "trainable_params": trainable_count(parts, **models),
        }
        adapting = "teachers" in parts
        if adapting and self._phase_starts_here(plan):
            # T-Adapt's performance preservation: the teachers' accuracy before the
            # phase's first epoch here, after its last one (the `_after` columns) below.
            before = self.evaluator.teacher_accuracies(self.teacher_version)
            metrics.update({f"{key}_before": value for key, value in before.items()})
            self._val_logits_before = self.evaluator.teacher_outputs(self.teacher_version)["val"].logits
        started = time.perf_counter()
        metrics.update(self._train(plan, parts))
        metrics["epoch_time_s"] = time.perf_counter() - started
        metrics.update(self.method.on_epoch_end(plan, self.teachers))
        evaluation_started = time.perf_counter()
        evaluation = self.evaluator.evaluate(self.student, self.teacher_version)
        metrics.update(evaluation)
        metrics["eval_time_s"] = time.perf_counter() - evaluation_started
        if adapting and self._phase_ends_here(plan):
            teachers = {key: value for key, value in evaluation.items() if key.startswith("teacher")}
            metrics.update({f"{key}_after": value for key, value in teachers.items()})
        self.method.on_evaluated(plan, evaluation)
        metrics.update(self._component_metrics(plan, parts))
        metrics["peak_memory_mb"] = peak_memory_mb(self.device)
        self._record(metrics)
        return metrics

    def _train(self, plan: EpochPlan, parts: frozenset[Part]) -> dict[str, float]:
        optimizers = [self.optimizers[part] for part in parts if part in self.optimizers]
        totals = self.trainer.train(plan, parts, optimizers)
        if "teachers" in parts:
            self.teacher_version += 1
        metrics = {**epoch_means(plan, totals), "lr": self._epoch_lr(parts)}
        for part in parts:
            if part in self.schedulers:
                self.schedulers[part].step()
        return metrics

    def _component_metrics(self, plan: EpochPlan, parts: frozenset[Part]) -> dict[str, float]:
        """Frozen parameters, the teachers' drift (at the end of an adapting phase and of the run)
        and the method's diagnostics on a fixed validation batch (docs/results.md)."""
        models = {"student": self.student, "teachers": self.teachers, "method": self.method}
        metrics: dict[str, float] = {"frozen_params": frozen_count(parts, **models)}
        ends_adapting = "teachers" in parts and self._phase_ends_here(plan)
        if self.teacher_anchors is not None and (ends_adapting or plan.epoch == len(self.plan) - 1):
            for index, distance in enumerate(self.teacher_anchors.distances(self.teachers)):
                metrics[f"teacher{index}_drift_l2"] = distance
        if ends_adapting and self._val_logits_before is not None:  # None: a state saved before the key existed
            after = self.evaluator.teacher_outputs(self.teacher_version)["val"].logits
            for index, (before, now) in enumerate(zip(self._val_logits_before, after, strict=True)):
                metrics[f"teacher{index}_drift_kl"] = output_drift_kl(before, now)
            self._val_logits_before = None
        metrics.update(self.evaluator.diagnostics(self.student))
        return metrics

    def _epoch_lr(self, parts: frozenset[Part]) -> float:
        """The learning rate this epoch's first trained part (LR_PART_ORDER) stepped with."""
        part = next((p for p in LR_PART_ORDER if p in parts and p in self.optimizers), None)
        return float(self.optimizers[part].param_groups[0]["lr"]) if part else 0.0

    def _phase_starts_here(self, plan: EpochPlan) -> bool:
        previous = self.plan[plan.epoch - 1] if plan.epoch > 0 else None
        return previous is None or (previous.phase, previous.stage) != (plan.phase, plan.stage)

    def _phase_ends_here(self, plan: EpochPlan) -> bool:
        following = self.plan[plan.epoch + 1] if plan.epoch + 1 < len(self.plan) else None
        return following is None or (following.phase, following.stage) != (plan.phase, plan.stage)

    # ------------------------------------------------------------------ history and state
    def _record(self, metrics: dict[str, Any]) -> None:
        self.history.append(metrics)
        if self.keep_best_weights and best_validation_epoch(self.history) is metrics:
            self.best_student_state = copy.deepcopy(self.student.state_dict())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimisers, schedules, RNG, history."""
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            # Not read back by load_state_dict: it lets `asib-sweep eval` rebuild the model and data.
            "config": self.config.model_dump(),
            "student": self.student.state_dict(),
            # Fixed teachers are rebuilt from the teacher cache; only adapted ones are state.
            "teachers": [teacher.state_dict() for teacher in self.teachers] if self._teachers_adapt else [],
            "method": self.method.state_dict(),
            "optimizers": {part: optimizer.state_dict() for part, optimizer in self.optimizers.items()},
            "schedulers": {part: scheduler.state_dict() for part, scheduler in self.schedulers.items()},
            "history": self.history,
            "rng": capture_rng_state(),
            # Mid-phase, the teachers' outputs before the adapting phase: its drift KL needs them at its end.
            "teacher_val_logits_before": self._val_logits_before,
        }
        if self.best_student_state is not None:
            state["best_student"] = self.best_student_state
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"run state version must be {STATE_VERSION}, got {state.get('version')!r}")
        self.student.load_state_dict(state["student"])
        if self._teachers_adapt:
            for teacher, teacher_state in zip(self.teachers, state["teachers"], strict=True):
                teacher.load_state_dict(teacher_state)
            self.teacher_version += 1
        self.method.load_state_dict(state["method"])
        for part, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][part])
        for part, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][part])
        self.history = [dict(row) for row in state["history"]]
        before = state.get("teacher_val_logits_before")
        self._val_logits_before = [logits.to(self.device) for logits in before] if before is not None else None
        self.best_student_state = state.get("best_student")
        restore_rng_state(state["rng"])
