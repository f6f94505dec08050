"""`asib-sweep status <results>/<name>`: where a sweep stands, read from its files and SLURM, no Ray needed.

Prints the state of the sweep's latest SLURM job (when it was submitted with
--cluster), the study's trial counts by status, the best arm so far (highest mean
test accuracy at the best validation epoch, over finished trials) and the command
that follows or continues it.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from cluster.slurm_submit import ACTIVE_STATES, job_state, recorded_jobs

NAME = "status"
COMMAND_FILE = "command.txt"
"""Written beside the job script at submission: the asib-sweep command line that submitted it."""


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    sub = subcommands.add_parser(NAME, help="a sweep's SLURM job state, trial counts and best arm so far")
    sub.add_argument("sweep_dir", type=Path, metavar="SWEEP_DIR", help="the sweep's folder, <results>/<name>")


def run(args: argparse.Namespace) -> int:
    sweep_dir: Path = args.sweep_dir
    if not sweep_dir.is_dir():
        print(f"asib-sweep status: error: no sweep folder {sweep_dir}")
        return 2
    print(f"sweep: {sweep_dir}")
    active = print_job(sweep_dir)
    finished = print_trials(sweep_dir)
    print_next(sweep_dir, active=active, finished=finished)
    return 0


def print_job(sweep_dir: Path) -> bool:
    """The latest job's state; True while it is queued or running."""
    from cluster.slurm_script import LOG_PATTERN  # here, not at the top: `asib-sweep --help` imports this module

    jobs = recorded_jobs(sweep_dir / "slurm")
    if not jobs:
        print("SLURM job: none (not submitted with --cluster)")
        return False
    job_id = jobs[-1]
    state = job_state(job_id) or "unknown to SLURM now (finished long ago?)"
    log = sweep_dir / "slurm" / LOG_PATTERN.replace("%j", str(job_id))
    earlier = f"; earlier jobs {', '.join(map(str, jobs[:-1]))}" if len(jobs) > 1 else ""
    print(f"SLURM job {job_id}: {state}; log {log}{earlier}")
    return state in ACTIVE_STATES


def print_trials(sweep_dir: Path) -> bool:
    """Trial counts by status and the best arm so far; True when every trial in the table ended."""
    from analysis.results import TRIALS_FILE, IncompatibleResultsError, read_results
    from analysis.summary import arm_table, percent, status_counts

    if not (sweep_dir / TRIALS_FILE).is_file():
        print("trials: none recorded yet")
        return False
    try:
        trials, _ = read_results(sweep_dir)
    except (FileNotFoundError, IncompatibleResultsError) as error:
        print(f"trials: unknown, the tables cannot be read: {error}")
        return False
    counts = status_counts(trials)
    print("trials: " + ", ".join(f"{count} {status}" for status, count in counts.items()) + f" ({len(trials)} in all)")
    summary = arm_table(trials)
    if summary.empty:
        print("best arm so far: none finished yet")
    else:
        best = summary.sort_values("test_acc_best_val_mean", ascending=False).iloc[0]
        print(
            f"best arm so far: {best['arm']} (test acc at best val {percent(best['test_acc_best_val_mean'])}"
            f" over {int(best['n'])} finished trial(s))"
        )
    return bool(len(trials)) and counts.get("RUNNING", 0) == 0 and counts.get("PENDING", 0) == 0


def print_next(sweep_dir: Path, *, active: bool, finished: bool) -> None:
    from cluster.slurm_script import LOG_PATTERN

    jobs = recorded_jobs(sweep_dir / "slurm")
    if active:
        log = sweep_dir / "slurm" / LOG_PATTERN.replace("%j", str(jobs[-1]))
        print(f"follow: tail -f {log}    cancel: scancel {jobs[-1]}")
        return
    command_file = sweep_dir / "slurm" / COMMAND_FILE
    command = shlex.split(command_file.read_text()) if command_file.is_file() else None
    if finished:
        print(f"next: asib-report {sweep_dir}")
    elif command is not None:
        resume = [*command, "--resume"] if "--resume" not in command else command
        print(f"continue or rerun its missing trials: {shlex.join(resume)}")
    else:
        print("continue it: the command that started it, plus --resume")
