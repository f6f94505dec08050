"""The sbatch script of a sweep: #SBATCH lines from slurm.yaml, then the in-allocation job command.

The template (`slurm_job.sbatch`, shipped as package data) holds the fixed part; every
value put into it is either a validated slurm.yaml value or a shlex-quoted argv
element, so nothing typed on the command line becomes shell syntax.
"""

from __future__ import annotations

import shlex
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cluster.slurm_config import SlurmConfig

TEMPLATE = "slurm_job.sbatch"
SCRIPT_NAME = "job.sbatch"
LOG_PATTERN = "job-%j.log"


@dataclass(frozen=True)
class JobScript:
    """What the job runs: the sweep's folder, the driver's argv, the interpreter and working directory."""

    study: str
    sweep_dir: Path
    driver_argv: list[str]
    python: str
    workdir: Path
    cluster_file: Path

    @property
    def slurm_dir(self) -> Path:
        return self.sweep_dir / "slurm"

    @property
    def script_path(self) -> Path:
        return self.slurm_dir / SCRIPT_NAME

    def log_path(self, job_id: int | str) -> Path:
        return self.slurm_dir / LOG_PATTERN.replace("%j", str(job_id))


def _sbatch_path(path: Path, what: str) -> str:
    """A path for an #SBATCH line, which sbatch splits on spaces and expands %-patterns in."""
    text = str(path)
    if any(char.isspace() or char == "%" for char in text):
        raise ValueError(f"{what} must not contain spaces or '%' (sbatch cannot take it), got {text!r}")
    return text


def sbatch_lines(config: SlurmConfig, job: JobScript) -> list[str]:
    options = [
        f"--job-name={config.job_name}",
        f"--nodes={config.nodes}",
        "--ntasks-per-node=1",
        f"--cpus-per-task={config.cpus_per_node}",
    ]
    if config.gpus_per_node:
        options.append(f"--gpus-per-node={config.gpus_per_node}")
    if config.mem is not None:
        options.append(f"--mem={config.mem}")
    options.append(f"--time={config.time}")
    for key in ("partition", "account", "qos"):
        if getattr(config, key) is not None:
            options.append(f"--{key}={getattr(config, key)}")
    options += [
        f"--output={_sbatch_path(job.slurm_dir, 'the sweep folder')}/{LOG_PATTERN}",
        "--open-mode=append",  # a requeued run appends to the same log
        f"--chdir={_sbatch_path(job.workdir, 'the working directory')}",
        f"--signal=B:USR1@{config.stop_grace_s}",
        "--requeue" if config.requeue else "--no-requeue",
        *config.sbatch_options,
    ]
    return [f"#SBATCH {option}" for option in options]


def job_command(config: SlurmConfig, job: JobScript) -> list[str]:
    """`python -m cluster.slurm_job run ... -- STUDY ...`: the batch step's whole work."""
    ray = config.ray
    return [
        job.python, "-m", "cluster.slurm_job", "run",
        "--sweep-dir", str(job.sweep_dir),
        "--port-base", str(ray.port_base),
        "--temp-root", ray.temp_dir,
        "--join-timeout", str(ray.join_timeout_s),
        "--cpus-per-node", str(config.cpus_per_node),
        "--dashboard" if ray.dashboard else "--no-dashboard",
        "--requeue" if config.requeue else "--no-requeue",
        "--", *job.driver_argv,
    ]  # fmt: skip


def _comment_value(text: str, what: str) -> str:
    """`text` shell-quoted for a `#` comment line of the header: a line break in it would end the comment
    and make the rest a live line (an #SBATCH option, or a command), so control characters are refused."""
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise ValueError(f"{what} must not contain line breaks or other control characters, got {text!r}")
    return shlex.quote(text)


def render_script(config: SlurmConfig, job: JobScript) -> str:
    template = resources.files("cluster").joinpath(TEMPLATE).read_text()
    return template.format(
        study=_comment_value(job.study, "the study"),
        cluster_file=_comment_value(str(job.cluster_file), "the --cluster path"),
        script=_comment_value(str(job.script_path), "the job script path (--results, --name)"),
        sbatch_lines="\n".join(sbatch_lines(config, job)),
        setup_lines="\n".join(config.setup) if config.setup else "# (none)",
        job_command=shlex.join(job_command(config, job)),
    )


def write_script(config: SlurmConfig, job: JobScript) -> Path:
    """Write the rendered script to <sweep>/slurm/job.sbatch (executable by its owner) and return its path."""
    job.slurm_dir.mkdir(parents=True, exist_ok=True)
    job.script_path.write_text(render_script(config, job))
    job.script_path.chmod(0o700)
    return job.script_path
