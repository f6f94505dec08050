"""SIGTERM (what scancel and preemption send) makes a sweep driver save and stop like SIGUSR1, not crash."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from test_sweep_processes import REPO, child_env, descendants, end_process_tree

pytestmark = pytest.mark.slow


def test_sigterm_makes_the_driver_save_and_stop_with_a_resume_hint(tmp_path):
    # One seed: the 2 default teachers, both running when the signal comes (data.split_per_seed
    # fits 2 teachers per seed, so more seeds would leave some PENDING: "(2 RUNNING)" never shows).
    command = [
        sys.executable, "-m", "asib_sweeps.cli.sweep", "finetune", "--results", str(tmp_path), "--no-dashboard",
        "--seeds", "1", "--set", "teacher_recipe.epochs=30",
    ]  # fmt: skip
    log_path = tmp_path / "driver.log"
    with open(log_path, "w") as log:
        driver = subprocess.Popen(
            command, cwd=REPO, env=child_env(RAY_AUTH_MODE="disabled"), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        family: set[int] = set()
        try:
            deadline = time.monotonic() + 300
            while "(2 RUNNING)" not in log_path.read_text():  # Tune's status table: the fit is under way
                assert driver.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.5)
            family = descendants(driver.pid)
            driver.send_signal(signal.SIGTERM)
            assert driver.wait(timeout=120) == 130  # EXIT_INTERRUPTED, after Tune saved its state
        finally:
            end_process_tree(driver, family | descendants(driver.pid))
    output = log_path.read_text()
    assert "SIGTERM received: saving the sweep's state and stopping" in output
    assert "stop signal: the 2 running trial(s) save a checkpoint at the end of their epoch" in output
    assert "continue with the same command and --resume" in output
    assert "The process receives a SIGTERM" not in output and "Traceback" not in output  # Ray's crash path
    experiment = tmp_path / "finetune" / "tune" / "finetune"
    assert list(experiment.glob("experiment_state-*.json")) and (experiment / "tuner.pkl").is_file()
    assert not list((tmp_path / "teachers").glob("*/weights.pt"))  # stopped mid-run: no teacher finished
