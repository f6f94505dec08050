"""slurm.yaml: the allocation a sweep asks SLURM for, validated before anything is submitted.

Strict like the run config: unknown keys, wrong types and impossible values are
`SlurmConfigError`s naming the file, the key, the value and what is allowed. The
annotated example is `cluster/slurm.example.yaml`; docs/CLUSTER.md lists every key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TIME_FORMATS = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
_TIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")
_MEM = re.compile(r"^\d+[KMGT]?$")
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SBATCH_OPTION = re.compile(r"^--[a-z][a-z0-9-]*(=\S.*)?$")
MAX_TEMP_ROOT_CHARS = 24
"""Ray's Unix sockets live under <temp_dir>/ray-<job>-<restart>/session_<date>_<pid>/sockets/,
and a socket path over 107 bytes breaks Ray; 24 characters leave room for the rest."""
RAY_PORT_SPAN = 200
"""Ports one job's Ray uses (fixed ports, then its worker port range): see cluster.ray_nodes."""


class SlurmConfigError(ValueError):
    """A slurm.yaml that cannot be submitted; the message names file, key, value and rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RayOptions(_Strict):
    port_base: int = Field(20000, ge=1024, le=65535 - RAY_PORT_SPAN)
    """First port of the range the job's Ray ports are drawn from (by job id)."""
    temp_dir: str = "/tmp"
    """Node-local root of the per-job Ray temp dir (<temp_dir>/ray-<job id>-<restart>)."""
    join_timeout_s: int = Field(300, ge=10)
    """How long the head waits for every node to join before the job fails."""
    dashboard: bool = True
    """The Ray dashboard on the head node (127.0.0.1 only, token auth)."""

    @field_validator("temp_dir")
    @classmethod
    def _short_absolute(cls, value: str) -> str:
        if not value.startswith("/") or len(value) > MAX_TEMP_ROOT_CHARS or any(c.isspace() for c in value):
            raise ValueError(
                f"must be an absolute node-local path of at most {MAX_TEMP_ROOT_CHARS} characters without spaces "
                "(Ray's socket paths are capped at 107 bytes)"
            )
        return value


