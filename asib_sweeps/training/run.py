"""One training run, as a sequence of epochs that can stop and resume anywhere.

The same loop fine-tunes a teacher (method `ce`, no teachers) and distils a student
with any registered method: the method says which parts train in each epoch's phase
and returns named loss terms; this loop does the forward passes, sums the terms,
steps the optimisers of the parts that train, evaluates on val and test, and returns
the epoch's metrics. Everything it needs to continue bit-for-bit is in
`state_dict()`: models, method, optimisers, schedulers, RNG states, history.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.config import RunConfig
from asib_sweeps.data import DataBundle, Split, eval_batches, load_data, student_subset, train_batches
from asib_sweeps.freezing import apply_freeze_level
from asib_sweeps.methods import create_method
from asib_sweeps.methods.base import DistillMethod, EpochPlan, MethodContext, Part, StepInput
from asib_sweeps.methods.functional import mask_unseen_classes
from asib_sweeps.models import ModelOutput, ZooModel, create_model
from asib_sweeps.training.device import peak_memory_mb, reset_peak_memory, resolve_device
from asib_sweeps.training.optim import build_optimizer, build_scheduler
from asib_sweeps.training.rng import capture_rng_state, restore_rng_state, seed_everything

STATE_VERSION = 1


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the run stops rather than train on garbage."""


