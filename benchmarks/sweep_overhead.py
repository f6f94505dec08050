"""What running trials through asib-sweep costs, against running them back to back in one process.

Three commands, each a fresh process timed from start to exit, with the same N trials
(the beta study's full rung: identical work, only beta differs) and warm teachers:

- sequential: one Python process trains the N runs one after another with TrainingRun
  (torch on both cores), no Ray;
- sweep, serial: `asib-sweep beta --cpus-per-trial 2` (one trial at a time, both cores);
- sweep, parallel: `asib-sweep beta --cpus-per-trial 1` (two trials at once).

overhead = serial / sequential - 1 (Ray start, Tune, checkpoints, tables; target < 15 %),
speed-up = sequential / parallel (target >= 1.7 on 2 cores). A run trains faster on two
threads than on one, which the parallel sweep gives up, so the sequential side is also
timed with one torch thread (`sequential_1_thread`): sequential_1_thread / parallel is
the speed-up from running trials side by side alone. Ray's start-up is timed too
(cluster.local.ray_cluster, dashboard included). Sides are interleaved and rotated in
each repeat; medians are reported, as this machine is shared and noisy.

    python benchmarks/sweep_overhead.py [--trials 8] [--repeats 3] [--epochs 16] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from asib_sweeps.config import RunConfig, apply_overrides, default_config
from asib_sweeps.teachers import TeacherCache
from asib_sweeps.training import TrainingRun
from search_spaces import StudyOptions
from search_spaces.beta import trials as beta_trials
from search_spaces.study import teacher_keys_used

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def overrides(epochs: int) -> list[str]:
    return [f"epochs={epochs}"]


def sweep_command(results: Path, cache: Path, name: str, *, trials: int, epochs: int, cpus: int) -> list[str]:
    sets = [item for override in overrides(epochs) for item in ("--set", override)]
    return [
        sys.executable, "-m", "asib_sweeps.cli.sweep", "beta", "--samples", str(trials), "--results", str(results),
        "--name", name, "--teacher-cache", str(cache), "--no-dashboard", "--cpus-per-trial", str(cpus), *sets,
    ]  # fmt: skip


def timed(command: list[str], log: Path, **env: str) -> float:
    started = time.perf_counter()
    with open(log, "w") as out:
        subprocess.run(command, env={**ENV, **env}, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - started


def run_sequential(cache: Path, trials: int, epochs: int) -> None:
    """The sequential side (run in its own process): the N beta trials back to back, no Ray."""
    base = apply_overrides(default_config("digits"), overrides(epochs))
    teachers = TeacherCache(cache)
    for trial in beta_trials(base, StudyOptions(samples=trials)):
        config: RunConfig = trial.config
        run = TrainingRun.create(config, teacher_states=[teachers.load(k) for k in teacher_keys_used(config)])
        while not run.finished:
            run.run_epoch()


def time_ray_start() -> float:
    """Ray start-up as the sweep does it (in its own process)."""
    from cluster.local import ray_cluster

    started = time.perf_counter()
    with ray_cluster(dashboard=True):
        elapsed = time.perf_counter() - started
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=16, help="B-epochs per trial (plus one A-epoch per stage)")
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary one); keeps its teachers")
    parser.add_argument("--out", type=Path, help="write the measurements as JSON here")
    parser.add_argument("--side", choices=["sequential", "ray-start"], help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "sequential":
        run_sequential(args.cache, args.trials, args.epochs)
        return
    if args.side == "ray-start":
        print(json.dumps(time_ray_start()))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="sweep-overhead-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "teachers"
    print(f"fine-tuning the teachers into {cache} (not timed) ...", flush=True)
    warm = [sys.executable, "-m", "asib_sweeps.cli.sweep", "finetune", "--for", "beta", "--results", str(work)]
    timed(
        [*warm, "--name", f"warm-{time.time_ns()}", "--teacher-cache", str(cache), "--no-dashboard"], work / "warm.log"
    )
    me = [sys.executable, str(Path(__file__).resolve())]
    run_id = time.strftime("%Y%m%d-%H%M%S")  # sweep names must be new: asib-sweep refuses to mix sweeps
    sides = {
        "sequential": lambda k: timed(
            [
                *me,
                "--side",
                "sequential",
                "--cache",
                str(cache),
                "--trials",
                str(args.trials),
                "--epochs",
                str(args.epochs),
            ],
            work / f"sequential-{k}.log",
        ),
        "sequential_1_thread": lambda k: timed(
            [
                *me,
                "--side",
                "sequential",
                "--cache",
                str(cache),
                "--trials",
                str(args.trials),
                "--epochs",
                str(args.epochs),
            ],
            work / f"sequential-1-thread-{k}.log",
            OMP_NUM_THREADS="1",
        ),
        "sweep_serial": lambda k: timed(
            sweep_command(work, cache, f"serial-{run_id}-{k}", trials=args.trials, epochs=args.epochs, cpus=2),
            work / f"serial-{k}.log",
        ),
        "sweep_parallel": lambda k: timed(
            sweep_command(work, cache, f"parallel-{run_id}-{k}", trials=args.trials, epochs=args.epochs, cpus=1),
            work / f"parallel-{k}.log",
        ),
        "ray_start": lambda k: float(
            subprocess.run([*me, "--side", "ray-start"], env=ENV, capture_output=True, text=True, check=True)
            .stdout.strip()
            .splitlines()[-1]
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for repeat in range(args.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            times[name].append(sides[name](repeat))
            print(f"repeat {repeat}: {name} {times[name][-1]:.1f} s", flush=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    summary = {
        "trials": args.trials,
        "epochs_per_trial": args.epochs,
        "threads": torch.get_num_threads(),
        "times_s": times,
        "median_s": median,
        "overhead": median["sweep_serial"] / median["sequential"] - 1,
        "speedup_parallel": median["sequential"] / median["sweep_parallel"],
        "speedup_parallel_vs_1_thread": median["sequential_1_thread"] / median["sweep_parallel"],
    }
    print(json.dumps(summary, indent=2))
    print(
        f"overhead (serial sweep vs sequential): {summary['overhead']:+.1%} (target < 15 %); "
        f"speed-up with 2 trials at once: {summary['speedup_parallel']:.2f} (target >= 1.7), "
        f"{summary['speedup_parallel_vs_1_thread']:.2f} against one-thread runs; "
        f"ray start-up: {median['ray_start']:.1f} s"
    )
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
