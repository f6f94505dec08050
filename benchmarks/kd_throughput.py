"""Images/s of one trial for resnet32x4 -> resnet8x4 KD: fp32 vs bf16 vs compiled, and the share of the GPU's peak.

One `TrainingRun` per variant (same seed, same initial weights), method kd, one
randomly initialised resnet32x4 teacher (timing only), CIFAR-shaped random data with
100 classes, batch 64 and an exact number of full batches per epoch (so the
reduce-overhead variant replays one CUDA graph shape). What is timed is the trainer's
training epoch (`run.trainer.train`: data pipeline, teacher forward, student forward
and backward, KD loss, optimiser step), not evaluation. Variants:

- fp32: runtime.amp=false;
- bf16: runtime.amp=true (bf16 autocast; on the CPU, where the config refuses amp,
  the trainer's autocast switch is set directly, the same code path);
- compile: bf16 + runtime.compile=true (torch.compile of student and teacher);
- compile_ro: bf16 + runtime.compile=reduce-overhead (CUDA graphs; on the CPU the same
  as compile, so --cpu leaves it out unless asked for).

channels_last is left at auto (on for CUDA). Each variant first runs --warmup-epochs
epochs (compilation, CUDA-graph recording, autotuning: excluded), then the variants
are interleaved (A B C D A B C D ...) over --repeats epochs; medians per step.
The FLOPs of one training step are counted with torch.utils.flop_counter.FlopCounterMode
on the eager run; achieved FLOP/s = FLOPs per step / time per step, shown as a
fraction of the GPU's bf16 dense peak where the device is in bench_util's table.
Target (issue 12): <= 1.1 ms per 64-image step on an H100-class GPU.

    python benchmarks/kd_throughput.py [--device auto|cpu|cuda] [--steps 100] [--repeats 5]
        [--variants fp32,bf16,compile,compile_ro] [--tiny] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
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
from torch.utils.flop_counter import FlopCounterMode

from asib_sweeps.config import apply_overrides, default_config
from asib_sweeps.training import TrainingRun
from asib_sweeps.training.epoch import EpochTrainer
from asib_sweeps.training.phase import configure_phase

BATCH = 64
TARGET_MS = 1.1
VARIANTS: dict[str, tuple[bool, str]] = {
    # name -> (bf16 autocast, runtime.compile)
    "fp32": (False, "false"),
    "bf16": (True, "false"),
    "compile": (True, "true"),
    "compile_ro": (True, "reduce-overhead"),
}


@dataclasses.dataclass
class Variant:
    run: TrainingRun
    trainer: EpochTrainer
    warmup_s: float = 0.0

    def epoch(self) -> None:
        plan = self.run.plan[0]
        parts = self.run.method.trained_parts(plan.phase)
        self.trainer.train(plan, parts, [self.run.optimizers[p] for p in parts if p in self.run.optimizers])


def build_variant(name: str, root: Path, args: argparse.Namespace, device: torch.device) -> Variant:
    bf16, compile_mode = VARIANTS[name]
    cpu_bf16 = bf16 and device.type != "cuda"  # the config allows amp only on CUDA
    config = apply_overrides(
        default_config("cifar100"),
        [*cifar_overrides(root, student_images=args.steps * BATCH, student=args.student, teachers=[args.teacher]),
         f"data.batch_size={BATCH}", "method.name=kd", "epochs=1",
         f"runtime.amp={'true' if bf16 and not cpu_bf16 else 'false'}", f"runtime.compile={compile_mode}"],
    )  # fmt: skip
    run = TrainingRun.create(config, teacher_states=random_teacher_states([args.teacher], 100), device=device)
    plan = run.plan[0]
    configure_phase(plan, run.method.trained_parts(plan.phase), student=run.student, teachers=run.teachers, method=run.method)
    trainer = run.trainer
    if cpu_bf16:
        trainer = dataclasses.replace(trainer, forward=dataclasses.replace(trainer.forward, autocast=True))
    return Variant(run, trainer)


def flops_per_step(variant: Variant) -> int:
    """FLOPs of one 64-image training step (forward and backward), counted on an eager run."""
    run = variant.run
    one_batch = run.train_split.select(torch.arange(BATCH, device=run.train_split.labels.device))
    single = Variant(run, dataclasses.replace(variant.trainer, train_split=one_batch))
    with FlopCounterMode(display=False) as counter:
        single.epoch()
    return int(counter.get_total_flops())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda[:N]")
    parser.add_argument("--student", default=None, help="default resnet8x4 (tiny_cnn with --tiny)")
    parser.add_argument("--teacher", default=None, help="default resnet32x4 (tiny_resnet with --tiny)")
    parser.add_argument("--steps", type=int, default=None, help="64-image steps per epoch (default 100; 3 with --tiny)")
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per variant (default 5; 2 with --tiny)")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--variants", default=None, help=f"comma-separated subset of {', '.join(VARIANTS)} "
                        "(default all; on the CPU all but compile_ro)")  # fmt: skip
    parser.add_argument("--tiny", action="store_true", help="tiny models and sizes: checks the code path")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    defaults = {"student": "tiny_cnn", "teacher": "tiny_resnet", "steps": 3, "repeats": 2} if args.tiny else {
        "student": "resnet8x4", "teacher": "resnet32x4", "steps": 100, "repeats": 5}  # fmt: skip
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.steps < 2 or args.repeats < 1 or args.warmup_epochs < 0:
        parser.error("--steps >= 2, --repeats >= 1, --warmup-epochs >= 0")
    return args


def main() -> None:
    args = parse_args()
    device = resolve(args.device)
    names = (args.variants or ",".join(v for v in VARIANTS if device.type == "cuda" or VARIANTS[v][1] == "false"))
    names = names.split(",")
    if unknown := sorted(set(names) - set(VARIANTS)):
        raise SystemExit(f"--variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")
    errors: dict[str, str] = {}
    variants: dict[str, Variant] = {}
    with tempfile.TemporaryDirectory(prefix="kd-throughput-") as folder:
        root = write_fake_cifar100(Path(folder), **dict(zip(("train", "test"), fake_cifar_sizes(args.steps * BATCH))))
        for name in names:
            with recorded(errors, name):
                variant = build_variant(name, root, args, device)
                started = time.perf_counter()
                for _ in range(args.warmup_epochs):
                    timed(variant.epoch, device)
                variant.warmup_s = time.perf_counter() - started
                variants[name] = variant
                print(f"{name}: warm-up {variant.warmup_s:.1f} s", flush=True)
    flops = None
    eager = next((v for n, v in variants.items() if VARIANTS[n][1] == "false"), None)
    if eager is not None:
        with recorded(errors, "flop_count"):
            flops = flops_per_step(eager)
    sides = {name: (lambda v=v: 1000 * timed(v.epoch, device) / args.steps) for name, v in variants.items()}
    ms = interleaved(sides, args.repeats, errors=errors)
    report(args, device, variants, ms, flops, errors)
    if errors:
        raise SystemExit(f"kd_throughput: {len(errors)} part(s) failed: {', '.join(errors)} (the rest is in the JSON)")


def report(args: argparse.Namespace, device: torch.device, variants: dict[str, Variant], ms: dict[str, list[float]],
           flops: int | None, errors: dict[str, str]) -> None:  # fmt: skip
    info = device_info(device)
    peak = info["bf16_dense_peak_tflops"]
    print(f"{info['device_name']} ({device}), KD {args.teacher} -> {args.student}, batch {BATCH}, {args.steps} steps "
          f"per epoch, {args.repeats} interleaved repeats after {args.warmup_epochs} warm-up epoch(s); "
          f"teacher {RANDOM_TEACHERS}")  # fmt: skip
    if flops:
        print(f"FLOPs per training step (FlopCounterMode): {flops / 1e9:.2f} GFLOP; bf16 dense peak: "
              f"{f'{peak:.0f} TFLOP/s' if peak else 'unknown for this device'}")  # fmt: skip
    rows: dict[str, dict[str, Any]] = {}
    figures: dict[str, float] = {}
    print(f"{'variant':11s} {'ms/step':>8s} {'images/s':>10s} {'TFLOP/s':>8s} {'of peak':>8s} {'warm-up s':>9s}")
    for name, values in ms.items():
        step_ms = median(values)
        row: dict[str, Any] = {"ms_per_step": step_ms, "images_per_s": BATCH * 1000 / step_ms,
                               "warmup_s": variants[name].warmup_s, "ms": values}  # fmt: skip
        if flops:
            row["tflops"] = flops / (step_ms / 1000) / 1e12
            row["peak_fraction"] = row["tflops"] / peak if peak else None
        rows[name] = row
        figures.update({f"{name}.{k}": v for k, v in row.items() if k != "ms" and v is not None})
        fraction = f"{row['peak_fraction']:.2%}" if row.get("peak_fraction") else "-"
        print(f"{name:11s} {step_ms:8.3f} {row['images_per_s']:10,.0f} {row.get('tflops', 0):8.3f} {fraction:>8s} "
              f"{variants[name].warmup_s:9.1f}")  # fmt: skip
    for name, error in errors.items():
        print(f"{name}: FAILED: {error}")
    best = min(rows, key=lambda n: rows[n]["ms_per_step"]) if rows else None
    h100_class = any(key in info["device_name"] for key in ("H100", "H200"))
    verdict = "not applicable here" if not h100_class or best is None else (
        "met" if rows[best]["ms_per_step"] <= TARGET_MS else "missed")  # fmt: skip
    if best is not None:
        print(f"best: {best} {rows[best]['ms_per_step']:.3f} ms per 64-image step; target <= {TARGET_MS} ms on an "
              f"H100-class GPU: {verdict}")
    if "fp32" in rows:
        speedups = (f"{n} {rows['fp32']['ms_per_step'] / r['ms_per_step']:.2f}x" for n, r in rows.items())
        print("speed-up over fp32: " + ", ".join(speedups))
    payload = {"benchmark": "kd_throughput", "machine": info, "student": args.student, "teacher": args.teacher,
               "batch": BATCH, "steps": args.steps, "repeats": args.repeats, "warmup_epochs": args.warmup_epochs,
               "teachers": RANDOM_TEACHERS, "flops_per_step": flops, "target_ms_per_step": TARGET_MS,
               "target_verdict": verdict, "best": best, "variants": rows, "errors": errors,
               "figures": {**figures, **({"gflops_per_step": flops / 1e9} if flops else {})}}  # fmt: skip
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
