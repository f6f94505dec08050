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
the speed-up from running trials side by side alone. The overhead is split in two:
inside the trials (Tune's time_total_s of the serial sweep's trials, i.e. training plus
reports and checkpoints, against the sequential side's time in TrainingRun) and a fixed
cost per sweep (everything else: interpreter, imports, Ray start, Tune set-up). Ray's
start-up is timed on its own too (cluster.local.ray_cluster, dashboard included). Sides
are interleaved and rotated in each repeat; medians are reported, as this machine is
shared and noisy.

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
from collections.abc import Callable
from pathlib import Path

from analysis.results import read_results
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


def run_sequential(cache: Path, trials: int, epochs: int) -> float:
    """The sequential side (run in its own process): the N beta trials back to back, no Ray.

    Returns the seconds spent in the runs themselves (process start and imports excluded).
    """
    base = apply_overrides(default_config("digits"), overrides(epochs))
    teachers = TeacherCache(cache)
    started = time.perf_counter()
    for trial in beta_trials(base, StudyOptions(samples=trials)):
        config: RunConfig = trial.config
        run = TrainingRun.create(config, teacher_states=[teachers.load(k) for k in teacher_keys_used(config)])
        while not run.finished:
            run.run_epoch()
    return time.perf_counter() - started


def time_ray_start() -> float:
    """Ray start-up as the sweep does it (in its own process)."""
    from cluster.local import ray_cluster

    started = time.perf_counter()
    with ray_cluster(dashboard=True):
        elapsed = time.perf_counter() - started
    return elapsed


def last_line_number(log: Path) -> float:
    return float(log.read_text().strip().splitlines()[-1])


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
        print(run_sequential(args.cache, args.trials, args.epochs))
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
    sequential = [*me, "--side", "sequential", "--cache", str(cache), "--trials", str(args.trials)]
    sequential += ["--epochs", str(args.epochs)]
    run_id = time.strftime("%Y%m%d-%H%M%S")  # sweep names must be new: asib-sweep refuses to mix sweeps

    def sequential_side(threads: str) -> Callable[[int], tuple[float, float]]:
        def side(repeat: int) -> tuple[float, float]:
            log = work / f"sequential-{threads}-threads-{repeat}.log"
            wall = timed(sequential, log, **({"OMP_NUM_THREADS": threads} if threads == "1" else {}))
            return wall, last_line_number(log)

        return side

    def sweep_side(kind: str, cpus: int) -> Callable[[int], tuple[float, float]]:
        def side(repeat: int) -> tuple[float, float]:
            name = f"{kind}-{run_id}-{repeat}"
            command = sweep_command(work, cache, name, trials=args.trials, epochs=args.epochs, cpus=cpus)
            wall = timed(command, work / f"{name}.log")
            trials, _ = read_results(work / name)
            return wall, float(trials["wall_time_s"].sum())

        return side

    def ray_start(repeat: int) -> tuple[float, float]:
        output = subprocess.run([*me, "--side", "ray-start"], env=ENV, capture_output=True, text=True, check=True)
        seconds = float(output.stdout.strip().splitlines()[-1])
        return seconds, 0.0

    sides = {
        "sequential": sequential_side("all"),
        "sequential_1_thread": sequential_side("1"),
        "sweep_serial": sweep_side("serial", cpus=2),
        "sweep_parallel": sweep_side("parallel", cpus=1),
        "ray_start": ray_start,
    }
    walls: dict[str, list[float]] = {name: [] for name in sides}
    trial_s: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for repeat in range(args.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            wall, in_trials = sides[name](repeat)
            walls[name].append(wall)
            trial_s[name].append(in_trials)
            print(f"repeat {repeat}: {name} {wall:.1f} s (in the runs: {in_trials:.1f} s)", flush=True)
    median = {name: statistics.median(values) for name, values in walls.items()}
    median_trials = {name: statistics.median(values) for name, values in trial_s.items() if name != "ray_start"}
    summary = {
        "trials": args.trials,
        "epochs_per_trial": args.epochs,
        "wall_s": walls,
        "in_runs_s": trial_s,
        "median_wall_s": median,
        "median_in_runs_s": median_trials,
        "overhead": median["sweep_serial"] / median["sequential"] - 1,
        "overhead_per_trial": median_trials["sweep_serial"] / median_trials["sequential"] - 1,
        "fixed_cost_s": median["sweep_serial"] - median_trials["sweep_serial"],
        "speedup_parallel": median["sequential"] / median["sweep_parallel"],
        "speedup_parallel_vs_1_thread": median["sequential_1_thread"] / median["sweep_parallel"],
    }
    print(json.dumps(summary, indent=2))
    print(
        f"overhead (serial sweep vs sequential): {summary['overhead']:+.1%} (target < 15 %); "
        f"speed-up with 2 trials at once: {summary['speedup_parallel']:.2f} (target >= 1.7), "
        f"{summary['speedup_parallel_vs_1_thread']:.2f} against one-thread runs; "
        f"inside the trials the sweep adds {summary['overhead_per_trial']:+.1%}, the rest is a fixed "
        f"{summary['fixed_cost_s']:.1f} s per sweep (interpreter, imports, Ray start {median['ray_start']:.1f} s, Tune)"
    )
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
