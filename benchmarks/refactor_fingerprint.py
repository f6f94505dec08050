"""Before/after evidence for a refactor: every study's planned trials and fixed-seed digits runs.

A structural change must not change what a sweep runs or what a run computes. This
script writes both to one JSON file, from the checkout it runs in:

- `plans`: for each command line below, what the CLI's plan step produced (nothing
  runs): every trial's name, labels, extra values and full config, and every teacher
  the trials need (its cache key and config). Configs are dumped as JSON, so a renamed
  internal type does not show, but any changed value does.
- `runs`: each ablation rung, each reference arm and each method, trained in-process on
  the digits default at seed 0 for `--epochs` epochs from the benchmarks' teacher
  cache: every epoch's metrics that do not measure time or memory, as exact floats.

Run it in the old checkout and in the new one, then compare:

    python benchmarks/refactor_fingerprint.py --out before.json     # old checkout
    python benchmarks/refactor_fingerprint.py --out after.json      # new checkout
    python benchmarks/refactor_fingerprint.py --compare before.json after.json

`--compare` prints each differing plan or run and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

PLAN_COMMANDS: dict[str, list[str]] = {
    "finetune": ["finetune"],
    "ablation": ["ablation"],
    "ablation-tuned": ["ablation", "--config", "configs/digits/tuned-ablation.yaml", "--seeds", "5"],
    "ablation-one-split": ["ablation", "--set", "data.split_per_seed=false"],
    "beta": ["beta", "--samples", "4"],
    "sota": ["sota", "--seeds", "2"],
    "overlap": ["overlap", "--overlaps", "0", "50", "--seeds", "2"],
    "tune-ablation": ["tune", "ablation", "--budget", "2", "--selection-seeds", "2"],
    "tune-sota": ["tune", "sota", "--budget", "2", "--selection-seeds", "2", "--arms", "kd", "dkd"],
}
"""Command lines (after `asib-sweep`) whose plans are compared. `reproduce` is left out: its
plan needs the CIFAR-100 files, which this machine does not have."""

TIMING_WORDS = ("time", "seconds", "memory", "bytes", "_s")


def plan_fingerprint(argv: list[str], results: Path) -> dict[str, Any]:
    """The trials and teachers the CLI's plan step makes of `argv` (search_spaces.plan.SweepPlan).

    Before the plan existed, a `finetune` sweep's trials were its teachers and it recorded no
    study trials; the plan's `trials` for it are empty and its `teachers` the same list.
    """
    from asib_sweeps.cli.sweep import base_config, protocol_plan, request_from_argv
    from asib_sweeps.cli.sweep_options import study_options
    from search_spaces import get_study

    request, fail = request_from_argv([*argv, "--results", str(results), "--no-dashboard", "--track", "none"])
    study = get_study(request.study)
    config = base_config(request, fail)
    plan = protocol_plan(request, study, config, study_options(request, fail), fail)
    return {
        "trials": [trial_record(trial) for trial in plan.trials],
        "teachers": [trial_record(teacher) for teacher in plan.teachers],
    }


def trial_record(trial: Any) -> dict[str, Any]:
    return {
        "name": trial.name,
        "labels": json.loads(json.dumps(dict(trial.labels), default=str)),
        "extra": json.loads(json.dumps(dict(trial.extra), default=str)),
        "config": trial.config.model_dump(mode="json"),
    }


def run_arms() -> list[str]:
    from asib_sweeps.catalog.methods import method_names
    from asib_sweeps.presets import PRESETS

    return [*PRESETS, *(name for name in method_names() if name not in PRESETS)]


def run_fingerprint(arm: str, epochs: int) -> list[dict[str, float]]:
    """Every epoch's metrics of one fixed-seed digits run, timing and memory left out."""
    from digits_runs import Job, run_job

    outcome = run_job(Job(arm=arm, overrides=(f"epochs={epochs}",), seed=0))
    return [
        {key: value for key, value in row.items() if not any(word in key for word in TIMING_WORDS)}
        for row in outcome.history
    ]


def fingerprint(epochs: int) -> dict[str, Any]:
    from digits_runs import ensure_teachers

    with tempfile.TemporaryDirectory() as folder:
        plans = {name: plan_fingerprint(argv, Path(folder)) for name, argv in PLAN_COMMANDS.items()}
    ensure_teachers((f"epochs={epochs}",))
    runs = {arm: run_fingerprint(arm, epochs) for arm in run_arms()}
    return {"plans": plans, "runs": runs, "epochs": epochs}


def compare(before: dict[str, Any], after: dict[str, Any]) -> int:
    """Print what differs between two fingerprints; the number of differing plans and runs."""
    differences = 0
    for kind in ("plans", "runs"):
        for name in sorted(set(before[kind]) | set(after[kind])):
            if before[kind].get(name) != after[kind].get(name):
                differences += 1
                print(f"{kind[:-1]} {name}: differs")
    counts = {kind: len(before[kind]) for kind in ("plans", "runs")}
    print(f"{differences} differences over {counts['plans']} plans and {counts['runs']} runs")
    return differences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(path.read_text()) for path in args.compare)
        return 1 if compare(before, after) else 0
    result = fingerprint(args.epochs)
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
