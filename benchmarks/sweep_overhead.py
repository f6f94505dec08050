"""What running trials through asib-sweep costs, against running them back to back in one process.

Three commands, each a fresh process timed from start to exit, with the same N trials
(the beta study's full rung: identical work, only beta differs) and warm teachers:

- sequential: one Python process trains the N runs one after another with TrainingRun
  (torch on both cores), no Ray;
- sweep, serial: `asib-sweep beta --cpus-per-trial 2` (one trial at a time, both cores);
- sweep, parallel: `asib-sweep beta --cpus-per-trial 1` (two trials at once);
- sweep, serial, no actor reuse: the serial sweep with Tune's reuse_actors forced off
  (each trial starts its own worker process), to see what reuse saves;
- sweep, serial, a checkpoint every epoch: `--checkpoint-every-s 0` (the behaviour
  before checkpoints were limited by wall time);
- sweep, serial, baseline code: the serial sweep run from another checkout (`--baseline
  DIR`, e.g. `git worktree add /tmp/base <commit>`), for a before/after in one run.

overhead = serial / sequential - 1 (Ray start, Tune, checkpoints, tables; target <= 10 %),
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
        [--sides sequential,sweep_serial,...] [--baseline DIR] [--set KEY=VALUE ...]
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
from collections.abc import Callable, Sequence
from pathlib import Path

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
SIDES = (
    "sequential", "sequential_1_thread", "sweep_serial", "sweep_parallel", "sweep_serial_no_reuse",
    "sweep_serial_every_epoch", "sweep_serial_base", "ray_start",
)  # fmt: skip


EXTRA_SETS: list[str] = []
"""--set KEY=VALUE of this invocation, applied to both sides (e.g. a shorter ASIB warm-up)."""


def overrides(epochs: int) -> list[str]:
    return [f"epochs={epochs}", *EXTRA_SETS]


def sweep_command(
    results: Path, cache: Path, name: str, *, trials: int, epochs: int, cpus: int, cli: Sequence[str] = ()
) -> list[str]:
    sets = [item for override in overrides(epochs) for item in ("--set", override)]
    return [
        *(cli or (sys.executable, "-m", "asib_sweeps.cli.sweep")), "beta", "--samples", str(trials),
        "--results", str(results), "--name", name, "--teacher-cache", str(cache), "--no-dashboard",
        "--cpus-per-trial", str(cpus), *sets,
    ]  # fmt: skip


def run_cli_without_actor_reuse(argv: list[str]) -> int:
    """asib-sweep with Tune's reuse_actors forced off (benchmark only: the sweep keeps it on)."""
    from ray import tune

    class NoActorReuse(tune.TuneConfig):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **{**kwargs, "reuse_actors": False})

    tune.TuneConfig = NoActorReuse  # sweep_runner reads tune.TuneConfig when it builds the Tuner
    from asib_sweeps.cli.sweep import main as cli_main

    return cli_main(argv)