class TrainingRun:
    """A run's models, method, optimisers and progress; `run_epoch()` advances it by one epoch."""

    def __init__(
        self,
        *,
        config: RunConfig,
        device: torch.device,
        data: DataBundle,
        train_split: Split,
        student: ZooModel,
        teachers: list[ZooModel],
        teacher_seen: list[Tensor | None],
        method: DistillMethod,
        keep_best_weights: bool,
    ) -> None:
        self.config = config
        self.device = device
        self.data = data
        self.train_split = train_split
        self.student = student
        self.teachers = teachers
        self.teacher_seen = teacher_seen
        self.method = method
        self.plan = method.plan(config.epochs)
        self.keep_best_weights = keep_best_weights
        self.best_student_state: dict[str, Tensor] | None = None
        self.history: list[dict[str, Any]] = []
        self._autocast = config.amp and device.type == "cuda"
        self._has_eval_terms = type(method).eval_terms is not DistillMethod.eval_terms
        self._teacher_eval_cache: dict[str, list[list[ModelOutput]]] | None = None
        self._teachers_adapt = any("teachers" in method.trained_parts(p.phase) for p in self.plan)
        self.optimizers, self.schedulers = self._build_optimisers()

    # ------------------------------------------------------------------ creation
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
        device = device if device is not None else resolve_device(config.device)
        if config.amp and device.type != "cuda":
            raise ValueError(f"amp needs a CUDA device; got amp=True on device {device}")
        data = load_data(config.data).to(device)
        train_split = data.train
        if config.data.student_train_size is not None:
            train_split = student_subset(data.train, config.data.student_train_size, seed=config.data.split_seed)

        seed_everything(config.seed)
        method = create_method(config)
        student = _build_model(config.student.arch, data.num_classes, config, device, spec=config.student)
        teachers: list[ZooModel] = []
        teacher_seen: list[Tensor | None] = []
        if method.uses_teachers:
            if len(teacher_states) != len(config.teachers):
                raise ValueError(
                    f"method {config.method.name!r} needs the weights of {len(config.teachers)} teachers, "
                    f"got {len(teacher_states)}"
                )
            for spec, state in zip(config.teachers, teacher_states):
                teacher = _build_model(spec.arch, data.num_classes, config, device, spec=None)
                teacher.load_state_dict(state)
                teachers.append(teacher)
                teacher_seen.append(_seen_mask(spec.classes, data.num_classes, device))

        probe = next(eval_batches(train_split, batch_size=2, mean=data.mean, std=data.std))[0]
        with torch.no_grad():
            student.eval()
            student_probe = student(probe)
            teacher_probes = [teacher.eval()(probe) for teacher in teachers]
        method.build(
            MethodContext(
                config=config,
                num_classes=data.num_classes,
                train_labels=train_split.labels,
                student=student,
                teachers=teachers,
                student_probe=student_probe,
                teacher_probes=teacher_probes,
            )
        )
        method.to(device)
        return cls(
            config=config,
            device=device,
            data=data,
            train_split=train_split,
            student=student,
            teachers=teachers,
            teacher_seen=teacher_seen,
            method=method,
            keep_best_weights=keep_best_weights,
        )

    def _build_optimisers(self) -> tuple[dict[str, torch.optim.Optimizer], dict[str, Any]]:
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
        """Final and best-validation metrics (the best epoch is the earliest maximum of val_acc)."""
        if not self.history:
            return {}
        best = max(self.history, key=lambda row: (row["val_acc"], -row["epoch"]))
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
        self._configure(plan, parts)
        self.method.on_epoch_start(plan)
        reset_peak_memory(self.device)
        metrics: dict[str, Any] = {
            "epoch": plan.epoch,
            "stage": plan.stage,
            "phase": plan.phase,
            "teacher_freeze_level": plan.teacher_freeze_level,
            "student_freeze_level": plan.student_freeze_level,
            "trainable_params": self._trainable_parameter_count(parts),
        }
        adapting = "teachers" in parts
        if adapting and self._phase_starts_here(plan):
            # T-Adapt's performance preservation: the teachers' accuracy before the
            # phase's first epoch here, after its last one (the `_after` columns) below.
            before = self._teacher_accuracies()
            metrics.update({f"{key}_before": value for key, value in before.items()})
        if adapting:
            self._teacher_eval_cache = None
        started = time.perf_counter()
        metrics.update(self._train_one_epoch(plan, parts))
        for part in parts:
            if part in self.schedulers:
                self.schedulers[part].step()
        metrics["epoch_time_s"] = time.perf_counter() - started
        metrics.update(self.method.on_epoch_end(plan, self.teachers))
        evaluation_started = time.perf_counter()
        evaluation = self._evaluate()
        metrics.update(evaluation)
        metrics["eval_time_s"] = time.perf_counter() - evaluation_started
        if adapting and self._phase_ends_here(plan):
            teachers = {key: value for key, value in evaluation.items() if key.startswith("teacher")}
            metrics.update({f"{key}_after": value for key, value in teachers.items()})
        self.method.on_evaluated(plan, evaluation)
        metrics["peak_memory_mb"] = peak_memory_mb(self.device)
        self._record(metrics)
        return metrics

    def _phase_starts_here(self, plan: EpochPlan) -> bool:
        previous = self.plan[plan.epoch - 1] if plan.epoch > 0 else None
        return previous is None or (previous.phase, previous.stage) != (plan.phase, plan.stage)

    def _phase_ends_here(self, plan: EpochPlan) -> bool:
        following = self.plan[plan.epoch + 1] if plan.epoch + 1 < len(self.plan) else None
        return following is None or (following.phase, following.stage) != (plan.phase, plan.stage)

    def _configure(self, plan: EpochPlan, parts: frozenset[Part]) -> None:
        """Set requires_grad, train/eval modes and freeze levels for this epoch's phase."""
        trains_student = "student" in parts
        self.student.train(trains_student)
        self.student.requires_grad_(trains_student)
        if trains_student:
            apply_freeze_level(self.student, plan.student_freeze_level, train_bn=plan.frozen_bn_trains)
        for part, params in self.method.parameter_groups().items():
            for param in params:
                param.requires_grad_(part in parts)
        # Method modules (IB-MBM sampling, dropout, CRD heads) are in training mode;
        # a method that holds them fixed in a phase says so in on_epoch_start.
        self.method.train(True)
        trains_teachers = "teachers" in parts
        for teacher in self.teachers:
            # Teachers keep their fine-tuned BatchNorm statistics even while adapting.
            teacher.eval()
            teacher.requires_grad_(trains_teachers)
            if trains_teachers:
                apply_freeze_level(teacher, plan.teacher_freeze_level, train_bn=plan.frozen_bn_trains)
            else:
                teacher.set_frozen_prefix(0, without_grad=False)

    def _train_one_epoch(self, plan: EpochPlan, parts: frozenset[Part]) -> dict[str, float]:
        data, cfg = self.data, self.config.data
        optimizers = [self.optimizers[part] for part in parts if part in self.optimizers]
        trains_student, trains_teachers = "student" in parts, "teachers" in parts
        term_sums: dict[str, Tensor] = {}
        correct = torch.zeros((), device=self.device)
        seen = steps = 0
        for images, labels, indices in train_batches(
            self.train_split,
            batch_size=cfg.batch_size,
            seed=self.config.seed,
            epoch=plan.epoch,
            mean=data.mean,
            std=data.std,
            crop_padding=cfg.crop_padding,
            flip=cfg.flip,
        ):
            images = self._to_memory_format(images)
            with self._autocast_context():
                with torch.set_grad_enabled(trains_student):
                    student_out = self.student(images)
                with torch.set_grad_enabled(trains_teachers):
                    teacher_outs = self._teacher_outputs(images)
                terms = self.method(
                    StepInput(student=student_out, teachers=teacher_outs, labels=labels, indices=indices, plan=plan)
                )
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
        return {**self._epoch_training_metrics(plan, term_sums, correct, seen), "steps": steps}

    def _epoch_training_metrics(
        self, plan: EpochPlan, term_sums: dict[str, Tensor], correct: Tensor, seen: int
    ) -> dict[str, float]:
        """Means over the epoch; a non-finite term stops the run, naming term and epoch.

        Checked once per epoch on the accumulated sums rather than per step, so the
        hot loop never waits on the device; the failing epoch is never reported or
        checkpointed, so no non-finite state is kept.
        """
        means = {name: float(total) / seen for name, total in term_sums.items()}
        bad = {name: value for name, value in means.items() if not torch.isfinite(torch.tensor(value))}
        if bad:
            listed = ", ".join(f"{name}={value}" for name, value in bad.items())
            raise NonFiniteLossError(f"non-finite loss at epoch {plan.epoch} (phase {plan.phase}): {listed}")
        out = {f"loss_{name}": value for name, value in means.items()}
        out["train_loss"] = sum(means.values())
        out["train_acc"] = float(correct) / seen
        out["lr"] = self._current_lr(plan)
        return out

    def _current_lr(self, plan: EpochPlan) -> float:
        """The learning rate the student's optimiser used this epoch (synergy's in W- and A-phases)."""
        part = "synergy" if plan.phase in ("W", "A") else "student"
        optimizer = self.optimizers.get(part)
        return float(optimizer.param_groups[0]["lr"]) if optimizer else 0.0

    # ------------------------------------------------------------------ forward helpers
    def _teacher_outputs(self, images: Tensor) -> list[ModelOutput]:
        outputs = []
        for teacher, seen in zip(self.teachers, self.teacher_seen):
            out = teacher(images)
            out.logits = mask_unseen_classes(out.logits, seen)
            outputs.append(out)
        return outputs

    def _to_memory_format(self, images: Tensor) -> Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.config.channels_last else images

    def _autocast_context(self) -> contextlib.AbstractContextManager[Any]:
        if self._autocast:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _trainable_parameter_count(self, parts: frozenset[Part]) -> int:
        modules: list[nn.Module] = [self.method]
        if "student" in parts:
            modules.append(self.student)
        if "teachers" in parts:
            modules.extend(self.teachers)
        return sum(p.numel() for module in modules for p in module.parameters() if p.requires_grad)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        was_training = self.student.training, self.method.training
        self.student.eval()
        self.method.eval()
        metrics: dict[str, float] = {}
        for split_name, split in (("val", self.data.val), ("test", self.data.test)):
            metrics.update(self._evaluate_split(split_name, split))
        if self.teachers:
            metrics.update(self._teacher_accuracies())
        self.student.train(was_training[0])
        self.method.train(was_training[1])
        return metrics

    def _evaluate_split(self, name: str, split: Split) -> dict[str, float]:
        correct = torch.zeros((), device=self.device)
        loss_sum = torch.zeros((), device=self.device)
        term_sums: dict[str, Tensor] = {}
        teacher_batches = self._teacher_eval_outputs()[name] if self._has_eval_terms else None
        for batch, (images, labels) in enumerate(self._eval_batches(split)):
            with self._autocast_context():
                student_out = self.student(images)
                terms = {}
                if teacher_batches is not None:
                    terms = self.method.eval_terms(student_out, teacher_batches[batch], labels)
            logits = student_out.logits.float()
            correct += (logits.argmax(dim=1) == labels).sum()
            loss_sum += F.cross_entropy(logits, labels, reduction="sum")
            for key, values in terms.items():
                total = values.float().sum()
                term_sums[key] = term_sums[key] + total if key in term_sums else total
        count = len(split)
        metrics = {f"{name}_acc": float(correct) / count, f"{name}_loss": float(loss_sum) / count}
        for key, total in term_sums.items():
            # Method terms on validation keep their own name (the information plane of
            # method.md section 8 is measured there); on test they get a `test_` prefix.
            metrics[key if name == "val" else f"test_{key}"] = float(total) / count
        return metrics

    def _teacher_eval_outputs(self) -> dict[str, list[list[ModelOutput]]]:
        """Teachers' logits (masked) and pooled features for every val/test batch.

        Fixed teachers give the same outputs every epoch, so they are computed once and
        kept until an epoch adapts the teachers: evaluating the teachers every epoch
        cost three times the training itself on the digits default. Only logits and
        pooled features are kept (stage maps would be large), so `eval_terms` gets
        teacher outputs without `features`.
        """
        if self._teacher_eval_cache is None:
            cache: dict[str, list[list[ModelOutput]]] = {}
            with torch.no_grad():
                for split_name, split in (("val", self.data.val), ("test", self.data.test)):
                    cache[split_name] = []
                    for images, _ in self._eval_batches(split):
                        with self._autocast_context():
                            outputs = self._teacher_outputs(images)
                        cache[split_name].append(
                            [ModelOutput(logits=out.logits.float(), features=[], pooled=out.pooled) for out in outputs]
                        )
            self._teacher_eval_cache = cache
        return self._teacher_eval_cache

    def _teacher_accuracies(self) -> dict[str, float]:
        """Each teacher's val/test accuracy on the samples of the classes it was trained on."""
        outputs = self._teacher_eval_outputs()
        values: dict[str, float] = {}
        for split_name, split in (("val", self.data.val), ("test", self.data.test)):
            labels = [labels for _, labels in self._eval_batches(split)]
            for index, seen in enumerate(self.teacher_seen):
                correct = torch.zeros((), device=self.device)
                count = torch.zeros((), device=self.device)
                for batch_outputs, batch_labels in zip(outputs[split_name], labels, strict=True):
                    keep = seen[batch_labels] if seen is not None else torch.ones_like(batch_labels, dtype=torch.bool)
                    correct += ((batch_outputs[index].logits.argmax(dim=1) == batch_labels) & keep).sum()
                    count += keep.sum()
                values[f"teacher{index}_{split_name}_acc"] = float(correct) / max(1.0, float(count))
        return values

    def _eval_batches(self, split: Split) -> Iterator[tuple[Tensor, Tensor]]:
        for images, labels in eval_batches(
            split, batch_size=self.config.data.eval_batch_size, mean=self.data.mean, std=self.data.std
        ):
            yield self._to_memory_format(images), labels

    # ------------------------------------------------------------------ history and state
    def _record(self, metrics: dict[str, Any]) -> None:
        previous_best = max((row["val_acc"] for row in self.history), default=None)
        self.history.append(metrics)
        if self.keep_best_weights and (previous_best is None or metrics["val_acc"] > previous_best):
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
        self.method.load_state_dict(state["method"])
        for part, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][part])
        for part, scheduler in self.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][part])
        self.history = [dict(row) for row in state["history"]]
        self.best_student_state = state.get("best_student")
        self._teacher_eval_cache = None
        restore_rng_state(state["rng"])


def _build_model(
    arch: str, num_classes: int, config: RunConfig, device: torch.device, *, spec: Any
) -> ZooModel:
    """Create a zoo model on the device; `spec` carries pretrained settings (None for teachers,
    whose fine-tuned weights are loaded right after)."""
    model = create_model(
        arch,
        num_classes,
        pretrained=bool(spec and spec.pretrained),
        pretrained_path=spec.pretrained_path if spec else None,
    ).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def _seen_mask(classes: list[int] | None, num_classes: int, device: torch.device) -> Tensor | None:
    if classes is None:
        return None
    mask = torch.zeros(num_classes, dtype=torch.bool, device=device)
    mask[torch.tensor(classes, device=device)] = True
    return mask
