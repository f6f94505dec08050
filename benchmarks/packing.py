"""Sweep throughput: trials per hour with 1, 2 and 4 trials per GPU (--gpus-per-trial 1, 0.5, 0.25).

The same N short KD trials (resnet32x4 -> resnet8x4, CIFAR-shaped random data with 100
classes, seeds 0..N-1) run as a sweep once per GPU share, through the sweep's own code
(`asib_sweeps.cli.sweep_runner.run_sweep`: Tune, the `distill` trainable, each trial's
device and memory fraction from its share, checkpoints, the results tables), on one
private local Ray started once for all of them. Only the study is the benchmark's own:
N identical KD trials, so the work per share is the same. The teacher is randomly
initialised (timing only) and put in a fresh teacher cache under every seed's teacher key
(data.split_per_seed gives each seed its own split and teacher), so no fine-tuning runs;
each trial checkpoints once, after its last epoch.
trials/hour = N / (wall time of the sweep) * 3600; the speed-up of each share is against
one trial per GPU. Shares are interleaved when --repeats > 1 (rotated each repeat);
medians. Target (issue 12): 4 trials per GPU >= 2.5x one.

--cpu runs the same code path with CPU-only trials and tiny models, 1 vs 2 trials at a
time (--max-concurrent 1 and 2, one CPU each): this exercises the path on a machine
without a GPU; it says nothing about GPU packing.

    python benchmarks/packing.py [--trials 8] [--epochs 3] [--steps 100] [--shares 1,0.5,0.25]
        [--cpus-per-trial 2] [--repeats 1] [--cpu] [--work DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private benchmark Ray on 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from bench_util import (
    RANDOM_TEACHERS,
    cifar_overrides,
    fake_cifar_sizes,
    median,
    random_teacher_states,
    recorded,
    write_fake_cifar100,
    write_json,
)

from analysis.results import read_results
from asib_sweeps.cli.sweep_runner import SweepSettings, run_sweep
from asib_sweeps.config import RunConfig, apply_overrides, default_config
from asib_sweeps.teacher_cache import TeacherCache
from cluster.local import ray_cluster
from search_spaces import StudyOptions, Trial
from search_spaces.finetune import teacher_trials
from search_spaces.study import Study, grid_plan, trial_runs, with_seed

TARGET_SPEEDUP_4 = 2.5


@contextlib.contextmanager
def quiet(log: Path) -> Iterator[None]:
    """Tune's status tables and the trials' output go to `log`, not the console."""
    with open(log, "w") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        yield


def kd_config(root: Path, args: argparse.Namespace) -> RunConfig:
    return apply_overrides(
        default_config("cifar100"),
        [*cifar_overrides(root, student_images=args.steps * 64, student=args.student, teachers=[args.teacher]),
         "data.batch_size=64", "method.name=kd", f"epochs={args.epochs}",
         f"runtime.device={'cpu' if args.cpu else 'auto'}"],
    )  # fmt: skip


def packing_study(config: RunConfig, count: int) -> tuple[Study, list[Trial]]:
    trials = [
        Trial(name=f"kd-s{seed}", labels={"arm": "kd", "seed": seed}, config=with_seed(config, seed))
        for seed in range(count)
    ]
    study = Study(name="packing", summary=f"{count} identical KD trials", trainable="distill", options=("seeds",),
                  trials=lambda base, options: trials, tune_plan=grid_plan)  # fmt: skip
    return study, trials


def sweep(level: dict[str, Any], study: Study, trials: list[Trial], work: Path, cache: Path, name: str,
          args: argparse.Namespace) -> dict[str, float]:  # fmt: skip
    settings = SweepSettings(
        study=study, options=StudyOptions(seeds=len(trials)), trials=trials,
        teachers=teacher_trials(trial_runs(trials)), results_dir=work / "results", name=name,
        teacher_cache=cache, cpus_per_trial=level["cpus"], gpus_per_trial=level["gpus"],
        max_concurrent=level["max_concurrent"], max_failures=0, checkpoint_every=args.epochs, resume=False,
    )  # fmt: skip
    log = work / f"{name}.log"
    started = time.perf_counter()
    with quiet(log):
        code = run_sweep(settings)
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"sweep {name} exited {code}; its output is in {log}")
    table, _ = read_results(settings.sweep_dir)
    done = int((table["status"] == "TERMINATED").sum())
    if done != len(trials):
        raise RuntimeError(f"sweep {name}: {done} of {len(trials)} trials finished; see {log}")
    return {"wall_s": wall, "trials_per_hour": len(trials) * 3600 / wall, "trial_s": median(table["wall_time_s"])}


def levels(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    if args.cpu:
        return {f"concurrent_{n}": {"gpus": 0.0, "cpus": 1.0, "max_concurrent": n, "per": n} for n in (1, 2)}
    shares = [float(s) for s in args.shares.split(",")]
    return {f"per_gpu_{round(1 / s)}": {"gpus": s, "cpus": args.cpus_per_trial, "max_concurrent": None, "per": round(1 / s)}
            for s in shares}  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=None, help="trials per sweep (default 8; 2 with --cpu)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per trial (default 3; 1 with --cpu)")
    parser.add_argument("--steps", type=int, default=None, help="64-image steps per epoch (default 100; 2 with --cpu)")
    parser.add_argument("--shares", default="1,0.5,0.25", help="GPUs per trial, comma-separated (1/share trials per GPU)")
    parser.add_argument("--cpus-per-trial", type=float, default=2.0)
    parser.add_argument("--student", default=None, help="default resnet8x4 (tiny_cnn with --cpu)")
    parser.add_argument("--teacher", default=None, help="default resnet32x4 (tiny_resnet with --cpu)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cpu", action="store_true", help="CPU-only trials, 1 vs 2 at a time: checks the code path")
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary one, removed after)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    defaults = {"trials": 2, "epochs": 1, "steps": 2, "student": "tiny_cnn", "teacher": "tiny_resnet"} if args.cpu else {
        "trials": 8, "epochs": 3, "steps": 100, "student": "resnet8x4", "teacher": "resnet32x4"}  # fmt: skip
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.trials < 1 or args.epochs < 1 or args.steps < 2 or args.repeats < 1:
        parser.error("--trials, --epochs, --repeats >= 1 and --steps >= 2")
    return args


def main() -> None:
    args = parse_args()
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="packing-")))
        work.mkdir(parents=True, exist_ok=True)
        results = run(args, work)
    report(args, results)
    if results["errors"]:
        raise SystemExit(f"packing: {', '.join(results['errors'])} failed (the rest is in the JSON)")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    root = write_fake_cifar100(work / "data", **dict(zip(("train", "test"), fake_cifar_sizes(args.steps * 64))))
    config = kd_config(root, args)
    cache = work / "teachers"
    study, trials = packing_study(config, args.trials)
    state = random_teacher_states([args.teacher], 100)[0]
    for teacher in teacher_trials(trial_runs(trials)):  # one per seed: each seed has its own split (split_per_seed)
        TeacherCache(cache).store(teacher.name, state, metrics={"note": RANDOM_TEACHERS},
                                  spec=teacher.extra["teacher_spec"])  # fmt: skip
    plan = levels(args)
    names = list(plan)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    stamp = time.strftime("%H%M%S")
    with ray_cluster(dashboard=False):
        for repeat in range(args.repeats):
            for name in names[repeat % len(names):] + names[: repeat % len(names)]:
                if name in errors:
                    continue
                with recorded(errors, name):
                    runs[name].append(sweep(plan[name], study, trials, work, cache, f"{name}-{stamp}-{repeat}", args))
                    row = runs[name][-1]
                    print(f"repeat {repeat}: {name}: {row['wall_s']:.1f} s, {row['trials_per_hour']:.0f} trials/h, "
                          f"median trial {row['trial_s']:.1f} s", flush=True)  # fmt: skip
    runs = {name: rows for name, rows in runs.items() if name not in errors}
    return {"levels": plan, "runs": runs, "errors": errors, "work": str(work)}


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    plan, runs = results["levels"], results["runs"]
    first = next(iter(runs), None)
    summary = {name: {key: median(r[key] for r in rows) for key in ("wall_s", "trials_per_hour", "trial_s")}
               for name, rows in runs.items()}  # fmt: skip
    base = summary[first]["trials_per_hour"] if first else math.nan
    for row in summary.values():
        row["speedup"] = row["trials_per_hour"] / base
    what = ("CPU-only trials, 1 vs 2 at a time (the code path only; no GPU packing measured)" if args.cpu
            else f"trials per GPU {', '.join(str(level['per']) for level in plan.values())}")  # fmt: skip
    print(f"{args.trials} KD trials {args.teacher} -> {args.student} ({args.epochs} epochs of {args.steps} steps), "
          f"{what}; teacher {RANDOM_TEACHERS}")  # fmt: skip
    for name, error in results["errors"].items():
        print(f"{name:14s} FAILED: {error}")
    for name, row in summary.items():
        print(f"{name:14s} {row['trials_per_hour']:10.0f} trials/h  wall {row['wall_s']:7.1f} s  "
              f"median trial {row['trial_s']:6.1f} s  speed-up {row['speedup']:.2f}x")  # fmt: skip
    if "per_gpu_4" in summary and first == "per_gpu_1":
        speedup = summary["per_gpu_4"]["speedup"]
        print(f"4 trials per GPU vs 1: {speedup:.2f}x (target >= {TARGET_SPEEDUP_4}): "
              f"{'met' if speedup >= TARGET_SPEEDUP_4 else 'missed'}")  # fmt: skip
    figures = {f"{name}.{key}": value for name, row in summary.items() for key, value in row.items()}
    payload = {"benchmark": "packing", "mode": "cpu" if args.cpu else "gpu", "what": what, "trials": args.trials,
               "epochs": args.epochs, "steps": args.steps, "student": args.student, "teacher": args.teacher,
               "teachers": RANDOM_TEACHERS, "levels": plan, "runs": runs, "summary": summary,
               "target_speedup_4_per_gpu": TARGET_SPEEDUP_4, "errors": results["errors"], "figures": figures}  # fmt: skip
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
