"""In-process digits runs for the accuracy benchmarks: one arm, its overrides, one seed.

The benchmarks that choose and check defaults (`select_defaults.py`,
`method_accuracy.py`) run many short trials; here they share one teacher cache
(fine-tuned once, under `.asib_cache/teachers/`) and a process pool with one torch
thread per process, which is what a 2-core machine runs fastest.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parents[1] / ".asib_cache" / "teachers"


@dataclass(frozen=True)
class Job:
    arm: str
    """A ladder rung or reference (presets.py), or any method name."""
    overrides: tuple[str, ...]
    seed: int


@dataclass(frozen=True)
class Outcome:
    job: Job
    val_acc_best: float
    test_acc_best_val: float
    test_acc_final: float
    seconds: float
    history: list[dict]


def arm_config(arm: str, overrides: Sequence[str], seed: int):
    """The digits default, the arm's preset (or method), then the overrides, then the seed."""
    from asib_sweeps.config import apply_overrides, default_config
    from asib_sweeps.presets import PRESETS, apply_preset

    base = default_config("digits")
    config = apply_preset(base, arm) if arm in PRESETS else apply_overrides(base, [f"method.name={arm}"])
    return apply_overrides(config, [*overrides, f"seed={seed}"])


def ensure_teachers(overrides: Sequence[str] = ()) -> None:
    """Fine-tune (once) the teachers that runs with these overrides distil from."""
    from asib_sweeps.teacher_cache import TeacherCache, teacher_key
    from asib_sweeps.teachers import fine_tune_teacher

    config = arm_config("kd", overrides, 0)
    cache = TeacherCache(CACHE)
    for index in range(len(config.teachers)):
        if not cache.has(teacher_key(config, index)):
            fine_tune_teacher(config, index, cache)


def run_job(job: Job) -> Outcome:
    import torch

    from asib_sweeps.teacher_cache import TeacherCache, teacher_key
    from asib_sweeps.training import TrainingRun

    torch.set_num_threads(1)
    config = arm_config(job.arm, job.overrides, job.seed)
    cache = TeacherCache(CACHE)
    teachers = [cache.load(teacher_key(config, i)) for i in range(len(config.teachers))]
    started = time.perf_counter()
    run = TrainingRun.create(config, teacher_states=teachers if config.method.name != "ce" else ())
    while not run.finished:
        run.run_epoch()
    summary = run.summary()
    return Outcome(
        job=job,
        val_acc_best=summary["val_acc_best"],
        test_acc_best_val=summary["test_acc_best_val"],
        test_acc_final=summary["test_acc_final"],
        seconds=time.perf_counter() - started,
        history=run.history,
    )


def run_jobs(jobs: Sequence[Job], *, workers: int = 2) -> list[Outcome]:
    """Run every job (teachers first), `workers` processes of one thread each; results in job order."""
    os.environ["OMP_NUM_THREADS"] = "1"
    for overrides in {job.overrides for job in jobs}:
        ensure_teachers(overrides)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_job, jobs))


def mean_std(values: Sequence[float]) -> str:
    """`mean ± std` in percentage points (std 0 for one value)."""
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}"
