"""When a trial checkpoints (by epochs and wall time, last epoch, stop file), and how a stop
signal waits for the running trials' checkpoints before Tune stops: without Ray.

The Ray-backed ends (a real sweep's trials, a crash, a stop signal and a resume) are in
test_sweep_ray.py.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from asib_sweeps.cli.stop_checkpoints import CheckpointBeforeStop
from asib_sweeps.cli.sweep import main
from asib_sweeps.cli.sweep_record import resume_conflicts
from trainables import reporting
from trainables.reporting import checkpoint_options, tune_reporter


class FakeRun:
    """The part of TrainingRun the reporter reads: epochs done and the state."""

    def __init__(self, epochs: int) -> None:
        self.epochs, self.next_epoch = epochs, 0

    @property
    def finished(self) -> bool:
        return self.next_epoch >= self.epochs

    def run_epoch(self) -> dict:
        self.next_epoch += 1
        return {"epoch": self.next_epoch - 1}

    def state_dict(self) -> dict:
        return {"next_epoch": self.next_epoch}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def reports(monkeypatch) -> list[tuple[int, bool]]:
    """Replace ray.tune in trainables.reporting: record (epoch, with a checkpoint) per report."""
    seen: list[tuple[int, bool]] = []

    def report(metrics, checkpoint=None):
        seen.append((metrics["epoch"], checkpoint is not None))

    fake_tune = SimpleNamespace(report=report, Checkpoint=SimpleNamespace(from_directory=lambda folder: folder))
    monkeypatch.setattr(reporting, "tune", fake_tune)
    return seen


def checkpointed(seen: list[tuple[int, bool]]) -> list[int]:
    return [epoch for epoch, saved in seen if saved]


def train(policy_clock: Clock, epochs: int, seconds_per_epoch: float, **options) -> None:
    run = FakeRun(epochs)
    report = tune_reporter(**options)
    while not run.finished:
        metrics = run.run_epoch()
        policy_clock.now += seconds_per_epoch
        report(run, metrics)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(reporting, "monotonic", clock)
    return clock


def test_a_short_trial_with_the_time_limit_writes_only_its_last_checkpoint(reports, clock):
    train(clock, epochs=8, seconds_per_epoch=2.0, checkpoint_every=1, checkpoint_every_s=60.0)
    assert [epoch for epoch, _ in reports] == list(range(8))
    assert checkpointed(reports) == [7]


def test_a_long_trial_saves_about_once_per_interval_and_its_last_epoch(reports, clock):
    train(clock, epochs=10, seconds_per_epoch=25.0, checkpoint_every=1, checkpoint_every_s=60.0)
    assert checkpointed(reports) == [2, 5, 8, 9]  # 75 s, 150 s, 225 s after the last save; then the last epoch


def test_no_time_limit_keeps_every_nth_epoch(reports, clock):
    train(clock, epochs=7, seconds_per_epoch=1.0, checkpoint_every=2, checkpoint_every_s=0.0)
    assert checkpointed(reports) == [1, 3, 5, 6]


def test_both_limits_apply_together(reports, clock):
    train(clock, epochs=12, seconds_per_epoch=10.0, checkpoint_every=4, checkpoint_every_s=35.0)
    assert checkpointed(reports) == [3, 7, 11]  # epoch multiples of 4, each >= 35 s after the last save


def test_while_the_stop_file_exists_every_epoch_is_saved(reports, clock, tmp_path):
    stop_file = tmp_path / ".stop-requested"
    run = FakeRun(6)
    report = tune_reporter(checkpoint_every=1, checkpoint_every_s=3600.0, stop_file=str(stop_file))
    while not run.finished:
        metrics = run.run_epoch()
        if run.next_epoch == 3:
            stop_file.touch()
        report(run, metrics)
    assert checkpointed(reports) == [2, 3, 4, 5]


def test_params_of_a_sweep_planned_before_the_time_limit_keep_every_epoch():
    assert checkpoint_options({"checkpoint_every": 2}) == {
        "checkpoint_every": 2, "checkpoint_every_s": 0.0, "stop_file": None,
    }  # fmt: skip
    with pytest.raises(ValueError, match="checkpoint_every_s"):
        checkpoint_options({"checkpoint_every": 1, "checkpoint_every_s": -1})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "--checkpoint-every-s must be a number of seconds >= 0"),
        ("nan", "argument --checkpoint-every-s: must be a finite number; got 'nan'"),  # parsed as a finite float
        ("inf", "argument --checkpoint-every-s: must be a finite number; got 'inf'"),
    ],
)
def test_a_bad_checkpoint_interval_is_a_usage_error_naming_it(capsys, tmp_path, value, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["ablation", "--checkpoint-every-s", value, "--results", str(tmp_path), "--dry-run"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# --- the driver's side: CheckpointBeforeStop ------------------------------------------------------


def trial(trial_id: str, status: str = "RUNNING") -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, status=status)


@pytest.fixture
def tune_stop(monkeypatch) -> list[int]:
    """A stand-in for the SIGUSR1 handler Tune installs during a fit; records its calls."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGUSR1, previous)


