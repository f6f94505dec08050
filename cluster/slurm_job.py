"""Inside a SLURM allocation: boot Ray over its nodes, run the sweep driver, stop what it started.

    python -m cluster.slurm_job run [options] -- STUDY [asib-sweep options]
    python -m cluster.slurm_job worker --head IP:PORT --cpus N     (run by srun on the other nodes)

`run` is the batch step (the sbatch script execs it, so it receives the time-limit
signal): it starts the Ray head on this node and, through one `srun --overlap` step,
a worker on every other node; waits until all of them joined; runs `asib-sweep STUDY
... --address <head>` (with `--resume` when the sweep folder already holds a started
sweep, as after a requeue); forwards stop signals to it; stops its own Ray processes
by process group; and, after a time-limit stop, requeues the job. Every port comes
from the job id and the Ray temp dir is a short per-job folder, so jobs sharing a node
never meet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cluster.dashboard import set_auth_environment, write_token_file
from cluster.processes import start_in_own_group, stop_groups
from cluster.ray_nodes import RayPorts, head_start_args, job_ports, worker_start_args
from cluster.signals import EXIT_INTERRUPTED, StopForwarder

TOKEN_FILE = "ray_auth_token"


class JobError(RuntimeError):
    """The job cannot boot its Ray; the message says what is missing."""


@dataclass(frozen=True)
class Allocation:
    """What SLURM tells the batch step about the job, read from its environment."""

    job_id: int
    restart: int
    nodes: list[str]
    this_node: str
    cpus_on_node: int
    gpus_on_node: int

    @classmethod
    def from_environment(cls, *, cpus_fallback: int) -> Allocation:
        env = os.environ
        if "SLURM_JOB_ID" not in env:
            raise JobError("SLURM_JOB_ID is not set: run this inside a SLURM job or allocation")
        this_node = env.get("SLURMD_NODENAME")
        nodes = _hostnames(env.get("SLURM_JOB_NODELIST", ""))
        if this_node is None or this_node not in nodes:
            raise JobError(
                f"this shell runs on {socket.gethostname()}, not on a node of job {env['SLURM_JOB_ID']} "
                f"({', '.join(nodes)}): start it from the first node (e.g. `srun --pty bash`, or sbatch)"
            )
        return cls(
            job_id=int(env["SLURM_JOB_ID"]),
            restart=int(env.get("SLURM_RESTART_COUNT") or 0),
            nodes=nodes,
            this_node=this_node,
            cpus_on_node=int(env.get("SLURM_CPUS_ON_NODE") or cpus_fallback),
            gpus_on_node=_gpus_on_node(),
        )


def _hostnames(nodelist: str) -> list[str]:
    """Expand SLURM's compressed node list (node[01-04]) with scontrol."""
    if not nodelist:
        return []
    listed = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return listed.stdout.split()


def _gpus_on_node() -> int:
    """SLURM_GPUS_ON_NODE: set whenever the job holds GPUs on the node (SLURM_GPUS_PER_TASK often is not)."""
    return int(os.environ.get("SLURM_GPUS_ON_NODE") or 0)


@dataclass(frozen=True)
class JobOptions:
    sweep_dir: Path
    driver_argv: list[str]
    port_base: int
    temp_root: Path
    join_timeout_s: int
    dashboard: bool
    requeue: bool
    cpus_per_node: int


def set_job_environment(options: JobOptions, allocation: Allocation) -> None:
    """Environment of this process, and so of the job's Ray processes and driver: a per-job temp
    dir, token auth with the sweep's owner-only token file, no usage stats, unbuffered output."""
    temp_dir = options.temp_root / f"ray-{allocation.job_id}-{allocation.restart}"
    temp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = write_token_file(options.sweep_dir / "slurm" / TOKEN_FILE)
    os.environ.update(
        RAY_TMPDIR=str(temp_dir),
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(token),
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONUNBUFFERED="1",
    )
    os.environ.pop("RAY_AUTH_TOKEN", None)  # the file is the one source of the token
    set_auth_environment()  # Ray read RAY_AUTH_MODE when it was imported: make it read it again


def ray_executable() -> Path:
    """The `ray` script beside this interpreter (the job's environment), else the one on PATH."""
    beside = Path(sys.executable).parent / "ray"
    found = beside if beside.is_file() else shutil.which("ray")
    if found is None:
        raise JobError(f"no `ray` command beside {sys.executable} or on PATH; install ray[default] in the job's env")
    return Path(found)