class SlurmConfig(_Strict):
    """One allocation: `nodes` nodes, each with `gpus_per_node` GPUs and `cpus_per_node` CPUs."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: int = Field(1, ge=1)
    gpus_per_node: int = Field(0, ge=0)
    cpus_per_node: int = Field(ge=1)
    mem: str | None = None
    """Memory per node in SLURM's syntax (64G, 500000M, 0 = all of it); None: the partition default."""
    time: str
    """Time limit, in SLURM's syntax (see TIME_FORMATS)."""
    job_name: str = "asib-sweep"
    setup: list[str] = []
    """Shell lines run before the job starts Ray (module loads, environment activation)."""
    sbatch_options: list[str] = []
    """Extra sbatch options, one per item, as `--option=value`."""
    results: str | None = None
    """Absolute results directory on storage every node sees; None: the CLI's --results, made absolute."""
    python: str | None = None
    """Interpreter the job runs; None: the one running asib-sweep on the login node."""
    requeue: bool = True
    """Requeue the job after a time-limit stop, to resume where it stopped."""
    stop_grace_s: int = Field(300, ge=30)
    """Seconds before the time limit at which the sweep is told to save and stop."""
    ray: RayOptions = RayOptions()

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str) -> str:
        time_limit_seconds(value)
        return value

    @field_validator("mem")
    @classmethod
    def _slurm_mem(cls, value: str | None) -> str | None:
        if value is not None and not _MEM.match(value):
            raise ValueError("must be a number with an optional unit K, M, G or T (e.g. 64G), or 0 for all memory")
        return value

    @field_validator("job_name")
    @classmethod
    def _job_name(cls, value: str) -> str:
        if not _JOB_NAME.match(value):
            raise ValueError("must be letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("partition", "account", "qos")
    @classmethod
    def _plain_word(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9._,-]+$", value):
            raise ValueError("must be a SLURM name (letters, digits, '.', '_', '-', ',')")
        return value

    @field_validator("setup")
    @classmethod
    def _one_line_each(cls, lines: list[str]) -> list[str]:
        if any("\n" in line or "\r" in line for line in lines):
            raise ValueError("each item must be a single shell line")
        return lines

    @field_validator("sbatch_options")
    @classmethod
    def _sbatch_options(cls, options: list[str]) -> list[str]:
        bad = [option for option in options if not _SBATCH_OPTION.match(option) or "\n" in option]
        if bad:
            raise ValueError(f"each item must look like --option or --option=value; got {bad[0]!r}")
        return options

    @field_validator("results", "python")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_absolute():
            raise ValueError("must be an absolute path (the job's nodes resolve it, not this shell)")
        return value

    @model_validator(mode="after")
    def _grace_within_limit(self) -> SlurmConfig:
        limit = time_limit_seconds(self.time)
        if self.stop_grace_s >= limit:
            raise ValueError(f"stop_grace_s={self.stop_grace_s} must be shorter than time={self.time!r} ({limit} s)")
        return self

    @property
    def time_limit_s(self) -> int:
        return time_limit_seconds(self.time)


def time_limit_seconds(value: str) -> int:
    """Seconds in a SLURM time limit; ValueError naming the formats for anything else."""
    match = _TIME.match(value)
    if not match:
        raise ValueError(f"must be a SLURM time limit: {TIME_FORMATS}")
    days, a, b, c = (int(part) if part else None for part in match.group("days", "a", "b", "c"))
    if days is None:
        hours, minutes, seconds = (a, b, c) if c is not None else (0, a, b or 0)
    else:
        hours, minutes, seconds = a, b or 0, c or 0
    if minutes >= 60 and (days is not None or c is not None) or seconds >= 60:
        raise ValueError(f"must be a SLURM time limit: {TIME_FORMATS} (minutes and seconds below 60)")
    total = (((days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise ValueError("must be a positive time limit")
    return total


def load_slurm_config(path: Path) -> SlurmConfig:
    """Read and validate `path` (yaml.safe_load); SlurmConfigError names the file, the key and the rule."""
    try:
        data: Any = yaml.safe_load(path.read_text())
    except OSError as error:
        raise SlurmConfigError(f"{path}: cannot read the cluster file: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise SlurmConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise SlurmConfigError(f"{path}: must hold a YAML mapping of slurm.yaml keys, got {type(data).__name__}")
    try:
        return SlurmConfig.model_validate(data)
    except ValidationError as error:
        raise SlurmConfigError(f"{path}: invalid slurm.yaml:\n  " + "\n  ".join(_describe(error))) from None


def _describe(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "slurm.yaml"
        if item["type"] == "extra_forbidden":
            section = RayOptions if item["loc"][:1] == ("ray",) else SlurmConfig
            lines.append(f"unknown key {key!r}; allowed here: {', '.join(section.model_fields)}")
        elif item["type"] == "missing":
            lines.append(f"{key} is required")
        else:
            message = item["msg"].removeprefix("Value error, ")
            value = item["input"]
            lines.append(f"{key}={value!r}: {message}" if not isinstance(value, dict) else f"{key}: {message}")
    return lines


def check_trial_fits(config: SlurmConfig, *, gpus_per_trial: float, cpus_per_trial: float) -> str | None:
    """Why a trial of this size can never run on one node of the allocation, or None when it fits."""
    if gpus_per_trial > config.gpus_per_node:
        return (
            f"--gpus-per-trial={gpus_per_trial:g} is more than a node has: gpus_per_node={config.gpus_per_node} "
            "in the cluster file (a trial runs on one node)"
        )
    if cpus_per_trial > config.cpus_per_node:
        return (
            f"--cpus-per-trial={cpus_per_trial:g} is more than a node has: cpus_per_node={config.cpus_per_node} "
            "in the cluster file"
        )
    return None
