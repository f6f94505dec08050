"""The trainer's training step against a bare PyTorch loop doing the same math, per method and ASIB phase.

Both sides share one `TrainingRun`'s models, method module and optimisers, and draw the
same on-device batches (`train_batches`, same seed and epoch). The trainer side is
`run.trainer.train(plan, parts, optimizers)`, the loop every trial runs. The bare side
is the minimal loop: batch to channels_last if the run uses it, under the same bf16
autocast, student forward, teachers forward (under no_grad, except in the A-phase of
`full` where T-Adapt trains them), `run.method(StepInput(...))`, sum of the terms,
backward, optimiser steps. The ratio therefore isolates the loop's bookkeeping
(per-term sums and accuracy kept on the device, phase handling). Arms: ce, kd, dkd,
crd (one teacher) and ASIB's phases W, A, B of the `full` rung and joint of `ib` (two
teachers of the --teacher arch). Sides are interleaved (A B A B ...) over --repeats
epochs of --batches steps each after one warm-up epoch per side; medians per step, and
the ratio as the median of the repeats' paired ratios. Target: ratio <= 1.05. Teachers
are randomly initialised (timing only).

--sync-check then trains one epoch per arm checking that no step waits on the device:
on CUDA under torch.cuda.set_sync_debug_mode("error") (the epoch's first batch, where
the pipeline copies the epoch's permutation and crop offsets to the device once, is
excluded; every step and every later batch is inside), listing every synchronising
line if it fails; on the CPU by counting host reads of tensor values (.item(),
float(t), bool(t), .tolist(), .cpu(), ...), as tests/test_fast_paths.py does.

    python benchmarks/step_overhead.py [--device auto|cpu|cuda] [--student resnet8x4] [--teacher resnet32x4]
        [--batches 50] [--repeats 5] [--tiny] [--sync-check] [--set KEY=VALUE ...] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from bench_util import (
    RANDOM_TEACHERS,
    cifar_overrides,
    device_info,
    fake_cifar_sizes,
    interleaved,
    median,
    random_teacher_states,
    recorded,
    resolve,
    timed,
    write_fake_cifar100,
    write_json,
)

from asib_sweeps.config import apply_overrides, default_config
from asib_sweeps.data import train_batches
from asib_sweeps.methods.base import EpochPlan, StepInput
from asib_sweeps.presets import apply_preset
from asib_sweeps.training import TrainingRun
from asib_sweeps.training.epoch import EpochTrainer
from asib_sweeps.training.phase import configure_phase

ARMS: dict[str, tuple[str, str | None]] = {
    # arm -> (method or ladder rung, the phase timed; None: the method's only phase)
    "ce": ("ce", None),
    "kd": ("kd", None),
    "dkd": ("dkd", None),
    "crd": ("crd", None),
    "asib_full_W": ("full", "W"),
    "asib_full_A": ("full", "A"),
    "asib_full_B": ("full", "B"),
    "asib_ib_joint": ("ib", "joint"),
}
TARGET_RATIO = 1.05
HOST_READS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")


@dataclasses.dataclass(frozen=True)
class Arm:
    run: TrainingRun
    plan: EpochPlan
    parts: frozenset[str]
    optimizers: list[torch.optim.Optimizer]


def build_arm(name: str, base_overrides: list[str], root: Path, args: argparse.Namespace, device: torch.device) -> Arm:
    method, phase = ARMS[name]
    asib = method in ("full", "ib")
    teachers = [args.teacher, args.teacher] if asib else [args.teacher]
    config = apply_overrides(
        default_config("cifar100"),
        [*cifar_overrides(root, student_images=args.batches * 64, student=args.student, teachers=teachers),
         "data.batch_size=64", "epochs=20", *base_overrides],
    )  # fmt: skip
    config = apply_preset(config, method) if asib else apply_overrides(config, [f"method.name={method}"])
    states = random_teacher_states(teachers, 100) if method != "ce" else []
    run = TrainingRun.create(config, teacher_states=states, device=device)
    plan = next(p for p in run.plan if phase is None or p.phase == phase)
    parts = run.method.trained_parts(plan.phase)
    configure_phase(plan, parts, student=run.student, teachers=run.teachers, method=run.method)
    optimizers = [run.optimizers[part] for part in parts if part in run.optimizers]
    return Arm(run, plan, parts, optimizers)


def trainer_epoch(arm: Arm) -> None:
    arm.run.trainer.train(arm.plan, arm.parts, arm.optimizers)


def bare_epoch(arm: Arm) -> None:
    """The same math as the trainer's step, with none of its bookkeeping."""
    run, plan = arm.run, arm.plan
    data, forward = run.config.data, run.trainer.forward
    trains_student, trains_teachers = "student" in arm.parts, "teachers" in arm.parts
    autocast = torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=forward.autocast)
    for images, labels, indices in train_batches(
        run.train_split, batch_size=data.batch_size, seed=run.config.seed, epoch=plan.epoch,
        mean=run.data.mean, std=run.data.std, crop_padding=data.crop_padding, flip=data.flip,
    ):  # fmt: skip
        if forward.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast:
            with torch.set_grad_enabled(trains_student):
                student = run.student(images)
            with torch.set_grad_enabled(trains_teachers):
                teachers = [teacher(images) for teacher in run.teachers]
            terms = run.method(StepInput(student=student, teachers=teachers, labels=labels, indices=indices, plan=plan))
            loss = sum(term.float() for term in terms.values())
        for optimizer in arm.optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in arm.optimizers:
            optimizer.step()


