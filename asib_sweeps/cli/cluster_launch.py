"""`--cluster slurm.yaml`: the same study, submitted as a SLURM job (or booted in the allocation it runs in).

The CLI validates every option as for a local sweep; this module validates the
cluster file against them, then either writes the sbatch script and submits it (from
a login node), writes it only (`--no-submit`), or, inside an allocation (SLURM_JOB_ID
set), runs the job's boot right here. The job's driver gets the very options typed
here, rebuilt from the parsed namespace (so abbreviations and `--opt=value` forms
travel too), minus the cluster options and with the results folder made absolute.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the cluster modules (pydantic, yaml) only with --cluster, not for every --help
    from asib_sweeps.cli.input_checks import Fail
    from asib_sweeps.cli.sweep_request import SweepRequest
    from cluster.slurm_config import SlurmConfig
    from cluster.slurm_script import JobScript

NOT_FORWARDED = {"help", "cluster", "no_submit", "dashboard", "address", "dry_run"}
"""Options the job's driver does not get: the cluster ones, and those the job sets itself."""
DEFAULT_RESULTS = Path("results")


def add_cluster_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--cluster",
        type=Path,
        metavar="FILE",
        help="run on SLURM as described by FILE (see cluster/slurm.example.yaml)",
    )
    group.add_argument(
        "--no-submit", action="store_true", help="with --cluster: write the sbatch script, submit nothing"
    )


def prepare_cluster(request: SweepRequest, fail: Fail) -> tuple[SlurmConfig | None, SweepRequest]:
    """Load and cross-check the cluster file (None without --cluster), and the request with the results
    folder it names and its paths absolute (the job runs them from its own working directory)."""
    if request.cluster is None:
        if request.no_submit:
            fail("--no-submit needs --cluster FILE")
        return None, request
    if request.address is not None:
        fail("--address joins a running Ray; --cluster starts one in a SLURM job: pass one of them")
    paths = (("--cluster", request.cluster), ("--results", request.results), ("--teacher-cache", request.teacher_cache))
    for option, path in paths:
        if path is not None and any(unicodedata.category(char).startswith("C") for char in str(path)):
            fail(
                f"{option} must not contain line breaks or other control characters (they would end a line "
                f"of the job script); got {option} {str(path)!r}"
            )
    from cluster.slurm_config import SlurmConfigError, check_trial_fits, load_slurm_config

    try:
        config = load_slurm_config(request.cluster)
    except SlurmConfigError as error:
        fail(str(error))
    problem = check_trial_fits(config, gpus_per_trial=request.gpus_per_trial, cpus_per_trial=request.cpus_per_trial)
    if problem:
        fail(f"{problem} ({request.cluster})")
    if request.dashboard is not None:  # --dashboard/--no-dashboard decide for the job's head too
        config = config.model_copy(update={"ray": config.ray.model_copy(update={"dashboard": request.dashboard})})
    results = request.results
    if config.results is not None:
        named = Path(config.results).expanduser()
        if results not in (DEFAULT_RESULTS, named):
            fail(f"--results {results} differs from results: {config.results} in {request.cluster}; pass one of them")
        results = named
    teacher_cache = request.teacher_cache.resolve() if request.teacher_cache is not None else None
    return config, replace(request, results=results.resolve(), teacher_cache=teacher_cache)


def study_parser(parser: argparse.ArgumentParser, study: str) -> argparse.ArgumentParser:
    """The subcommand parser of `study` in asib-sweep's parser."""
    subcommands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return subcommands.choices[study]


def driver_argv(parser: argparse.ArgumentParser, request: SweepRequest) -> list[str]:
    """The asib-sweep argv that parses back into `request` (without the cluster options)."""
    study = request.study
    actions = study_parser(parser, study)._actions
    # Positionals (tune's STUDY) right after the study, before any option with nargs="+" could take them.
    argv = [study, *(str(request.value(a.dest)) for a in actions if not a.option_strings and a.dest != "help")]
    for action in actions:
        if not action.option_strings or action.dest in NOT_FORWARDED:
            continue
        value = request.value(action.dest, action.default)
        if value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(flag if value else f"--no-{flag.removeprefix('--')}")
        elif action.nargs == 0:  # store_true
            argv.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                argv += [flag, str(item)]
        elif action.nargs in ("+", "*"):
            argv += [flag, *map(str, value)]
        elif action.nargs is None:
            argv += [flag, str(value)]
        else:
            raise TypeError(f"cannot forward option {flag} (nargs={action.nargs!r}) to the job")
    return argv


