"""Real SLURM (the single-node cluster .ci/start_slurm.sh boots): `asib-sweep ablation --cluster`
submits a job that boots Ray and runs the study; a job stopped by the time-limit signal requeues
and resumes to every trial exactly once.

The tests skip only where `sbatch` is absent; with sbatch present, a SLURM that does not
run them is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_sweep_processes import fetch

from analysis.results import read_results
from cluster.ray_nodes import job_ports
from cluster.slurm_submit import job_state

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("sbatch") is None, reason="sbatch not installed (.ci/start_slurm.sh installs and starts SLURM)"
    ),
]

REPO = Path(__file__).resolve().parents[1]
TINY = [
    *("--set", "epochs=2", "--set", "method.asib.stages=2", "--set", "teacher_recipe.epochs=2"),
    *("--set", "method.asib.synergy_warmup_steps=5", "--set", "method.asib.a_min_steps=0", "--seeds", "1"),
]
"""Tiny study settings; `--seeds 1` also keeps the in-allocation finetune to the ablation's two teachers
(under data.split_per_seed each seed fits its own)."""
CUT_TRIALS = ["--set", "epochs=8"]
"""The cut job's trials: long enough that the cut lands mid-sweep, short enough that little is left to
run after the restart. The cut comes once a finished trial shows in trials.parquet, which lags its end by
up to ~15 s (Tune saves its experiment state every >= 10 s; the tables are rewritten at most every 5 s).
With 8 epochs the first pair (baseline, ib) ends ~10 s into the sweep and the whole sweep takes ~35 s
(three ASIB rungs of 16 reported epochs each), so the cut leaves trials unfinished (asserted) with some
20 s to spare; at 6 epochs a measured cut left only ~10 s. 12 epochs (test_sweep_processes'
LONGER_TRIALS) made the resumed half alone take ~50 s."""
POLL_S = 0.5
"""Between two looks at a job's state: squeue answers in milliseconds."""
REVOKED_CREDENTIAL_S = 1.1
"""From seeing a requeued job PENDING to starting it: past the second in which the requeue revoked its credential."""
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL"}


def env() -> dict[str, str]:
    """This checkout's code in the job (sbatch exports the environment), no Ray settings of ours."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**clean, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}


def asib_sweep(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asib_sweeps.cli.sweep", *argv], cwd=REPO, env=env(), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def submit(cluster: Path, *argv: str) -> int:
    submitted = asib_sweep("ablation", "--cluster", str(cluster), *TINY, *argv)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    return int(re.search(r"submitted job (\d+)", submitted.stdout).group(1))


def wait_for(job_id: int, states: set[str], *, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = job_state(job_id)
        if state in states:
            return state
        time.sleep(POLL_S)
    subprocess.run(["scancel", str(job_id)], check=False)
    raise AssertionError(f"job {job_id} not in {sorted(states)} within {timeout_s} s (last: {state})")


def scontrol(job_id: int) -> str:
    return subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("slurm")
    (root / "slurm.yaml").write_text(
        yaml.safe_dump(
            {
                "cpus_per_node": min(2, os.cpu_count() or 1),
                "time": "00:20:00",
                "stop_grace_s": 30,
                "results": str(root / "results"),
                "job_name": "asib-test",
                "ray": {"join_timeout_s": 120},
            }
        )
    )
    return root


def dashboard_answers(port: int, token: str) -> tuple[int, int] | None:
    """The job's Jobs API without and with the token, or None while nothing answers on the port."""
    url = f"http://127.0.0.1:{port}/api/jobs/"
    try:
        return fetch(url), fetch(url, token)
    except (urllib.error.URLError, OSError):
        return None


@pytest.fixture(scope="module")
def finished_job(workspace) -> tuple[int, float, tuple[int, int] | None]:
    """The ablation submitted and run to its end: its job id, wall time and how its dashboard answered."""
    started = time.monotonic()
    job_id = submit(workspace / "slurm.yaml", "--teacher-cache", str(workspace / "teachers"))
    token = (workspace / "results" / "ablation" / "slurm" / "ray_auth_token").read_text().strip()
    port = job_ports(job_id, port_base=20000).dashboard
    answers = None
    deadline = time.monotonic() + 900
    while job_state(job_id) not in ENDED:
        assert time.monotonic() < deadline, scontrol(job_id)
        if answers is None or answers[1] != 200:
            answers = dashboard_answers(port, token) or answers
        time.sleep(2)
    assert job_state(job_id) == "COMPLETED", scontrol(job_id)
    return job_id, time.monotonic() - started, answers