def time_arm(arm: Arm, repeats: int) -> dict[str, Any]:
    device, steps = arm.run.device, len(arm.run.train_split) // arm.run.config.data.batch_size
    trainer_epoch(arm)  # warm-up of both: allocator, kernels, autotuning
    bare_epoch(arm)
    sides: dict[str, Callable[[], float]] = {
        "trainer": lambda: 1000 * timed(lambda: trainer_epoch(arm), device) / steps,
        "bare": lambda: 1000 * timed(lambda: bare_epoch(arm), device) / steps,
    }
    ms = interleaved(sides, repeats)
    # The ratio is the median of each repeat's trainer/bare pair: adjacent epochs share the
    # machine's state of the moment, so a drift over the run (seen on CPU: 8.5 -> 11.8 ms for
    # the same ce epoch) cancels in the pair and not in a ratio of the two medians.
    paired = [trainer / bare for trainer, bare in zip(ms["trainer"], ms["bare"], strict=True)]
    return {"phase": arm.plan.phase, "steps_per_epoch": steps, "trainer_ms_per_step": median(ms["trainer"]),
            "bare_ms_per_step": median(ms["bare"]), "ratio": median(paired), "paired_ratios": paired,
            "trainer_ms": ms["trainer"], "bare_ms": ms["bare"]}  # fmt: skip


# ---------------------------------------------------------------------- sync check
@dataclasses.dataclass(frozen=True)
class GuardedTrainer(EpochTrainer):
    """The run's trainer, calling `after_first_batch` once the epoch's first batch is drawn."""

    after_first_batch: Callable[[], None]

    def _batches(self, plan: EpochPlan) -> Iterator[Any]:
        batches = iter(super()._batches(plan))
        first = next(batches)
        self.after_first_batch()
        yield first
        yield from batches


def guarded(trainer: EpochTrainer, after_first_batch: Callable[[], None]) -> GuardedTrainer:
    fields = {field.name: getattr(trainer, field.name) for field in dataclasses.fields(trainer)}
    return GuardedTrainer(**fields, after_first_batch=after_first_batch)


def sync_check(arm: Arm) -> dict[str, Any]:
    steps = len(arm.run.train_split) // arm.run.config.data.batch_size
    check = _cuda_sync_check if arm.run.device.type == "cuda" else _cpu_host_reads
    result = check(arm)
    return {"steps": steps, "ok": result["syncs"] == 0, **result}


def _cuda_sync_check(arm: Arm) -> dict[str, Any]:
    trainer = guarded(arm.run.trainer, lambda: torch.cuda.set_sync_debug_mode("error"))
    try:
        trainer.train(arm.plan, arm.parts, arm.optimizers)
        torch.cuda.set_sync_debug_mode(0)
        torch.cuda.synchronize()
        return {"kind": 'torch.cuda.set_sync_debug_mode("error")', "syncs": 0}
    except RuntimeError as error:
        torch.cuda.set_sync_debug_mode(0)
        message = str(error).strip()
        if "synchroniz" not in message:
            raise  # not the debug mode's error: a real failure of the epoch
        first = _where(traceback.extract_tb(error.__traceback__))
        locations = _cuda_sync_locations(arm)
        return {"kind": 'torch.cuda.set_sync_debug_mode("error")', "syncs": max(1, sum(locations.values())),
                "error": f"{message.splitlines()[0]} at {first}", "locations": locations}  # fmt: skip
    finally:
        torch.cuda.set_sync_debug_mode(0)


