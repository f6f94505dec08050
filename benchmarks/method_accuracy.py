"""The ablation and SOTA tables on the digits default: arms x report seeds, paired to ce.

Every arm runs over the same seeds with the same teachers and data (in-process, the
code path of a sweep's trial without Ray; `benchmarks/digits_runs.py`). For each arm:
test accuracy at the best-validation epoch and at the final epoch (mean ± std over
seeds), the paired difference to ce (same seed), the synergy's validation accuracy at
the end of its last synergy epoch before the student's first one (ASIB), and the
budget: student epochs, synergy-only epochs and their training seconds.

    python benchmarks/method_accuracy.py --arms ce avg_kd baseline full --seeds 0 1 2 3 4 \
        [--set data.student_train_size=150] [--save runs.json]
    python benchmarks/method_accuracy.py --load a.json b.json     # one table from saved runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # analysis/, when run as a script

from analysis.tables import phase_budget  # noqa: E402
from digits_runs import Job, mean_std, run_jobs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", default=["ce", "kd", "avg_kd", "baseline", "full"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", type=Path, help="write every run's summary to this JSON file")
    parser.add_argument("--load", type=Path, nargs="+", help="print the table of saved runs instead of running")
    parser.add_argument("--paired-to", nargs="+", default=[], metavar="ARM",
                        help="also print each arm's paired differences (test and val) to these arms")
    args = parser.parse_args()
    if args.load:
        rows = [row for path in args.load for row in json.loads(path.read_text())]
    else:
        jobs = [Job(arm, tuple(args.overrides), seed) for seed in args.seeds for arm in args.arms]
        rows = [_summary(outcome) for outcome in run_jobs(jobs, workers=args.workers)]
        if args.save:
            args.save.write_text(json.dumps(rows, indent=1))
    print_table(rows)
    for reference in args.paired_to:
        print_paired(rows, reference)


def _summary(outcome) -> dict:
    history = outcome.history
    first_student = next(i for i, row in enumerate(history) if row["phase"] in ("joint", "B"))
    synergy_before = history[first_student - 1].get("synergy_acc") if first_student > 0 else None
    teachers = [history[-1][key] for key in sorted(history[-1]) if key.startswith("teacher") and key.endswith("_test_acc")]
    return {
        "arm": outcome.job.arm,
        "overrides": list(outcome.job.overrides),
        "seed": outcome.job.seed,
        "test_acc_best_val": outcome.test_acc_best_val,
        "test_acc_final": outcome.test_acc_final,
        "val_acc_best": outcome.val_acc_best,
        "synergy_acc_before_student": synergy_before,
        "teacher_test_accs": teachers,
        **phase_budget(history),
    }


def print_table(rows: list[dict]) -> None:
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    by_arm = {arm: {row["seed"]: row for row in rows if row["arm"] == arm} for arm in arms}
    reference = by_arm.get("ce", {})
    print("| arm | n | best val acc | best-val test acc | final test acc | paired diff to ce "
          "| synergy val acc before student | student / synergy-only epochs | train s (student + synergy-only) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arm in arms:
        runs = list(by_arm[arm].values())
        best = [r["test_acc_best_val"] for r in runs]
        final = [r["test_acc_final"] for r in runs]
        paired = [r["test_acc_best_val"] - reference[r["seed"]]["test_acc_best_val"] for r in runs if r["seed"] in reference]
        diff = mean_std(paired) if paired and arm != "ce" else "—"
        synergy = [r["synergy_acc_before_student"] for r in runs if r["synergy_acc_before_student"] is not None]
        synergy_text = mean_std(synergy) if synergy else "—"
        epochs = f"{runs[0]['student_epochs']} / {runs[0]['synergy_only_epochs']}"
        seconds = statistics.median(r["student_time_s"] + r["synergy_only_time_s"] for r in runs)
        validation = mean_std([r["val_acc_best"] for r in runs])
        print(f"| {arm} | {len(runs)} | {validation} | {mean_std(best)} | {mean_std(final)} | {diff} | {synergy_text} | {epochs} "
              f"| {seconds:.1f} |")


def print_paired(rows: list[dict], reference: str) -> None:
    """Each arm minus `reference` on the same seed: mean ± std, standard error, seeds ahead; test and val."""
    by_arm = {arm: {row["seed"]: row for row in rows if row["arm"] == arm} for arm in dict.fromkeys(r["arm"] for r in rows)}
    if reference not in by_arm:
        raise SystemExit(f"--paired-to {reference}: no runs of that arm among {sorted(by_arm)}")
    print(f"\n| arm | n | paired diff to {reference}, test | paired diff to {reference}, val |")
    print("|---|---|---|---|")
    for arm, runs in by_arm.items():
        seeds = sorted(set(runs) & set(by_arm[reference]))
        if arm == reference or not seeds:
            continue
        cells = []
        for key in ("test_acc_best_val", "val_acc_best"):
            diffs = [runs[seed][key] - by_arm[reference][seed][key] for seed in seeds]
            error = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
            cells.append(f"{mean_std(diffs)} (s.e. {100 * error:.2f}; ahead on {sum(d > 0 for d in diffs)})")
        print(f"| {arm} | {len(seeds)} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
