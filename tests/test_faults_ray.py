"""Faults on a real local Ray: nothing lost, nothing repeated (docs/FAILURE_MODES.md).

A trial whose latest checkpoint is corrupt when it is retried continues from the one
before and ends with the metrics of an intact trial; a teacher deleted from the cache
after its sweep trained it is fine-tuned again on --resume. (A deterministic error that
is not retried: test_api_and_eval.py.)
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
import ray
from ray import tune

from analysis.results import read_results
from asib_sweeps.cli.sweep import main
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.training import TrainingRun
from test_sweep_ray import TINY, cccp_trial, fault_settings, run_faults, run_to_run_varying
from trainables import distill
from trainables.reporting import STATE_FILE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        patch.setenv("RAY_AIR_NEW_OUTPUT", "0")
        ray.init(address="local", num_cpus=2, include_dashboard=False)
        yield
        ray.shutdown()


def test_a_corrupt_latest_checkpoint_falls_back_to_the_one_before(tmp_path, capfd):
    crashed = tmp_path / "crashed-once"
    crash_epoch = 3

    def distill_corrupted_then_killed(params):
        """On the first attempt at `crash_epoch`: garble the newest checkpoint, then die like an OOM kill."""
        if params["variant"] != "corrupted" or crashed.exists():
            return distill(params)
        original = TrainingRun.run_epoch

        def run_epoch(run):
            if run.next_epoch == crash_epoch:
                folder = Path(tune.get_context().get_storage().trial_fs_path)
                newest = max(folder.glob("checkpoint_*"), key=lambda path: path.name)
                (newest / STATE_FILE).write_bytes(b"half a checkpoint")
                crashed.write_text(newest.name)
                os._exit(1)
            return original(run)

        with mock.patch.object(TrainingRun, "run_epoch", run_epoch):
            return distill(params)

    trials = [cccp_trial("corrupted"), cccp_trial("intact")]
    settings = fault_settings(tmp_path, trials, checkpoint_every_s=0)
    from asib_sweeps.cli.sweep_runner import resolve_teachers

    assert resolve_teachers(settings).failed == 0
    outcome = run_faults(tmp_path, distill_corrupted_then_killed, trials, settings)
    assert crashed.exists() and outcome.failed == 0 and not outcome.interrupted
    assert "skipping an unreadable checkpoint: checkpoint " in capfd.readouterr().out
    table, epochs = read_results(settings.sweep_dir)
    by_variant = table.set_index("param.variant")
    assert by_variant.loc["corrupted", "status"] == "TERMINATED" and by_variant.loc["corrupted", "num_failures"] == 1

    def history(variant: str) -> pd.DataFrame:
        rows = epochs[epochs["trial_id"] == by_variant.loc[variant, "trial_id"]]
        rows = rows.drop(columns=["trial_id", *filter(run_to_run_varying, rows.columns)])
        return rows.sort_values("epoch").reset_index(drop=True)

    pd.testing.assert_frame_equal(history("corrupted"), history("intact"))


def test_a_teacher_deleted_after_its_sweep_is_fine_tuned_again_on_resume(tmp_path, capsys):
    args = ["finetune", "--seeds", "1", "--results", str(tmp_path), "--no-dashboard", *TINY]
    assert main(args) == 0
    cache = TeacherCache(tmp_path / "teachers")
    keys = sorted(path.name for path in cache.root.iterdir() if not path.name.startswith("."))
    assert len(keys) == 2 and all(cache.has(key) for key in keys)
    kept = (cache.root / keys[1] / "weights.pt").read_bytes()
    (cache.root / keys[0] / "weights.pt").unlink()
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"teacher cache: teacher cache entry {cache.root / keys[0]} has no weights.pt" in out
    assert "teachers: 1 to fine-tune, 1 cached" in out
    assert cache.has(keys[0]) and (tmp_path / "finetune" / "tune" / "finetune-again-1").is_dir()
    assert (cache.root / keys[1] / "weights.pt").read_bytes() == kept  # the intact teacher was not retrained