def started(stop_file: Path, clock: Clock, trials: list) -> CheckpointBeforeStop:
    callback = CheckpointBeforeStop(stop_file, wait_s=20.0, clock=clock)
    stop_file.touch()  # a stale request of a killed driver: gone once the fit starts
    callback.setup()
    assert not stop_file.exists()
    callback.on_step_begin(0, trials)
    return callback


def test_a_stop_signal_waits_for_the_running_trials_checkpoints_then_stops_tune(tmp_path, tune_stop):
    clock, stop_file = Clock(), tmp_path / ".stop-requested"
    trials = [trial("a"), trial("b"), trial("c", status="PENDING")]
    callback = started(stop_file, clock, trials)
    os.kill(os.getpid(), signal.SIGUSR1)
    os.kill(os.getpid(), signal.SIGUSR1)  # repeated (a SLURM job resends it): still one stop
    assert stop_file.exists() and tune_stop == []
    callback.on_checkpoint(1, trials, trials[0], checkpoint=None)
    callback.on_step_end(1, trials)
    assert tune_stop == []  # b has not saved yet
    callback.on_checkpoint(2, trials, trials[1], checkpoint=None)
    callback.on_step_end(2, trials)
    assert tune_stop == [signal.SIGUSR1]
    callback.on_step_end(3, trials)
    assert tune_stop == [signal.SIGUSR1]
    callback.on_experiment_end(trials)
    assert not stop_file.exists()
    os.kill(os.getpid(), signal.SIGUSR1)  # Tune's handler is back
    assert tune_stop == [signal.SIGUSR1, signal.SIGUSR1]


def test_a_trial_that_saves_nothing_within_the_wait_does_not_hold_the_stop(tmp_path, tune_stop, capsys):
    clock, stop_file = Clock(), tmp_path / ".stop-requested"
    trials = [trial("slow")]
    callback = started(stop_file, clock, trials)
    os.kill(os.getpid(), signal.SIGUSR1)
    clock.now = 19.0
    callback.on_step_end(1, trials)
    assert tune_stop == []
    clock.now = 20.0
    callback.on_step_end(2, trials)
    assert tune_stop == [signal.SIGUSR1]
    assert "1 trial(s) saved no checkpoint within 20 s" in capsys.readouterr().out


def test_a_trial_that_ends_is_not_waited_for_and_no_running_trial_means_no_wait(tmp_path, tune_stop):
    clock, stop_file = Clock(), tmp_path / ".stop-requested"
    trials = [trial("a")]
    callback = started(stop_file, clock, trials)
    os.kill(os.getpid(), signal.SIGUSR1)
    trials[0].status = "TERMINATED"
    callback.on_step_end(1, trials)
    assert tune_stop == [signal.SIGUSR1]

    idle = started(stop_file, clock, [trial("p", status="PENDING")])
    os.kill(os.getpid(), signal.SIGUSR1)
    assert tune_stop == [signal.SIGUSR1, signal.SIGUSR1] and not stop_file.exists()
    idle.on_experiment_end([])


def test_resume_compares_the_interval_unless_the_sweep_was_started_before_it_existed():
    def record(**options):
        return {"study": "ablation", "options": {"--checkpoint-every": 1, **options}, "config": {}}

    now = record(**{"--checkpoint-every-s": 60.0})
    assert resume_conflicts(record(), now) == []  # its saved trials keep their every-epoch checkpoints
    assert resume_conflicts(record(**{"--checkpoint-every-s": 0.0}), now) == ["--checkpoint-every-s: saved 0.0, now 60.0"]