def timed(command: list[str], log: Path, **env: str) -> float:
    started = time.perf_counter()
    with open(log, "w") as out:
        subprocess.run(command, env={**ENV, **env}, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - started


def run_sequential(cache: Path, trials: int, epochs: int) -> float:
    """The sequential side (run in its own process): the N beta trials back to back, no Ray.

    Returns the seconds spent in the runs themselves (process start and imports excluded).
    """
    from asib_sweeps.config import apply_overrides, default_config
    from asib_sweeps.teacher_cache import TeacherCache
    from asib_sweeps.training import TrainingRun
    from search_spaces import StudyOptions
    from search_spaces.beta import trials as beta_trials
    from search_spaces.study import teacher_keys_used

    base = apply_overrides(default_config("digits"), overrides(epochs))
    teachers = TeacherCache(cache)
    started = time.perf_counter()
    for trial in beta_trials(base, StudyOptions(samples=trials)):
        config = trial.config
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
    if sys.argv[1:3] == ["--side", "cli-no-reuse"]:  # the rest is asib-sweep's own argv
        sys.exit(run_cli_without_actor_reuse(sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=16, help="B-epochs per trial (plus one A-epoch per stage)")
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary one); keeps its teachers")
    parser.add_argument("--out", type=Path, help="write the measurements as JSON here")
    parser.add_argument(
        "--sides", help=f"comma-separated subset of: {', '.join(SIDES)} (default: all but the baseline)"
    )
    parser.add_argument("--baseline", type=Path, help="checkout whose asib-sweep the sweep_serial_base side runs")
    parser.add_argument("--side", choices=["sequential", "ray-start"], help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--serial-threads",
        type=int,
        choices=[1, 2],
        default=2,
        help="threads of the sequential side and CPUs per trial of the serial sweeps (1: --max-concurrent 1); "
        "1 is the better setting while other jobs load the cores (two spinning OpenMP threads then collapse)",
    )
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="config override for every run"
    )
    args = parser.parse_args()
    EXTRA_SETS[:] = args.sets
    if args.side == "sequential":
        print(run_sequential(args.cache, args.trials, args.epochs))
        return
    if args.side == "ray-start":
        print(json.dumps(time_ray_start()))
        return
    chosen = args.sides.split(",") if args.sides else [side for side in SIDES if side != "sweep_serial_base"]
    unknown = sorted(set(chosen) - set(SIDES))
    if unknown or ("sweep_serial_base" in chosen) != (args.baseline is not None):
        parser.error(f"--sides: unknown {unknown}" if unknown else "sweep_serial_base and --baseline go together")

    from analysis.results import read_results  # here: the --side processes below need neither it nor pandas

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
    sequential += ["--epochs", str(args.epochs), *(item for value in args.sets for item in ("--set", value))]
    run_id = time.strftime("%Y%m%d-%H%M%S")  # sweep names must be new: asib-sweep refuses to mix sweeps

    def sequential_side(threads: str) -> Callable[[int], tuple[float, float]]:
        def side(repeat: int) -> tuple[float, float]:
            log = work / f"sequential-{threads}-threads-{repeat}.log"
            wall = timed(sequential, log, **({"OMP_NUM_THREADS": threads} if threads == "1" else {}))
            return wall, last_line_number(log)

        return side

    def sweep_side(
        kind: str, cpus: int, *, cli: Sequence[str] = (), extra: Sequence[str] = (), env: dict[str, str] | None = None
    ) -> Callable[[int], tuple[float, float]]:
        def side(repeat: int) -> tuple[float, float]:
            name = f"{kind}-{run_id}-{repeat}"
            command = sweep_command(work, cache, name, trials=args.trials, epochs=args.epochs, cpus=cpus, cli=cli)
            if kind == "serial" and serial == 1:
                command += ["--max-concurrent", "1"]
            wall = timed([*command, *extra], work / f"{name}.log", **(env or {}))
            trials, _ = read_results(work / name)
            return wall, float(trials["wall_time_s"].sum())

        return side

    def ray_start(repeat: int) -> tuple[float, float]:
        output = subprocess.run([*me, "--side", "ray-start"], env=ENV, capture_output=True, text=True, check=True)
        seconds = float(output.stdout.strip().splitlines()[-1])
        return seconds, 0.0

    baseline = {"PYTHONPATH": str(args.baseline.resolve())} if args.baseline else {}
    serial = args.serial_threads  # the serial sweeps' trials: one at a time, with this many CPUs (threads) each
    one = ["--max-concurrent", "1"] if serial == 1 else []
    all_sides = {
        "sequential": sequential_side("all" if args.serial_threads == 2 else "1"),
        "sequential_1_thread": sequential_side("1"),
        "sweep_serial": sweep_side("serial", cpus=serial),
        "sweep_parallel": sweep_side("parallel", cpus=1),
        "sweep_serial_no_reuse": sweep_side("no-reuse", cpus=serial, cli=[*me, "--side", "cli-no-reuse"], extra=one),
        "sweep_serial_every_epoch": sweep_side("every-epoch", cpus=serial, extra=["--checkpoint-every-s", "0", *one]),
        "sweep_serial_base": sweep_side("base", cpus=serial, env=baseline, extra=one),
        "ray_start": ray_start,
    }
    sides = {name: all_sides[name] for name in SIDES if name in chosen}
    walls: dict[str, list[float]] = {name: [] for name in sides}
    trial_s: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    load_before = load_average()
    print(f"load average before: {load_before}", flush=True)
    for repeat in range(args.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            wall, in_trials = sides[name](repeat)
            walls[name].append(wall)
            trial_s[name].append(in_trials)
            print(f"repeat {repeat}: {name} {wall:.1f} s (in the runs: {in_trials:.1f} s), load {load_average()}",
                  flush=True)  # fmt: skip
    summary = summarise(args, walls, trial_s, load_before)
    print(json.dumps(summary, indent=2))
    print_verdicts(summary)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


def summarise(
    args: argparse.Namespace, walls: dict[str, list[float]], trial_s: dict[str, list[float]], load_before: str
) -> dict[str, object]:
    median = {name: statistics.median(values) for name, values in walls.items()}
    median_trials = {name: statistics.median(values) for name, values in trial_s.items() if name != "ray_start"}
    summary: dict[str, object] = {
        "trials": args.trials,
        "epochs_per_trial": args.epochs,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "wall_s": walls,
        "in_runs_s": trial_s,
        "median_wall_s": median,
        "median_in_runs_s": median_trials,
    }
    if "sequential" in median:
        summary["ratio_to_sequential"] = {
            name: median[name] / median["sequential"] for name in median if name.startswith("sweep_serial")
        }
        summary["in_runs_ratio_to_sequential"] = {
            name: median_trials[name] / median_trials["sequential"]
            for name in median
            if name.startswith("sweep_serial")
        }
    if "sweep_serial" in median:
        summary["fixed_cost_s"] = median["sweep_serial"] - median_trials["sweep_serial"]
    if {"sequential", "sweep_parallel"} <= set(median):
        summary["speedup_parallel"] = median["sequential"] / median["sweep_parallel"]
    if {"sequential_1_thread", "sweep_parallel"} <= set(median):
        summary["speedup_parallel_vs_1_thread"] = median["sequential_1_thread"] / median["sweep_parallel"]
    return summary


def print_verdicts(summary: dict[str, object]) -> None:
    median: dict[str, float] = summary["median_wall_s"]  # type: ignore[assignment]
    for name, ratio in summary.get("ratio_to_sequential", {}).items():  # type: ignore[union-attr]
        inside = summary["in_runs_ratio_to_sequential"][name]  # type: ignore[index]
        verdict = "met" if ratio <= 1.10 else "missed"
        print(f"{name}: {median[name]:.1f} s = {ratio:.2f} x sequential (target <= 1.10: {verdict}); "
              f"inside the runs {inside:.2f} x")  # fmt: skip
    if "fixed_cost_s" in summary:
        ray = f", Ray start {median['ray_start']:.1f} s" if "ray_start" in median else ""
        print(f"fixed cost of the serial sweep outside its trials: {summary['fixed_cost_s']:.1f} s "
              f"(interpreter, imports{ray}, Tune, worker start)")  # fmt: skip
    if "speedup_parallel" in summary:
        print(f"speed-up with 2 trials at once: {summary['speedup_parallel']:.2f} (target >= 1.7)")
    print(f"load average before {summary['load_average_before']}, after {summary['load_average_after']}")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
