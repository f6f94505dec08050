"""The `ray start` command lines of one job's Ray: every port derived from the job id.

Two jobs on one node must not collide, and Ray's defaults (6379, 8265, 10001, random
node ports) collide at once. Each job gets its own block of RAY_PORT_SPAN ports,
chosen by its job id, for all of the ~11 fixed ports and its worker port range. The
head-only ports (GCS, dashboard, client server) and the per-node ports share a block,
so a worker started with its own block can join a head started with another one: the
tests use that to run a head and workers on one machine.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from cluster.dashboard import DASHBOARD_HOST
from cluster.slurm_config import RAY_PORT_SPAN

FIXED_PORTS = 10
"""gcs, dashboard, client server, node manager, object manager, agent gRPC, agent HTTP,
runtime-env agent, metrics export; one spare. The worker ports follow them."""


@dataclass(frozen=True)
class RayPorts:
    gcs: int
    dashboard: int
    client_server: int
    node_manager: int
    object_manager: int
    dashboard_agent_grpc: int
    dashboard_agent_http: int
    runtime_env_agent: int
    metrics_export: int
    min_worker: int
    max_worker: int

    def all_ports(self) -> set[int]:
        """Every port this block may listen on (fixed ports and the whole worker range)."""
        fixed = {getattr(self, field.name) for field in fields(self) if field.name not in ("min_worker", "max_worker")}
        return fixed | set(range(self.min_worker, self.max_worker + 1))


def job_ports(job_id: int, *, port_base: int) -> RayPorts:
    """The port block of `job_id`: jobs whose ids differ modulo the number of blocks never share a port."""
    if job_id < 0:
        raise ValueError(f"job_id must be >= 0, got job_id={job_id}")
    blocks = (65536 - port_base) // RAY_PORT_SPAN
    start = port_base + (job_id % blocks) * RAY_PORT_SPAN
    return RayPorts(*range(start, start + 9), min_worker=start + FIXED_PORTS, max_worker=start + RAY_PORT_SPAN - 1)


def _node_args(ports: RayPorts, temp_dir: Path) -> list[str]:
    """Per-node flags: its ports and its temp dir (a worker would otherwise take the head's path)."""
    return [
        "--temp-dir", str(temp_dir),
        "--node-manager-port", str(ports.node_manager),
        "--object-manager-port", str(ports.object_manager),
        "--dashboard-agent-grpc-port", str(ports.dashboard_agent_grpc),
        "--dashboard-agent-listen-port", str(ports.dashboard_agent_http),
        "--runtime-env-agent-port", str(ports.runtime_env_agent),
        "--metrics-export-port", str(ports.metrics_export),
        "--min-worker-port", str(ports.min_worker),
        "--max-worker-port", str(ports.max_worker),
    ]  # fmt: skip


def head_start_args(
    ray: Path, ports: RayPorts, *, node_ip: str, cpus: int, gpus: int, dashboard: bool, temp_dir: Path
) -> list[str]:
    """`ray start --head --block` for the first node: dashboard on loopback only.

    `temp_dir` is short and per job (cluster.slurm_job makes it): socket paths are capped at 107 bytes.
    """
    return [
        str(ray), "start", "--head", "--block", "--disable-usage-stats",
        "--node-ip-address", node_ip,
        "--port", str(ports.gcs),
        "--ray-client-server-port", str(ports.client_server),
        "--include-dashboard", "true" if dashboard else "false",
        "--dashboard-host", DASHBOARD_HOST,
        "--dashboard-port", str(ports.dashboard),
        "--num-cpus", str(cpus),
        "--num-gpus", str(gpus),
        *_node_args(ports, temp_dir),
    ]  # fmt: skip


def worker_start_args(
    ray: Path, ports: RayPorts, *, head_address: str, cpus: int, gpus: int, temp_dir: Path
) -> list[str]:
    """`ray start --address --block` for another node, with the CPUs and GPUs SLURM gave that node."""
    return [
        str(ray), "start", "--block", "--disable-usage-stats",
        "--address", head_address,
        "--num-cpus", str(cpus),
        "--num-gpus", str(gpus),
        *_node_args(ports, temp_dir),
    ]  # fmt: skip
