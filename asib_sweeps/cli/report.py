"""asib-report: summarise the results tables a sweep wrote.

For now a text summary per study (trials per status, and per arm the count, mean and
std of the final and best-validation test accuracy over finished trials); the HTML
report comes later.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.results import find_result_dirs, read_results
from analysis.summary import arm_summary, status_counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asib-report",
        description="Summarise sweep results: trials.parquet and epochs.parquet under DIR "
        "(DIR itself or any folder below it).",
    )
    parser.add_argument("results", type=Path, metavar="DIR", help="results directory of one or more sweeps")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.results.is_dir():
        print(f"asib-report: DIR must be a directory; got {args.results}", file=sys.stderr)
        return 2
    result_dirs = find_result_dirs(args.results)
    if not result_dirs:
        print(f"asib-report: no trials.parquet in or below {args.results}", file=sys.stderr)
        return 1
    for result_dir in result_dirs:
        trials, _ = read_results(result_dir)
        print(format_summary(result_dir, trials))
    return 0


def format_summary(result_dir: Path, trials: pd.DataFrame) -> str:
    """The text block printed for one results directory."""
    counts = ", ".join(f"{status} {count}" for status, count in status_counts(trials).items())
    lines = [f"{result_dir}: {len(trials)} trials ({counts})"]
    summary = arm_summary(trials)
    if summary.empty:
        lines.append("  no finished trials yet")
    else:
        lines.append(summary.to_string(index=False, float_format=lambda value: f"{value:.4f}"))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
