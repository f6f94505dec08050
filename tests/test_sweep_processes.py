"""asib-sweep as separate processes: a driver killed mid-sweep and resumed, and the dashboard's security.

Each test starts its own Ray in a child process it owns (a new session), and ends
every process of that session by id, also after a hard kill.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from analysis.results import read_results

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TINY = [
    *("--set", "epochs=2", "--set", "method.asib.stages=2", "--set", "teacher_recipe.epochs=2"),
    *("--set", "method.asib.synergy_warmup_steps=5", "--set", "method.asib.a_min_steps=0"),
]


LONGER_TRIALS = ["--set", "epochs=12"]
"""For a stop signal that must land mid-sweep: trials long enough that, after the first one
shows as finished in trials.parquet (Tune copies results to storage every ~10 s), the others
are still running. With 2-epoch trials an ablation's 7 take ~20 s, within that lag."""


def child_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    return {**env, "RAY_USAGE_STATS_ENABLED": "0", **extra}


def end_process_tree(process: subprocess.Popen, family: set[int]) -> None:
    """SIGKILL the child's session and any process of `family` (its descendants) still alive."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from the parent ids in /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_for_finished_trials(
    results: Path, *, at_least: int, process: subprocess.Popen, timeout_s: float
) -> pd.DataFrame:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the driver exited before the test could kill it"
        if (results / "ablation" / "trials.parquet").is_file():
            trials, _ = read_results(results / "ablation")
            if (trials["status"] == "TERMINATED").sum() >= at_least:
                return trials
        time.sleep(0.5)
    raise AssertionError(f"fewer than {at_least} trials finished within {timeout_s} s")


def test_a_killed_driver_resumes_to_completion_without_rerunning_or_duplicating(tmp_path):
    command = [
        sys.executable, "-m", "asib_sweeps.cli.sweep", "ablation", "--seeds", "1",
        "--results", str(tmp_path), "--no-dashboard", *TINY,
        "--checkpoint-every-s", "0",  # every epoch: the interrupted trials resume mid-run, as long ones would
    ]  # fmt: skip
    env = child_env(RAY_AUTH_MODE="disabled")
    with open(tmp_path / "first.log", "w") as log:
        driver = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        family: set[int] = set()
        try:
            before = wait_for_finished_trials(tmp_path, at_least=2, process=driver, timeout_s=400)
            family = descendants(driver.pid)
        finally:
            end_process_tree(driver, family | descendants(driver.pid))
    assert driver.returncode == -signal.SIGKILL
    finished_before = before[before["status"] == "TERMINATED"]
    assert 2 <= len(finished_before) < 7
    _, epochs_before = read_results(tmp_path / "ablation")

    resumed = subprocess.run(
        command + ["--resume"], check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout

    trials, epochs = read_results(tmp_path / "ablation")
    assert len(trials) == 7 and trials["trial_id"].is_unique and (trials["status"] == "TERMINATED").all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    # ASIB rungs: a 1-epoch warm-up on top; CCCP ones also 2 A-epochs (one per stage).
    planned = {"baseline": 3, "ib": 3, "cccp": 5, "tadapt": 5, "full": 5, "ce": 2, "avg_kd": 2}
    assert (trials["epochs_done"] == trials["arm"].map(planned)).all()
    # Trials finished before the kill were not run again: their epochs are the very same rows.
    ids = set(finished_before["trial_id"])
    old = epochs_before[epochs_before["trial_id"].isin(ids)].sort_values(["trial_id", "epoch"]).reset_index(drop=True)
    new = epochs[epochs["trial_id"].isin(ids)].sort_values(["trial_id", "epoch"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        old[new.columns.intersection(old.columns)], new[new.columns.intersection(old.columns)]
    )


def fetch(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_dashboard_listens_on_loopback_only_and_requires_the_token(tmp_path):
    token = secrets.token_hex(16)
    token_file = tmp_path / "auth_token"
    token_file.write_text(token)
    token_file.chmod(0o644)  # as Ray writes it
    script = (
        "import sys, ray\n"
        "from cluster.local import ray_cluster\n"
        "with ray_cluster(dashboard=True) as cluster:\n"
        "    print(cluster.dashboard_url, cluster.auth_mode, ray.util.get_node_ip_address(), flush=True)\n"
        "    sys.stdin.read()\n"
    )
    env = child_env(RAY_AUTH_TOKEN_PATH=str(token_file))  # RAY_AUTH_MODE unset: the code must choose token
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    family: set[int] = set()
    try:
        address, mode, node_ip = process.stdout.readline().split()
        family = descendants(process.pid)
        assert mode == "token"
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1" and node_ip != host
        with pytest.raises(ConnectionRefusedError):  # not reachable on the node's network address
            socket.create_connection((node_ip, int(port)), timeout=5).close()
        assert token_file.stat().st_mode & 0o777 == 0o600
        url = f"http://{address}/api/jobs/"
        assert fetch(url) == 401
        assert fetch(url, "not-the-token") == 403
        assert fetch(url, token) == 200
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        end_process_tree(process, family | descendants(process.pid))


def test_sigusr1_makes_the_driver_save_and_stop_with_a_resume_hint(tmp_path):
    command = [
        sys.executable, "-m", "asib_sweeps.cli.sweep", "ablation", "--seeds", "1",
        "--results", str(tmp_path), "--no-dashboard", *TINY, *LONGER_TRIALS,
    ]  # fmt: skip
    with open(tmp_path / "driver.log", "w") as log:
        driver = subprocess.Popen(
            command, cwd=REPO, env=child_env(RAY_AUTH_MODE="disabled"), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        family: set[int] = set()
        try:
            wait_for_finished_trials(tmp_path, at_least=1, process=driver, timeout_s=400)
            family = descendants(driver.pid)
            driver.send_signal(signal.SIGUSR1)
            assert driver.wait(timeout=120) == 130  # EXIT_INTERRUPTED, after Tune saved its state
        finally:
            end_process_tree(driver, family | descendants(driver.pid))
    output = (tmp_path / "driver.log").read_text()
    assert "--resume" in output
    experiment = tmp_path / "ablation" / "tune" / "ablation"
    assert list(experiment.glob("experiment_state-*.json")) and (experiment / "tuner.pkl").is_file()
    trials, _ = read_results(tmp_path / "ablation")
    assert (trials["status"] == "TERMINATED").sum() < 7