def start_workers(options: JobOptions, allocation: Allocation, head: str) -> subprocess.Popen:
    """One `srun` step, one task per other node, each running `cluster.slurm_job worker`."""
    others = [node for node in allocation.nodes if node != allocation.this_node]
    argv = [
        "srun", "--overlap", f"--nodes={len(others)}", f"--ntasks={len(others)}", "--ntasks-per-node=1",
        f"--nodelist={','.join(others)}", f"--cpus-per-task={options.cpus_per_node}", "--kill-on-bad-exit=1",
        sys.executable, "-m", "cluster.slurm_job", "worker", "--head", head,
        "--port-base", str(options.port_base), "--cpus", str(options.cpus_per_node),
    ]  # fmt: skip
    return start_in_own_group(argv)


def wait_for_nodes(address: str, *, count: int, timeout_s: float, processes: Sequence[subprocess.Popen]) -> None:
    """Block until `count` Ray nodes are alive at `address`; JobError on timeout or a dead Ray process."""
    import ray

    deadline = time.monotonic() + timeout_s
    host, port = address.rsplit(":", 1)
    while not _accepts(host, int(port)):
        _check_alive(processes, deadline, f"the Ray head at {address} did not start")
    ray.init(address=address, logging_config=ray.LoggingConfig(log_level="WARNING"))
    try:
        while (alive := sum(node["Alive"] for node in ray.nodes())) < count:
            _check_alive(processes, deadline, f"{alive} of {count} Ray nodes joined")
    finally:
        ray.shutdown()


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def _check_alive(processes: Sequence[subprocess.Popen], deadline: float, what: str) -> None:
    dead = [process for process in processes if process.poll() is not None]
    if dead:
        raise JobError(f"{what}: `{' '.join(map(str, dead[0].args[:3]))} ...` exited with code {dead[0].returncode}")
    if time.monotonic() > deadline:
        raise JobError(f"{what} within the join timeout (ray.join_timeout_s in the cluster file)")
    time.sleep(1)


def sweep_started(sweep_dir: Path) -> bool:
    """The CLI's rule for a sweep that --resume continues: its tune/ folder holds something."""
    tune_dir = sweep_dir / "tune"
    return tune_dir.is_dir() and any(tune_dir.iterdir())


def driver_command(options: JobOptions, address: str) -> list[str]:
    argv = list(options.driver_argv)
    if sweep_started(options.sweep_dir) and "--resume" not in argv:
        argv.append("--resume")
    return [sys.executable, "-m", "asib_sweeps.cli.sweep", *argv, "--address", address]


def print_access(allocation: Allocation, ports: RayPorts, options: JobOptions) -> None:
    env = os.environ
    head = allocation.this_node
    print(
        f"job {allocation.job_id} (restart {allocation.restart}): Ray head on {head}, {len(allocation.nodes)} node(s)"
    )
    print(f"Ray temp dir {env['RAY_TMPDIR']}; ports {ports.gcs}..{ports.max_worker}")
    if options.dashboard:
        port = ports.dashboard
        print(f"dashboard: on {head} at 127.0.0.1:{port} only; open it with: ssh -N -L {port}:127.0.0.1:{port} {head}")
        print(f"  (from outside the cluster add -J <login node>), then http://127.0.0.1:{port}")
        print(f"dashboard token: in {env['RAY_AUTH_TOKEN_PATH']} (owner-only); paste it on the login page")
    sys.stdout.flush()