def _cuda_sync_locations(arm: Arm) -> dict[str, int]:
    """The same epoch under "warn": every synchronising line and how often it synchronised."""
    trainer = guarded(arm.run.trainer, lambda: torch.cuda.set_sync_debug_mode("warn"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            trainer.train(arm.plan, arm.parts, arm.optimizers)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    return dict(Counter(f"{_short(w.filename)}:{w.lineno}" for w in syncs))


def _cpu_host_reads(arm: Arm) -> dict[str, Any]:
    locations: Counter[str] = Counter()
    armed = [False]
    saved = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if armed[0]:
                locations[f"{name} at {_where(traceback.extract_stack()[:-1])}"] += 1
            return original(self, *args, **kwargs)

        return counted

    trainer = guarded(arm.run.trainer, lambda: armed.__setitem__(0, True))
    try:
        for name, original in saved.items():
            setattr(torch.Tensor, name, counting(name, original))
        trainer.train(arm.plan, arm.parts, arm.optimizers)
    finally:
        armed[0] = False
        for name, original in saved.items():
            setattr(torch.Tensor, name, original)
    return {"kind": "host reads of tensor values (CPU equivalent)", "syncs": sum(locations.values()),
            "locations": dict(locations)}  # fmt: skip


def _where(frames: traceback.StackSummary | list[traceback.FrameSummary]) -> str:
    """The innermost frame of this project's code (else the innermost frame)."""
    ours = [f for f in frames if "/asib_sweeps/" in f.filename or "/benchmarks/" in f.filename]
    frame = (ours or list(frames) or [None])[-1]
    return f"{_short(frame.filename)}:{frame.lineno}" if frame else "unknown"


def _short(filename: str) -> str:
    for marker in ("/asib_sweeps/", "/benchmarks/", "/site-packages/"):
        if marker in filename:
            return marker.strip("/") + "/" + filename.split(marker, 1)[1]
    return filename


# ---------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda[:N]")
    parser.add_argument("--student", default=None, help="student arch (default resnet8x4; tiny_cnn with --tiny)")
    parser.add_argument("--teacher", default=None, help="teacher arch (default resnet32x4; tiny_resnet with --tiny)")
    parser.add_argument("--batches", type=int, default=None, help="64-image steps per epoch (default 50; 4 with --tiny)")
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per side (default 5; 3 with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="tiny models and sizes: checks the code path in seconds")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {', '.join(ARMS)}")
    parser.add_argument("--sync-check", action="store_true", help="also check that no training step waits on the device")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every arm, e.g. runtime.amp=false (repeatable)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    tiny = {"student": "tiny_cnn", "teacher": "tiny_resnet", "batches": 4, "repeats": 3}
    full = {"student": "resnet8x4", "teacher": "resnet32x4", "batches": 50, "repeats": 5}
    for key, value in (tiny if args.tiny else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = sorted(set(args.arms.split(",")) - set(ARMS))
    if unknown or args.batches < 2 or args.repeats < 1:
        parser.error(f"--arms from {', '.join(ARMS)}; --batches >= 2; --repeats >= 1 (unknown arms: {unknown})")
    return args


def main() -> None:
    args = parse_args()
    device = resolve(args.device)
    results: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="step-overhead-") as folder:
        root = write_fake_cifar100(Path(folder), **dict(zip(("train", "test"), fake_cifar_sizes(args.batches * 64))))
        for name in args.arms.split(","):
            with recorded(errors, name):
                arm = build_arm(name, args.overrides, root, args, device)
                results[name] = time_arm(arm, args.repeats)
                if args.sync_check:
                    checks[name] = sync_check(arm)
            arm = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
    report(args, device, results, checks, errors)
    if errors:
        raise SystemExit(f"step_overhead: {len(errors)} arm(s) failed: {', '.join(errors)} (the rest is in the JSON)")


def report(
    args: argparse.Namespace, device: torch.device, results: dict[str, Any], checks: dict[str, Any], errors: dict[str, str]
) -> None:
    info = device_info(device)
    print(f"{info['device_name']} ({device}), student {args.student}, teacher {args.teacher} (ASIB: two), "
          f"{args.batches} steps of 64 CIFAR-shaped random images per epoch, {args.repeats} interleaved repeats, "
          f"teachers {RANDOM_TEACHERS}")  # fmt: skip
    print(f"{'arm':15s} {'phase':5s} {'trainer ms/step':>16s} {'bare ms/step':>13s} {'ratio':>6s}")
    for name, row in results.items():
        mark = "" if row["ratio"] <= TARGET_RATIO else f"  (above the {TARGET_RATIO} target)"
        print(f"{name:15s} {row['phase']:5s} {row['trainer_ms_per_step']:16.3f} {row['bare_ms_per_step']:13.3f} "
              f"{row['ratio']:6.3f}{mark}")  # fmt: skip
    for name, error in errors.items():
        print(f"{name:15s} FAILED: {error}")
    if results:
        worst = max(row["ratio"] for row in results.values())
        print(f"worst ratio trainer/bare: {worst:.3f} (target <= {TARGET_RATIO})")
    for name, check in checks.items():
        verdict = "no sync in the step" if check["ok"] else f"{check['syncs']} sync(s) in {check['steps']} steps"
        detail = "" if check["ok"] else f": {check.get('error', '')} {check.get('locations', {})}"
        print(f"sync check {name:15s} [{check['kind']}]: {verdict}{detail}")
    figures = {f"{name}.{key}": row[key] for name, row in results.items()
               for key in ("trainer_ms_per_step", "bare_ms_per_step", "ratio")}  # fmt: skip
    payload = {"benchmark": "step_overhead", "machine": info, "student": args.student, "teacher": args.teacher,
               "batches": args.batches, "repeats": args.repeats, "overrides": args.overrides,
               "teachers": RANDOM_TEACHERS, "target_ratio": TARGET_RATIO, "arms": results, "errors": errors,
               "figures": figures}  # fmt: skip
    if checks:
        payload["sync_check"] = {"ok": all(c["ok"] for c in checks.values()), "arms": checks}
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