def launch(request: SweepRequest, config: SlurmConfig, *, parser: argparse.ArgumentParser, name: str, fail: Fail) -> int:
    """Boot here inside an allocation, else write the script and (unless --no-submit) submit it."""
    from asib_sweeps.cli.status import COMMAND_FILE
    from cluster.dashboard import write_token_file
    from cluster.slurm_job import TOKEN_FILE, JobOptions, run_job
    from cluster.slurm_script import JobScript, write_script
    from cluster.slurm_submit import SubmitError, record_job, submit

    assert request.cluster is not None, "launch is for a request with --cluster"
    sweep_dir = request.results / name
    job = JobScript(
        study=request.study,
        sweep_dir=sweep_dir,
        driver_argv=driver_argv(parser, request),
        python=config.python or sys.executable,
        workdir=Path.cwd(),
        cluster_file=request.cluster.resolve(),
    )
    if "SLURM_JOB_ID" in os.environ and not request.no_submit:
        print(f"inside SLURM job {os.environ['SLURM_JOB_ID']}: booting Ray over its nodes here, submitting nothing")
        options = JobOptions(
            sweep_dir=sweep_dir,
            driver_argv=job.driver_argv,
            port_base=config.ray.port_base,
            temp_root=Path(config.ray.temp_dir),
            join_timeout_s=config.ray.join_timeout_s,
            dashboard=config.ray.dashboard,
            requeue=False,  # no batch script to requeue; the allocation is the user's
            cpus_per_node=config.cpus_per_node,
        )
        return run_job(options)
    check_no_active_job(job, fail)
    try:
        script = write_script(config, job)
    except ValueError as error:
        fail(str(error))
    token = write_token_file(job.slurm_dir / TOKEN_FILE)
    command = ["asib-sweep", *job.driver_argv, "--cluster", str(job.cluster_file)]
    (job.slurm_dir / COMMAND_FILE).write_text(shlex.join(command) + "\n")
    if request.no_submit:
        print(f"wrote {script}\nsubmit it with: sbatch {script}\ndashboard token: {token} (owner-only)")
        return 0
    try:
        job_id = submit(script)
    except SubmitError as error:
        fail(str(error))
    record_job(job.slurm_dir, job_id)
    print_submitted(job, config, job_id, token)
    return 0


def check_no_active_job(job: JobScript, fail: Fail) -> None:
    """Two jobs driving one sweep folder would corrupt it: refuse while an earlier one is queued or running."""
    from cluster.slurm_submit import ACTIVE_STATES, job_state, recorded_jobs

    for job_id in recorded_jobs(job.slurm_dir):
        state = job_state(job_id)
        if state in ACTIVE_STATES:
            fail(f"job {job_id} of {job.sweep_dir} is still {state}; wait for it or `scancel {job_id}` first")


def print_submitted(job: JobScript, config: SlurmConfig, job_id: int, token: Path) -> None:
    from cluster.ray_nodes import job_ports

    port = job_ports(job_id, port_base=config.ray.port_base).dashboard
    gpus = f" x {config.gpus_per_node} GPU(s)" if config.gpus_per_node else ""
    log = job.log_path(job_id)
    lines = [
        f"submitted job {job_id}: asib-sweep {job.study} on {config.nodes} node(s){gpus}",
        f"script: {job.script_path}",
        f"log:    {log}",
        f"follow: tail -f {log}    state: asib-sweep status {job.sweep_dir}",
    ]
    if config.ray.dashboard:
        lines += [
            f"dashboard: once it runs, on the head node (squeue -j {job_id} -o %N, first node) at 127.0.0.1:{port}:",
            f"  ssh -N -L {port}:127.0.0.1:{port} <head node>   then open http://127.0.0.1:{port}",
            f"  token: {token} (owner-only); paste it on the login page",
        ]
    lines.append(f"cancel: scancel {job_id}    (continue later: the same command plus --resume)")
    print("\n".join(lines), flush=True)
