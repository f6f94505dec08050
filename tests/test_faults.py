"""Faults that must lose or repeat no work, without Ray (docs/FAILURE_MODES.md).

The sweep-folder lock, the teacher cache's verification and repair, the checkpoint
fallback order, the non-retryable error classes, a SIGTERM between the teachers' fit
and the study's fit, and the security requirements. The Ray halves (a trial retried
after its latest checkpoint was corrupted, a deleted teacher retrained on --resume) are
in test_faults_ray.py.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement

from asib_sweeps.cli.sweep import main
from asib_sweeps.cli.sweep_lock import SweepLock
from asib_sweeps.cli.sweep_runner import EXIT_INTERRUPTED, SweepSettings, run_sweep
from asib_sweeps.errors import NonRetryableError
from asib_sweeps.models.weights import PretrainedWeightsError
from asib_sweeps.teacher_cache import BROKEN_FOLDER, META_FILE, WEIGHTS_FILE, MissingTeacherError, TeacherCache
from asib_sweeps.training import CheckpointError, NonFiniteLossError
from cluster import signals
from cluster.local import owner_only_token
from conftest import small_digits_config
from search_spaces import STUDIES, StudyOptions
from search_spaces.finetune import teacher_trials
from search_spaces.study import Trial, trial_runs
from trainables.config_errors import DETERMINISTIC_ERRORS
from trainables.placement import DeviceError, GPUShareTooSmall, choose_device
from trainables.reporting import checkpoint_candidates

REPO = Path(__file__).resolve().parents[1]


def fail(message: str):
    raise SystemExit(message)


def test_a_second_driver_on_a_sweep_folder_is_refused_naming_the_holder(tmp_path, capsys):
    lock = SweepLock(tmp_path / "ablation")
    with lock.held(fail):
        with pytest.raises(SystemExit) as exit_info:
            main(["ablation", "--results", str(tmp_path), "--dry-run"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / 'ablation'} is in use by another asib-sweep (pid {os.getpid()} on " in err
        with pytest.raises(SystemExit, match="in use by another asib-sweep"):
            with SweepLock(tmp_path / "ablation").held(fail):
                pass
    assert lock.holder() is None  # released with the block
    assert main(["ablation", "--results", str(tmp_path), "--dry-run"]) == 0


def test_the_lock_ends_with_its_holder_however_it_ends(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom asib_sweeps.cli.sweep_lock import SweepLock\n"
         f"with SweepLock(__import__('pathlib').Path({str(tmp_path)!r})).held(sys.exit):\n"
         "    print('held', flush=True); time.sleep(600)"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert f"pid {holder.pid} on " in SweepLock(tmp_path).holder()
        holder.send_signal(signal.SIGKILL)  # no cleanup code runs
        holder.wait(timeout=30)
        assert SweepLock(tmp_path).holder() is None
    finally:
        holder.kill()


def store(cache: TeacherCache, key: str) -> Path:
    cache.store(key, {"w": torch.arange(4.0)}, metrics={"val_acc": 0.5}, spec={"arch": "x"})
    return cache.root / key


def test_an_entry_without_weights_is_not_cached_and_is_repaired_by_the_next_store(tmp_path):
    cache = TeacherCache(tmp_path)
    entry = store(cache, "t")
    (entry / WEIGHTS_FILE).unlink()  # a crash between the two files, or a hand deletion
    assert not cache.has("t") and "has no weights.pt" in cache.problem("t")
    with pytest.raises(MissingTeacherError, match="has no weights.pt"):
        cache.load("t")
    store(cache, "t")  # the retrained teacher replaces the broken entry (ENOTEMPTY before)
    assert cache.has("t") and torch.equal(cache.load("t")["w"], torch.arange(4.0))
    moved = list((tmp_path / BROKEN_FOLDER).glob("t.*/t/teacher.json"))
    assert len(moved) == 1  # kept as evidence, not deleted


@pytest.mark.parametrize(
    ("legacy", "damage"), [(False, "flip"), (True, "flip"), (True, "truncate")],
    ids=["hashed", "before-hashes", "truncated"],
)  # fmt: skip
def test_corrupt_weights_are_detected_reported_and_moved_aside(tmp_path, legacy, damage):
    cache = TeacherCache(tmp_path)
    entry = store(cache, "t")
    if legacy:  # an entry written before teacher.json recorded the weights' hash
        meta = (entry / META_FILE).read_text()
        (entry / META_FILE).write_text(meta.replace('"weights_sha256"', '"old_field"'))
    data = bytearray((entry / WEIGHTS_FILE).read_bytes())
    if damage == "flip":  # one flipped bit in the tensor's bytes: a disk error
        data[data.index(torch.arange(4.0).numpy().tobytes()) + 5] ^= 0x01
    else:  # a copy that stopped half-way
        data = data[: len(data) // 2]
    (entry / WEIGHTS_FILE).write_bytes(bytes(data))
    fresh = TeacherCache(tmp_path)  # no memory of an earlier check
    problem = fresh.problem("t")
    assert problem is not None and str(entry / WEIGHTS_FILE) in problem
    assert fresh.repair("t") == problem and not entry.exists() and not fresh.has("t")
    assert fresh.repair("t") is None  # nothing left to repair: it is simply missing now


def test_the_dry_run_lists_a_broken_cache_entry(tmp_path, capsys):
    from asib_sweeps.config import default_config
    from asib_sweeps.teacher_cache import teacher_key

    key = teacher_key(default_config("digits"), 0)
    (tmp_path / "teachers" / key).mkdir(parents=True)
    (tmp_path / "teachers" / key / META_FILE).write_text("{}")
    assert main(["finetune", "--seeds", "1", "--results", str(tmp_path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("teachers: 2 to fine-tune, 0 cached")
    assert f"  broken: teacher cache entry {tmp_path / 'teachers' / key} has no weights.pt" in lines[1]
    assert (tmp_path / "teachers" / key / META_FILE).is_file()  # a dry run moves nothing


def test_checkpoints_are_tried_newest_first(tmp_path):
    for index in (0, 2, 10, 11):
        (tmp_path / f"checkpoint_{index:06d}").mkdir()
    (tmp_path / "checkpoint_tmp").mkdir()
    latest = tmp_path / "checkpoint_000011"
    assert [path.name for path in checkpoint_candidates(latest)] == [
        "checkpoint_000011", "checkpoint_000010", "checkpoint_000002", "checkpoint_000000",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "error",
    [NonFiniteLossError, CheckpointError, PretrainedWeightsError, MissingTeacherError, DeviceError, GPUShareTooSmall],
)
def test_deterministic_errors_are_not_retried(error):
    assert issubclass(error, NonRetryableError) and issubclass(error, DETERMINISTIC_ERRORS)


def test_a_device_the_trial_lacks_is_a_non_retryable_error():
    with pytest.raises(DeviceError, match="needs a GPU"):
        choose_device("cuda", [])


def test_a_sigterm_after_the_teachers_fit_stops_the_sweep_before_the_study(tmp_path, teacher_cache, capsys):
    config = small_digits_config()
    trials = [Trial(name="full-s0", labels={"arm": "full", "seed": 0}, config=config)]
    settings = SweepSettings(
        study=STUDIES["ablation"], options=StudyOptions(seeds=1), trials=trials,
        teachers=teacher_trials(trial_runs(trials)), results_dir=tmp_path, name="s",
        teacher_cache=teacher_cache.root, cpus_per_trial=1, gpus_per_trial=0, max_concurrent=None, max_failures=1,
        checkpoint_every=1, resume=False,
    )  # fmt: skip
    previous = signal.signal(signal.SIGUSR1, lambda *_: None)  # a handler the teachers' fit left behind
    try:
        with signals.sigterm_saves_and_stops():
            os.kill(os.getpid(), signal.SIGTERM)
            assert signals.stop_requested()
            assert run_sweep(settings) == EXIT_INTERRUPTED  # the study's fit (Ray) never starts
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert not signals.stop_requested()  # the next sweep of this process starts afresh
    out = capsys.readouterr().out
    assert "teachers: 0 to fine-tune, 2 cached" in out and "stopped before the sweep finished" in out
    assert not (tmp_path / "s" / "tune").exists()


def test_torch_is_required_in_a_version_without_cve_2025_32434():
    dependencies = re.findall(r'^\s*"([^"]+)",', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    torch_spec = next(Requirement(d) for d in dependencies if Requirement(d).name == "torch").specifier
    vision_spec = next(Requirement(d) for d in dependencies if Requirement(d).name == "torchvision").specifier
    assert not torch_spec.contains("2.5.1") and torch_spec.contains("2.6.0")
    assert not vision_spec.contains("0.20.1") and vision_spec.contains("0.21.0")


def test_the_auth_token_is_owner_only_before_ray_starts(tmp_path, monkeypatch):
    path = tmp_path / "ray" / "auth_token"
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    owner_only_token("token", create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_text()) == 64
    path.chmod(0o644)  # one Ray wrote world-readable earlier
    owner_only_token("token", create=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_line_break_cannot_reach_the_job_scripts_header(tmp_path):
    from cluster.slurm_config import SlurmConfig
    from cluster.slurm_script import JobScript, render_script

    config = SlurmConfig.model_validate({"cpus_per_node": 8, "time": "01:00:00"})
    job = JobScript(
        study="ablation", driver_argv=["ablation"], sweep_dir=tmp_path, python=sys.executable, workdir=tmp_path,
        cluster_file=Path("/x/slurm.yaml\n#SBATCH --uid=0"),
    )  # fmt: skip
    with pytest.raises(ValueError, match="line breaks"):
        render_script(config, job)
