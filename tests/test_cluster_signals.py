"""SIGTERM (what scancel and preemption send) makes a sweep driver save and stop like SIGUSR1, not crash."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from test_sweep_processes import REPO, TINY, child_env, descendants, end_process_tree, wait_for_finished_trials

from analysis.results import read_results

pytestmark = pytest.mark.slow


def test_sigterm_makes_the_driver_save_and_stop_with_a_resume_hint(tmp_path):
    command = [
        sys.executable, "-m", "asib_sweeps.cli.sweep", "ablation", "--seeds", "1",
        "--results", str(tmp_path), "--no-dashboard", *TINY,
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
            driver.send_signal(signal.SIGTERM)
            assert driver.wait(timeout=120) == 130  # EXIT_INTERRUPTED, after Tune saved its state
        finally:
            end_process_tree(driver, family | descendants(driver.pid))
    output = (tmp_path / "driver.log").read_text()
    assert "SIGTERM received: saving the sweep's state and stopping" in output
    assert "continue with the same command and --resume" in output
    assert "The process receives a SIGTERM" not in output and "Traceback" not in output  # Ray's crash path
    experiment = tmp_path / "ablation" / "tune" / "ablation"
    assert list(experiment.glob("experiment_state-*.json")) and (experiment / "tuner.pkl").is_file()
    trials, _ = read_results(tmp_path / "ablation")
    assert 1 <= (trials["status"] == "TERMINATED").sum() < 7
