"""slurm.yaml validation and `--cluster` option checks: every bad value exits 2 before anything is submitted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asib_sweeps.cli.sweep import main
from cluster.slurm_config import SlurmConfigError, load_slurm_config, time_limit_seconds

EXAMPLE = Path(__file__).resolve().parents[1] / "cluster" / "slurm.example.yaml"
MINIMAL = {"cpus_per_node": 2, "time": "00:10:00"}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "slurm.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_example_is_valid_and_sets_every_key():
    config = load_slurm_config(EXAMPLE)
    assert config.nodes == 2 and config.gpus_per_node == 4 and config.time_limit_s == 24 * 3600
    written = set(yaml.safe_load(EXAMPLE.read_text())) | {"qos", "python"}  # those two are commented out
    assert written == set(type(config).model_fields)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90", 5400), ("10:30", 630), ("01:00:00", 3600), ("2-0", 172800), ("1-02:03", 93780), ("1-00:00:05", 86405)],
)
def test_slurm_time_formats(value, seconds):
    assert time_limit_seconds(value) == seconds


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"gpus": 1}, "unknown key 'gpus'; allowed here: partition"),
        ({"ray": {"port": 1}}, "unknown key 'ray.port'; allowed here: port_base"),
        ({"nodes": -1}, "nodes=-1: Input should be greater than or equal to 1"),
        ({"nodes": "2"}, "nodes='2': Input should be a valid integer"),
        ({"time": "1 day"}, "time='1 day': must be a SLURM time limit: MM, MM:SS"),
        ({"time": "01:75:00"}, "minutes and seconds below 60"),
        ({"stop_grace_s": 900}, "stop_grace_s=900 must be shorter than time='00:10:00' (600 s)"),
        ({"mem": "lots"}, "mem='lots': must be a number with an optional unit"),
        ({"results": "relative/dir"}, "results='relative/dir': must be an absolute path"),
        ({"ray": {"temp_dir": "/scratch/a/very/long/node/local/dir"}}, "at most 24 characters"),
        ({"sbatch_options": ["constraint=a100"]}, "each item must look like --option"),
        ({"setup": ["module load x\nrm -rf ~"]}, "each item must be a single shell line"),
        ({"cpus_per_node": None}, "cpus_per_node=None: Input should be a valid integer"),
    ],
)
def test_bad_values_name_the_file_the_key_and_what_is_allowed(tmp_path, change, expected):
    path = write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(SlurmConfigError) as error:
        load_slurm_config(path)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_a_missing_key_and_a_non_mapping_are_reported(tmp_path):
    with pytest.raises(SlurmConfigError, match="time is required"):
        load_slurm_config(write(tmp_path, {"cpus_per_node": 2}))
    with pytest.raises(SlurmConfigError, match="must hold a YAML mapping"):
        load_slurm_config(write(tmp_path, ["nodes", 2]))
    with pytest.raises(SlurmConfigError, match="cannot read the cluster file"):
        load_slurm_config(tmp_path / "absent.yaml")


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    return exited.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "cluster", "expected"),
    [
        (
            ["--gpus-per-trial", "2"],
            {"gpus_per_node": 1},
            "--gpus-per-trial=2 is more than a node has: gpus_per_node=1",
        ),
        (["--gpus-per-trial", "0.5"], {}, "--gpus-per-trial=0.5 is more than a node has: gpus_per_node=0"),
        (["--cpus-per-trial", "4"], {}, "--cpus-per-trial=4 is more than a node has: cpus_per_node=2"),
        (["--address", "10.0.0.1:6379"], {}, "--address joins a running Ray; --cluster starts one"),
        (["--results", "elsewhere"], {"results": "/shared/r"}, "--results elsewhere differs from results: /shared/r"),
        (["--seeds", "0"], {}, "--seeds must be >= 1"),
        (["--set", "epochs=-3"], {}, "--set epochs=-3: epochs=-3: Input should be greater than or equal to 1"),
        ([], {"nodes": 0}, "nodes=0: Input should be greater than or equal to 1"),
    ],
)
def test_the_cli_exits_2_before_submitting(tmp_path, capsys, options, cluster, expected):
    path = write(tmp_path, {**MINIMAL, **cluster})
    results = tmp_path / "results"
    code, err = run_cli(capsys, "ablation", "--cluster", str(path), "--results", str(results), *options)
    assert code == 2 and expected in err
    assert not results.exists()  # no script written, nothing submitted


def test_no_submit_needs_a_cluster_file(capsys):
    code, err = run_cli(capsys, "ablation", "--no-submit")
    assert code == 2 and "--no-submit needs --cluster FILE" in err
