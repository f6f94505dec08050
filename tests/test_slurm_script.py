"""The rendered sbatch script (1 and 4 nodes), the driver argv it carries, and the per-job Ray ports."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest
import yaml

from asib_sweeps.cli.cluster_launch import driver_argv
from asib_sweeps.cli.sweep import build_parser, main, request_from_argv
from cluster.ray_nodes import RAY_PORT_SPAN, head_start_args, job_ports, worker_start_args

TRICKY_ROOT = "/data/my set; $(touch /tmp/pwned) 'q'"
ARGV = [
    "ablation", "--seeds", "2", "--set", "epochs=8", "--set", "optim.lr=0.05", "--data-root", TRICKY_ROOT,
    "--gpus-per-trial", "0.5", "--max-concurrent", "8", "--name", "abl-4n",
]  # fmt: skip


def render(tmp_path: Path, cluster: dict, argv: list[str]) -> tuple[str, Path]:
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump({"cpus_per_node": 8, "time": "02:00:00", "results": str(tmp_path / "r"), **cluster}))
    assert main([*argv, "--cluster", str(path), "--no-submit"]) == 0
    name = argv[argv.index("--name") + 1] if "--name" in argv else argv[0]
    script = tmp_path / "r" / name / "slurm" / "job.sbatch"
    return script.read_text(), script


def sbatch_options(script: str) -> list[str]:
    return [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH ")]


def exec_argv(script: str) -> list[str]:
    """The job command as bash itself splits it (printf each word), not as Python would."""
    line = next(line for line in script.splitlines() if line.startswith("exec "))
    words = subprocess.run(
        ["bash", "-c", "printf '%s\\0' " + line.removeprefix("exec ")], capture_output=True, text=True, check=True
    ).stdout
    return words.split("\0")[:-1]


def test_one_node_cpu_script(tmp_path):
    script, path = render(tmp_path, {}, ["ablation", "--seeds", "1"])
    options = sbatch_options(script)
    assert options[:4] == ["--job-name=asib-sweep", "--nodes=1", "--ntasks-per-node=1", "--cpus-per-task=8"]
    assert not any(option.startswith("--gpus") for option in options)
    assert f"--output={path.parent}/job-%j.log" in options and "--open-mode=append" in options
    assert "--signal=B:USR1@300" in options and "--requeue" in options and "--time=02:00:00" in options
    assert f"--chdir={Path.cwd()}" in options
    assert path.stat().st_mode & 0o777 == 0o700 and (path.parent / "ray_auth_token").stat().st_mode & 0o777 == 0o600
    job = exec_argv(script)
    assert job[1:4] == ["-m", "cluster.slurm_job", "run"] and "--no-dashboard" not in job
    assert job[job.index("--") + 1 :] == ["ablation", "--results", str(tmp_path / "r"), "--seeds", "1"]
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0


def test_four_node_gpu_script_carries_every_option_quoted(tmp_path):
    cluster = {
        "nodes": 4, "gpus_per_node": 4, "mem": "64G", "partition": "gpu", "account": "proj", "qos": "high",
        "job_name": "abl", "setup": ["module load cuda", "source /env/bin/activate"], "requeue": False,
        "sbatch_options": ["--constraint=a100", "--exclusive"], "stop_grace_s": 120,
        "ray": {"port_base": 30000, "temp_dir": "/dev/shm", "dashboard": False},
    }  # fmt: skip
    script, _ = render(tmp_path, cluster, ARGV)
    options = sbatch_options(script)
    for expected in (
        "--nodes=4", "--gpus-per-node=4", "--mem=64G", "--partition=gpu", "--account=proj", "--qos=high",
        "--job-name=abl", "--no-requeue", "--signal=B:USR1@120", "--constraint=a100", "--exclusive",
    ):  # fmt: skip
        assert expected in options
    assert "module load cuda\nsource /env/bin/activate\n" in script
    job = exec_argv(script)
    runner = job[: job.index("--")]
    for flag, value in (("--port-base", "30000"), ("--temp-root", "/dev/shm"), ("--cpus-per-node", "8")):
        assert runner[runner.index(flag) + 1] == value
    assert "--no-dashboard" in runner and "--no-requeue" in runner
    driver = job[job.index("--") + 1 :]
    assert TRICKY_ROOT in driver and not Path("/tmp/pwned").exists()  # one word, never run by the shell
    parser = build_parser()
    reparsed, original = parser.parse_args(driver), parser.parse_args(ARGV)
    for key, value in vars(original).items():
        if key not in ("results", "cluster", "no_submit"):
            assert getattr(reparsed, key) == value, key
    assert reparsed.results == tmp_path / "r"


def test_driver_argv_round_trips_every_option_kind():
    argv = [
        "overlap", "--overlaps", "0", "50", "--set", "epochs=2", "--download", "--dataset", "cifar100",
        "--data-root", "/d", "--cpus-per-trial", "2", "--resume", "--teacher-cache", "/t", "--checkpoint-every", "3",
        "--track", "mlflow", "--track", "wandb",
    ]  # fmt: skip
    parser = build_parser()
    request, _ = request_from_argv(argv)
    assert request_from_argv(driver_argv(parser, request))[0] == request
    assert vars(parser.parse_args(driver_argv(parser, request))) == vars(parser.parse_args(argv))
    dashboard, _ = request_from_argv(["beta", "--asha", "--no-dashboard", "--cluster", "c.yaml", "--no-submit"])
    forwarded = driver_argv(parser, dashboard)
    assert forwarded == ["beta", "--asha"]  # cluster options stay on the login node; the job sets --address
    tune, _ = request_from_argv(["tune", "sota", "--arms", "kd", "dkd", "--budget", "4"])
    assert request_from_argv(driver_argv(parser, tune))[0] == tune  # the positional STUDY too


def test_two_job_ids_get_disjoint_ports_and_every_ray_port_comes_from_the_block():
    first, second = job_ports(1234, port_base=20000), job_ports(1235, port_base=20000)
    assert first.all_ports().isdisjoint(second.all_ports())
    assert len(first.all_ports()) == RAY_PORT_SPAN - 1 and max(first.all_ports()) < 65536
    assert job_ports(1234 + (65536 - 20000) // RAY_PORT_SPAN, port_base=20000) == first  # the blocks wrap around
    temp = Path("/tmp/ray-1234-0")
    head = head_start_args(Path("ray"), first, node_ip="10.0.0.1", cpus=8, gpus=4, dashboard=True, temp_dir=temp)
    worker = worker_start_args(Path("ray"), first, head_address="10.0.0.1:1", cpus=8, gpus=4, temp_dir=temp)
    for args in (head, worker):
        numbers = {int(args[i + 1]) for i, arg in enumerate(args) if arg.endswith("-port")}
        assert numbers and numbers <= first.all_ports()
    assert head[head.index("--dashboard-host") + 1] == "127.0.0.1"
    assert {"--port", "--dashboard-port", "--ray-client-server-port"} <= set(head)
    assert head[head.index("--num-gpus") + 1] == "4" and head[head.index("--num-cpus") + 1] == "8"


@pytest.mark.parametrize("bad", ["/tmp/with space", "/tmp/100%"])
def test_a_sweep_folder_sbatch_cannot_take_is_refused(tmp_path, capsys, bad):
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump({"cpus_per_node": 2, "time": "10", "stop_grace_s": 30, "results": bad}))
    with pytest.raises(SystemExit) as exited:
        main(["ablation", "--cluster", str(path), "--no-submit"])
    assert exited.value.code == 2 and "must not contain spaces or '%'" in capsys.readouterr().err
    assert not isinstance(exited.value, argparse.ArgumentError)