def test_a_submitted_study_runs_in_the_job_and_writes_its_tables(workspace, finished_job):
    job_id, wall_s, dashboard = finished_job
    print(f"SLURM job {job_id}: ablation submitted to completed in {wall_s:.0f} s")
    assert dashboard == (401, 200)  # the job's dashboard answered on loopback, and only with the token
    sweep = workspace / "results" / "ablation"
    trials, epochs = read_results(sweep)
    assert len(trials) == 7 and trials["trial_id"].is_unique and (trials["status"] == "TERMINATED").all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and trials["epochs_done"].sum() == len(epochs)
    assert len(list((workspace / "teachers").iterdir())) == 2  # the teacher cache on the shared results side
    assert "ExitCode=0:0" in scontrol(job_id)
    log = (sweep / "slurm" / f"job-{job_id}.log").read_text()
    port = job_ports(job_id, port_base=20000).dashboard
    assert f"dashboard: on localhost at 127.0.0.1:{port} only; open it with: ssh -N -L {port}:127.0.0.1:{port}" in log
    assert f"dashboard token: in {sweep / 'slurm' / 'ray_auth_token'}" in log
    assert "all 1 Ray node(s) joined" in log and "study ablation: 7 trials on Ray at" in log
    assert "sweep driver exited with code 0" in log
    # No traceback, except one Ray prints when it SIGTERMs an idle worker of the finished
    # teacher experiment at the moment it runs a weakref callback (seen once in CI, load ~10).
    tracebacks = log.split("Traceback (most recent call last):")[1:]
    assert not [text for text in tracebacks if "in sigterm_handler" not in text.split("== Status ==")[0]], log
    assert (sweep / "slurm" / "ray_auth_token").stat().st_mode & 0o777 == 0o600
    assert not Path(f"/tmp/ray-{job_id}-0").exists()  # the job removed its Ray temp dir
    status = asib_sweep("status", str(sweep))
    assert status.returncode == 0
    assert f"SLURM job {job_id}: COMPLETED" in status.stdout and "7 TERMINATED, 0 ERROR" in status.stdout
    assert "best arm so far:" in status.stdout and f"next: asib-report {sweep}" in status.stdout


def test_the_time_limit_signal_saves_requeues_and_resumes_every_trial_once(workspace, finished_job):
    sweep = workspace / "results" / "cut"
    # Trials long enough that the others still run once the first shows as finished (CUT_TRIALS).
    job_id = submit(
        workspace / "slurm.yaml", "--name", "cut", "--teacher-cache", str(workspace / "teachers"), *CUT_TRIALS
    )
    deadline = time.monotonic() + 600
    while True:  # until some trials finished, the others not
        assert time.monotonic() < deadline and job_state(job_id) not in ENDED, scontrol(job_id)
        if (sweep / "trials.parquet").is_file():
            before, _ = read_results(sweep)
            if (before["status"] == "TERMINATED").sum() >= 1:
                break
        time.sleep(POLL_S)
    # What SLURM sends at the time limit (--signal=B:USR1@grace): USR1 to the batch step only.
    subprocess.run(
        ["scancel", "--batch", f"--signal={signal.SIGUSR1.name.removeprefix('SIG')}", str(job_id)], check=True
    )
    wait_for(job_id, {"PENDING"}, timeout_s=180)
    log_path = sweep / "slurm" / f"job-{job_id}.log"
    first_run = log_path.read_text()
    assert "USR1 received" in first_run and f"requeueing job {job_id}" in first_run
    saved, saved_epochs = read_results(sweep)
    assert (saved["status"] == "TERMINATED").sum() < 7, "the job finished before the signal; nothing was cut"
    # SLURM holds a requeued job back for a while (BeginTime); start it now, but in a later second than
    # the requeue: slurmd refuses a credential issued in the second its job's last one was revoked ("Job
    # credential revoked", the job FAILED at once; seen when the restart followed the requeue within 0.7 s).
    time.sleep(REVOKED_CREDENTIAL_S)
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)
    assert wait_for(job_id, ENDED, timeout_s=600) == "COMPLETED", scontrol(job_id)
    assert "Restarts=1" in scontrol(job_id)
    log = log_path.read_text()
    assert f"job {job_id} (restart 1)" in log and "resuming" in log

    trials, epochs = read_results(sweep)
    assert len(trials) == 7 and trials["trial_id"].is_unique and (trials["status"] == "TERMINATED").all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and trials["epochs_done"].sum() == len(epochs)
    finished = set(saved.loc[saved["status"] == "TERMINATED", "trial_id"])
    old = (
        saved_epochs[saved_epochs["trial_id"].isin(finished)].sort_values(["trial_id", "epoch"]).reset_index(drop=True)
    )
    new = epochs[epochs["trial_id"].isin(finished)].sort_values(["trial_id", "epoch"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(old, new[old.columns])  # finished trials were not run again


def test_inside_an_allocation_the_same_command_boots_ray_there_and_submits_nothing(workspace, finished_job):
    inside = subprocess.run(
        [
            "srun", "--ntasks=1", f"--cpus-per-task={min(2, os.cpu_count() or 1)}", "--time=5",
            sys.executable, "-m", "asib_sweeps.cli.sweep", "finetune", "--cluster", str(workspace / "slurm.yaml"),
            "--name", "inside", "--teacher-cache", str(workspace / "teachers"), *TINY,
        ],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert inside.returncode == 0, inside.stdout[-3000:] + inside.stderr[-3000:]
    assert "inside SLURM job" in inside.stdout and "submitting nothing" in inside.stdout
    assert "all 1 Ray node(s) joined" in inside.stdout
    assert "teachers: 0 to fine-tune, 2 cached in" in inside.stdout  # the ablation's teachers, same keys
    assert "every teacher was already in the cache; nothing to run" in inside.stdout  # the cached teachers
    assert not (workspace / "results" / "inside" / "slurm" / "jobs.txt").exists()
