"""What each experiment tracker (`asib-sweep --track`) costs a sweep, against no tracker.

TensorBoard is on by default (as Ray Tune's own default always had it); the issue's rule
is that it stays so only if it costs nothing measurable. Each side is one fresh
`asib-sweep beta` process, timed from start to exit, with the same N trials, warm
teachers (fine-tuned once, untimed, in a shared cache), one trial at a time on two CPUs
(`--max-concurrent 1 --cpus-per-trial 2`, so the TPE search, seeded by the config,
proposes the same betas on every side):

- none:        `--track none`
- tensorboard: `--track tensorboard` (the default)
- mlflow:      `--track mlflow` (SQLite store under the sweep)
- wandb:       `--track wandb` (offline), when wandb is installed

Sides are interleaved and rotated in each repeat (A B C, B C A, ...) and the median,
min and max wall time of each is printed with its ratio to `none`, and the load average
before and after, as the machine may be shared. Digits' epochs last about a second, so
a per-report cost shows here far more than on real data; `--set epochs=N` changes the
number of reports per trial. Nothing here is a pass/fail test: it prints (and with
--out writes JSON).

    python benchmarks/tracker_overhead.py [--trials 6] [--repeats 5] [--sides none,tensorboard,mlflow]
        [--work DIR] [--out FILE.json] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "WANDB_MODE": "offline"}
SIDES = ("none", "tensorboard", "mlflow", "wandb")


def sweep_command(side: str, results: Path, teachers: Path, trials: int, overrides: list[str]) -> list[str]:
    sets = [item for override in overrides for item in ("--set", override)]
    return [
        sys.executable, "-m", "asib_sweeps.cli.sweep", "beta", "--samples", str(trials), "--cpus-per-trial", "2", "--max-concurrent", "1",
        "--no-dashboard", "--results", str(results), "--teacher-cache", str(teachers), "--track", side, *sets,
    ]  # fmt: skip


def timed_run(command: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {completed.returncode}:\n{completed.stdout[-3000:]}")
    return elapsed


def measure(sides: list[str], *, trials: int, repeats: int, work: Path, overrides: list[str]) -> dict[str, list[float]]:
    """Wall seconds per side, the sides rotated in each repeat."""
    teachers = work / "teachers"
    print("warm-up (fine-tunes the teachers, untimed)", flush=True)
    timed_run(sweep_command("none", work / "warm-up", teachers, 1, overrides))
    times: dict[str, list[float]] = {side: [] for side in sides}
    for repeat in range(repeats):
        order = sides[repeat % len(sides) :] + sides[: repeat % len(sides)]
        for side in order:
            seconds = timed_run(sweep_command(side, work / f"{side}-{repeat}", teachers, trials, overrides))
            times[side].append(seconds)
            print(f"repeat {repeat} {side}: {seconds:.1f} s", flush=True)
    return times


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    base = statistics.median(times["none"]) if times.get("none") else float("nan")
    return {
        side: {
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
            "ratio_to_none": statistics.median(values) / base,
        }
        for side, values in times.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    available = [side for side in SIDES if side != "wandb" or importlib.util.find_spec("wandb") is not None]
    parser.add_argument("--sides", default=",".join(available), help=f"comma-separated, of {', '.join(SIDES)}")
    parser.add_argument("--work", type=Path, help="folder for the sweeps (default: a temporary one)")
    parser.add_argument("--out", type=Path, help="also write the times and the summary as JSON")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    sides = args.sides.split(",")
    unknown = sorted(set(sides) - set(SIDES))
    if unknown or "none" not in sides:
        parser.error(f"--sides must include none and name only {', '.join(SIDES)}; got {args.sides}")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tracker-overhead-") as temporary:
        work = args.work or Path(temporary)
        times = measure(sides, trials=args.trials, repeats=args.repeats, work=work, overrides=args.overrides)
    load_after = os.getloadavg()
    table = summary(times)
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} CPUs)")
    print(f"{'side':<12} {'median s':>9} {'min s':>7} {'max s':>7} {'/ none':>7}")
    for side, row in table.items():
        print(f"{side:<12} {row['median_s']:9.1f} {row['min_s']:7.1f} {row['max_s']:7.1f} {row['ratio_to_none']:7.3f}")
    if args.out:
        args.out.write_text(json.dumps({"times": times, "summary": table, "load": [load_before, load_after]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
