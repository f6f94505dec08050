"""benchmarks/gpu.sh --cpu runs every step of the GPU benchmark set and writes all its figures.

Not a timed test: the figures of a --cpu run check the code paths (tiny models, a
couple of steps), so only their presence, finiteness and sign are asserted, never a
speed. The GPU run of the same script is recorded in docs/performance.md.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

STEP_ARMS = ("ce", "kd", "dkd", "crd", "asib_full_W", "asib_full_A", "asib_full_B", "asib_ib_joint")
EXPECTED = [
    *(f"step_overhead.{arm}.{key}" for arm in STEP_ARMS for key in ("trainer_ms_per_step", "bare_ms_per_step", "ratio")),
    *(f"kd_throughput.{v}.{key}" for v in ("fp32", "bf16") for key in ("ms_per_step", "images_per_s", "tflops", "warmup_s")),
    "kd_throughput.gflops_per_step",
    "data_pipeline.train_batches.images_per_s",
    "data_pipeline.dataloader.images_per_s",
    "data_pipeline.ratio",
    *(f"packing.concurrent_{n}.{key}" for n in (1, 2) for key in ("wall_s", "trials_per_hour", "trial_s", "speedup")),
    *(f"reproduce.{key}" for key in ("sweep_s", "trials_finished", "teacher_as_measured", "report_table")),
    *(f"reproduce.{arm}.wall_s" for arm in ("ce", "kd", "crd", "dkd")),
]


@pytest.fixture(scope="module")
def cpu_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("gpu-bench") / "results.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    env.update(PYTHON=sys.executable, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    completed = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu.sh"), "--cpu", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1320, check=False,
    )  # fmt: skip
    log = completed.stdout[-6000:] + completed.stderr[-4000:]
    assert completed.returncode == 0, log
    assert out.is_file(), log
    return json.loads(out.read_text())


@pytest.mark.slow
def test_gpu_sh_cpu_writes_every_figure_finite_and_positive(cpu_results: dict) -> None:
    figures = cpu_results["figures"]
    missing = [name for name in EXPECTED if name not in figures]
    assert not missing, f"missing figures: {missing}"
    bad = {name: value for name, value in figures.items()
           if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0}  # fmt: skip
    assert not bad, f"figures not finite and positive: {bad}"


@pytest.mark.slow
def test_gpu_sh_cpu_records_its_steps_and_the_sync_check(cpu_results: dict) -> None:
    assert cpu_results["mode"] == "cpu"
    assert cpu_results["failed"] == []
    assert set(cpu_results["steps"]) == {"step_overhead", "kd_throughput", "data_pipeline", "packing", "reproduce"}
    assert set(cpu_results["benchmarks"]) == set(cpu_results["steps"])
    # The CPU equivalent of set_sync_debug_mode("error"): no host read of a tensor value in any step.
    sync = cpu_results["benchmarks"]["step_overhead"]["sync_check"]
    assert set(sync["arms"]) == set(STEP_ARMS)
    assert cpu_results["sync_check_ok"] is True, sync
    assert cpu_results["total_s"] > 0
    # The reproduction path: all four trials, the teacher used exactly as measured at import.
    figures = cpu_results["figures"]
    assert figures["reproduce.trials_finished"] == 4 and figures["reproduce.teacher_as_measured"] == 1


def test_gpu_sh_refuses_an_unknown_only_step() -> None:
    completed = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu.sh"), "--cpu", "--only", "packing,nope"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "--only: unknown step 'nope'" in completed.stderr
