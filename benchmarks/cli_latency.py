"""How long the CLI takes to answer when it runs nothing: `--help` and `--dry-run`.

Three commands, each a fresh process timed from start to exit:

- `asib-sweep --help`            target <= 1 s
- `asib-sweep ablation --help`   target <= 1 s
- `asib-sweep ablation --dry-run` (the default digits ablation, a fresh results folder)
                                 target <= 2 s

Before timing, each command runs once untimed (so the file cache is warm for every
side alike) and once under `python -X importtime`, which says whether it imported
torch, ray, timm or torchvision and how long its imports took. Then the commands are
interleaved, rotated in each repeat, and the median, min and max of each are printed
against its target; the load average is printed before and after, since this machine
is shared. Nothing here is a pass/fail test: it only prints (and with --out writes
JSON).

    python benchmarks/cli_latency.py [--repeats 7] [--out FILE.json] [--baseline DIR]

With `--baseline DIR` (another checkout, e.g. `git worktree add /tmp/base <commit>`)
every command is also run from DIR (PYTHONPATH=DIR), interleaved with the current
code's, so a before/after comes from one run on the same machine load.

The command is the `asib-sweep` script beside this interpreter (the installed entry
point), or `python -m asib_sweeps.cli.sweep` where there is none (or with --module).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "ray", "timm", "torchvision", "pydantic", "optuna", "pandas", "pyarrow", "sklearn")
"""Top-level packages whose import is reported per command."""
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def cli_prefix(*, module: bool) -> list[str]:
    script = Path(sys.executable).parent / "asib-sweep"
    if module or not script.is_file():
        return [sys.executable, "-m", "asib_sweeps.cli.sweep"]
    return [sys.executable, str(script)]  # the entry point, run by this interpreter (so -X works too)


def commands(prefix: list[str], results: Path) -> dict[str, tuple[list[str], float]]:
    """name -> (argv, target in seconds)."""
    return {
        "help": ([*prefix, "--help"], 1.0),
        "ablation_help": ([*prefix, "ablation", "--help"], 1.0),
        "ablation_dry_run": ([*prefix, "ablation", "--dry-run", "--results", str(results)], 2.0),
    }


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {completed.returncode}:\n{completed.stderr}")
    return elapsed


IMPORT_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)")


def imports(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Which HEAVY packages `argv` imports, their cumulative import times, and all imports' total (s)."""
    completed = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    cumulative: dict[str, float] = {}
    total_us = 0
    for line in completed.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match is None:
            continue
        own_us, cumulative_us, name = int(match[1]), int(match[2]), match[3]
        total_us += own_us
        top = name.split(".")[0]
        if top in HEAVY and name == top:  # the package itself, wherever it was first imported from
            cumulative[top] = max(cumulative.get(top, 0.0), cumulative_us / 1e6)
    return {"imported": sorted(cumulative), "import_s": cumulative, "all_imports_s": total_us / 1e6}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each command (default 7, at least 5)")
    parser.add_argument("--module", action="store_true", help="time `python -m asib_sweeps.cli.sweep`")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--baseline", type=Path, help="also run every command from this checkout, interleaved")
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error(f"--repeats must be >= 5, got --repeats={args.repeats}")

    with tempfile.TemporaryDirectory(prefix="cli-latency-") as folder:
        sides = commands(cli_prefix(module=args.module), Path(folder) / "results")
        envs = {name: ENV for name in sides}
        if args.baseline is not None:
            base_env = {**ENV, "PYTHONPATH": str(args.baseline.resolve())}
            for name, (argv, target) in list(sides.items()):
                sides[f"{name}_base"] = ([*argv[:-1], f"{argv[-1]}-base"] if "--results" in argv else argv, target)
                envs[f"{name}_base"] = base_env
        load_before = load_average()
        print(f"load average before: {load_before}", flush=True)
        found = {}
        for name, (argv, _) in sides.items():
            timed(argv, envs[name])  # untimed warm-up: the file cache holds the same files for every side
            found[name] = imports(argv, envs[name])
            heavy = ", ".join(f"{p} {found[name]['import_s'][p]:.2f} s" for p in found[name]["imported"]) or "none"
            print(f"{name}: imports {found[name]['all_imports_s']:.2f} s in all; of {', '.join(HEAVY)}: {heavy}")
        walls: dict[str, list[float]] = {name: [] for name in sides}
        names = list(sides)
        for repeat in range(args.repeats):
            order = names[repeat % len(names) :] + names[: repeat % len(names)]
            for name in order:
                walls[name].append(timed(sides[name][0], envs[name]))
        load_after = load_average()

    print(f"\n{args.repeats} interleaved repeats; load average after: {load_after}")
    print(f"{'command':<25} {'median':>8} {'min':>7} {'max':>7} {'target':>7}  verdict")
    summary: dict[str, object] = {
        "command": " ".join(cli_prefix(module=args.module)),
        "baseline": str(args.baseline) if args.baseline else None,
        "repeats": args.repeats,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpus": os.cpu_count(),
        "commands": {},
    }
    for name, (argv, target) in sides.items():
        median = statistics.median(walls[name])
        verdict = "met" if median <= target else f"missed by {median - target:.2f} s"
        low, high = min(walls[name]), max(walls[name])
        print(f"{name:<25} {median:>7.2f}s {low:>6.2f}s {high:>6.2f}s {target:>6.1f}s  {verdict}")
        summary["commands"][name] = {  # type: ignore[index]
            "argv": argv[1:],
            "wall_s": walls[name],
            "median_s": median,
            "target_s": target,
            **found[name],
        }
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
