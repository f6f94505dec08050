"""The job's multi-node boot on one machine: a head and two GPU workers started with the job's own
`ray start` command lines (each node on its own port block, as two jobs would be), trials spread
over the workers, each seeing only the GPU Ray assigned it; then every node stopped by its group.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
import ray
from ray import tune

from cluster.processes import start_in_own_group, stop_groups
from cluster.ray_nodes import head_start_args, job_ports, worker_start_args
from cluster.slurm_job import wait_for_nodes

pytestmark = pytest.mark.slow

RAY = Path(sys.executable).parent / "ray"
GPUS_PER_WORKER = 2


def test_trials_spread_over_worker_nodes_and_see_only_their_gpus(tmp_path, monkeypatch):
    def probe(params):  # defined here: pickled by value for the workers
        time.sleep(4)  # long enough for all four to hold their GPUs at once
        tune.report(
            {
                "node": ray.get_runtime_context().get_node_id(),
                "gpu_ids": ",".join(map(str, ray.get_gpu_ids())),
                "visible": os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"),
                "start": time.time(),
            }
        )

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    head_ports = job_ports(101, port_base=30000)
    address = f"127.0.0.1:{head_ports.gcs}"
    # A short temp dir per node (socket paths <= 107 bytes; one machine's nodes must not share sockets).
    temp = [Path(f"/tmp/rn-{os.getpid()}-{node}") for node in range(3)]
    head = head_start_args(RAY, head_ports, node_ip="127.0.0.1", cpus=1, gpus=0, dashboard=False, temp_dir=temp[0])
    nodes = [start_in_own_group(head)]
    try:
        for node in (1, 2):  # distinct port blocks (as two jobs get): two raylets on one machine
            ports = job_ports(101 + node, port_base=30000)
            worker = worker_start_args(
                RAY, ports, head_address=address, cpus=2, gpus=GPUS_PER_WORKER, temp_dir=temp[node]
            )
            nodes.append(start_in_own_group(worker))
        wait_for_nodes(address, count=3, timeout_s=180, processes=nodes)
        ray.init(address=address)
        try:
            assert ray.cluster_resources()["GPU"] == 2 * GPUS_PER_WORKER
            results = tune.Tuner(
                tune.with_resources(probe, {"cpu": 1, "gpu": 1}),
                param_space={"index": tune.grid_search(list(range(4)))},
                run_config=tune.RunConfig(storage_path=str(tmp_path), name="spread", verbose=0),
            ).fit()
            worker_ids = {node["NodeID"] for node in ray.nodes() if node["Resources"].get("GPU")}
        finally:
            ray.shutdown()
    finally:
        stop_groups(nodes)
        for folder in temp:
            shutil.rmtree(folder, ignore_errors=True)
    rows = [result.metrics for result in results]
    assert len(rows) == 4 and not results.errors
    assert {row["node"] for row in rows} == worker_ids and len(worker_ids) == 2  # both workers, not the head
    for row in rows:
        assert len(row["gpu_ids"].split(",")) == 1 and row["visible"] == row["gpu_ids"]  # only its own GPU
    assert len({(row["node"], row["gpu_ids"]) for row in rows}) == 4  # no GPU handed out twice
    assert all(node.returncode is not None for node in nodes)
