"""Talking to SLURM from the login node: sbatch, and the state of a sweep's jobs.

Every command is an argument list (no shell). The ids of the jobs submitted for a
sweep are appended to `<sweep>/slurm/jobs.txt`, so `asib-sweep status` finds them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

JOBS_FILE = "jobs.txt"
ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING"})
"""Job states in which the job may still (again) drive its sweep."""


class SubmitError(RuntimeError):
    """sbatch is missing or refused the script; the message holds SLURM's own words."""


def submit(script: Path) -> int:
    """`sbatch --parsable SCRIPT`; returns the job id."""
    if shutil.which("sbatch") is None:
        raise SubmitError("sbatch is not on PATH: submit from a SLURM login node, or pass --no-submit")
    completed = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SubmitError(f"sbatch refused {script}: {completed.stderr.strip() or completed.stdout.strip()}")
    return int(completed.stdout.strip().split(";")[0])


def record_job(slurm_dir: Path, job_id: int) -> None:
    slurm_dir.mkdir(parents=True, exist_ok=True)
    with open(slurm_dir / JOBS_FILE, "a") as jobs:
        jobs.write(f"{job_id}\n")


def recorded_jobs(slurm_dir: Path) -> list[int]:
    """The sweep's job ids, oldest first ([] when it was never submitted)."""
    path = slurm_dir / JOBS_FILE
    return [int(line) for line in path.read_text().split()] if path.is_file() else []


def job_state(job_id: int) -> str | None:
    """PENDING, RUNNING, COMPLETED, ...: from squeue while the job is queued, then scontrol, then sacct."""
    for argv, parse in (
        (["squeue", "--noheader", "--jobs", str(job_id), "--format=%T"], _first_word),
        (["scontrol", "show", "job", str(job_id)], _scontrol_state),
        (["sacct", "--noheader", "--allocations", "--jobs", str(job_id), "--format=State"], _first_word),
    ):
        if shutil.which(argv[0]) is None:
            continue
        completed = subprocess.run(argv, capture_output=True, text=True, check=False)
        state = parse(completed.stdout) if completed.returncode == 0 else None
        if state:
            return state
    return None


def head_node(job_id: int) -> str | None:
    """The job's first node (where the Ray head runs), while SLURM still lists the job."""
    completed = subprocess.run(
        ["squeue", "--noheader", "--jobs", str(job_id), "--format=%N"], capture_output=True, text=True, check=False
    )
    nodes = completed.stdout.strip() if completed.returncode == 0 else ""
    if not nodes or nodes.startswith("("):
        return None
    listed = subprocess.run(["scontrol", "show", "hostnames", nodes], capture_output=True, text=True, check=False)
    return (listed.stdout.split() or [None])[0]


def _first_word(text: str) -> str | None:
    words = text.split()
    return words[0] if words else None


def _scontrol_state(text: str) -> str | None:
    for word in text.split():
        if word.startswith("JobState="):
            return word.removeprefix("JobState=")
    return None