def run_job(options: JobOptions) -> int:
    """Boot Ray over the allocation, run the driver, stop Ray; requeue after a time-limit stop."""
    allocation = Allocation.from_environment(cpus_fallback=options.cpus_per_node)
    forwarder = StopForwarder()
    forwarder.install()
    ports = job_ports(allocation.job_id, port_base=options.port_base)
    set_job_environment(options, allocation)
    node_ip = _node_ip()
    address = f"{node_ip}:{ports.gcs}"
    os.environ["RAY_ADDRESS"] = address  # ray.init() anywhere in the job joins this cluster, no other
    print_access(allocation, ports, options)
    ray = ray_executable()
    head_argv = head_start_args(
        ray, ports, node_ip=node_ip, cpus=allocation.cpus_on_node, gpus=allocation.gpus_on_node,
        dashboard=options.dashboard, temp_dir=Path(os.environ["RAY_TMPDIR"]),
    )  # fmt: skip
    started = [start_in_own_group(head_argv)]
    code = 1
    try:
        if len(allocation.nodes) > 1:
            started.append(start_workers(options, allocation, address))
        wait_for_nodes(address, count=len(allocation.nodes), timeout_s=options.join_timeout_s, processes=started)
        forwarder.install()  # again: ray.init in wait_for_nodes replaced the SIGTERM handler
        print(f"all {len(allocation.nodes)} Ray node(s) joined; starting the sweep", flush=True)
        if not forwarder.stop_requested:
            command = driver_command(options, address)
            code = forwarder.wait(subprocess.Popen(command))
        else:
            code = EXIT_INTERRUPTED
    except JobError as error:
        print(f"job: error: {error}", file=sys.stderr, flush=True)
    finally:
        stop_groups(started)
        shutil.rmtree(os.environ["RAY_TMPDIR"], ignore_errors=True)
    return _after_driver(code, allocation, requeue=options.requeue and forwarder.time_limit)


def _node_ip() -> str:
    import ray

    return ray.util.get_node_ip_address()


def _after_driver(code: int, allocation: Allocation, *, requeue: bool) -> int:
    print(f"sweep driver exited with code {code}", flush=True)
    if requeue and code != 0:
        print(f"requeueing job {allocation.job_id}: its next run resumes the sweep from its saved state", flush=True)
        subprocess.run(["scontrol", "requeue", str(allocation.job_id)], check=True)
    return code


def run_worker(head: str, *, port_base: int, cpus: int) -> int:
    """A worker node: `ray start --block` with this node's CPUs and GPUs, stopped with its group on SIGTERM."""
    job_id = int(os.environ["SLURM_JOB_ID"])
    cpus_here = int(os.environ.get("SLURM_CPUS_ON_NODE") or cpus)
    temp_dir = Path(os.environ["RAY_TMPDIR"])  # the batch step's per-job path, made on this node too
    temp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    argv = worker_start_args(
        ray_executable(), job_ports(job_id, port_base=port_base), head_address=head, cpus=cpus_here,
        gpus=_gpus_on_node(), temp_dir=temp_dir,
    )  # fmt: skip
    worker = start_in_own_group(argv)
    # srun forwards the job's SIGTERM here; leave wait() through SystemExit so `finally` stops the node.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return worker.wait()
    finally:
        stop_groups([worker])
        shutil.rmtree(temp_dir, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cluster.slurm_job", description=__doc__.split("\n\n")[0])
    roles = parser.add_subparsers(dest="role", required=True)
    run = roles.add_parser("run", help="the batch step: Ray head, workers, the sweep driver")
    run.add_argument("--sweep-dir", type=Path, required=True)
    run.add_argument("--port-base", type=int, required=True)
    run.add_argument("--temp-root", type=Path, required=True)
    run.add_argument("--join-timeout", type=int, required=True)
    run.add_argument("--cpus-per-node", type=int, required=True)
    run.add_argument("--dashboard", action=argparse.BooleanOptionalAction, required=True)
    run.add_argument("--requeue", action=argparse.BooleanOptionalAction, required=True)
    run.add_argument("driver_argv", nargs=argparse.REMAINDER, help="-- STUDY [asib-sweep options]")
    worker = roles.add_parser("worker", help="one worker node (run by srun)")
    worker.add_argument("--head", required=True)
    worker.add_argument("--port-base", type=int, required=True)
    worker.add_argument("--cpus", type=int, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.role == "worker":
        return run_worker(args.head, port_base=args.port_base, cpus=args.cpus)
    driver_argv = args.driver_argv[1:] if args.driver_argv[:1] == ["--"] else args.driver_argv
    options = JobOptions(
        sweep_dir=args.sweep_dir, driver_argv=driver_argv, port_base=args.port_base, temp_root=args.temp_root,
        join_timeout_s=args.join_timeout, dashboard=args.dashboard, requeue=args.requeue,
        cpus_per_node=args.cpus_per_node,
    )  # fmt: skip
    try:
        return run_job(options)
    except JobError as error:
        print(f"job: error: {error}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
