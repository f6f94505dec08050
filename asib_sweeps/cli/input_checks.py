"""The plan step's checks of names, numbers and paths: every one runs before Ray starts.

asib_sweeps.cli.sweep calls these between parsing and running, so a value that cannot
work is a usage error (exit 2, naming the option or config key, the value and what is
allowed) and nothing is started or written. Three rules cover whole kinds of input:

- numbers: a float option must be finite (`finite_float`, argparse's type for them; the
  config's sections refuse inf and nan themselves: asib_sweeps.config_section);
- paths: every path of the config is made absolute (symlinks resolved) once, here, so a
  trial's working directory cannot change what it names and two spellings of one data
  root give one teacher key; inputs must be readable, outputs writable with room;
- names: a sweep name is one plain folder name that no other part of the layout uses.

Only the standard library at the top: `--help` and option errors must stay fast.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig

Fail = Callable[[str], NoReturn]
"""Reports a usage error and does not return: asib-sweep exits with code 2, `run_study` raises."""
DEFAULT_TEACHER_FOLDER = "teachers"
RESERVED_NAMES = (DEFAULT_TEACHER_FOLDER,)
"""Folder names under --results that a sweep may not take: the default teacher cache."""
MIN_FREE_BYTES = 256 * 2**20
"""Less free space than this on a results or cache disk fails the plan (checkpoints and teachers need room)."""


def finite_float(text: str) -> float:
    """argparse type of every float option: a finite number (inf and nan are not amounts of anything)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


def check_sweep_name(name: str, fail: Fail) -> None:
    """A sweep name is one folder under --results: non-empty, no separators or control characters."""
    shown = f"--name {name!r}"
    if not name or name.strip() != name:
        fail(f"--name must be a non-empty folder name without surrounding spaces; got {shown}")
    if any(unicodedata.category(char).startswith("C") for char in name):
        fail(f"--name must not contain control characters (newlines, tabs ...); got {shown}")
    if "/" in name or (os.altsep and os.altsep in name) or name.startswith("."):
        fail(f"--name must be a plain folder name (no '/', not starting with '.'); got {shown}")
    if name in RESERVED_NAMES:
        fail(f"--name {name!r} is reserved (the default teacher cache folder under --results); choose another name")
    if len(name.encode()) > 255:
        fail(f"--name must be at most 255 bytes long (a file-system limit); got {len(name.encode())} bytes")


def absolute(path: Path) -> Path:
    """`path` with ~ expanded, made absolute against this process's directory, symlinks resolved."""
    return path.expanduser().resolve()


def check_layout(sweep_dir: Path, teacher_cache: Path, fail: Fail) -> None:
    """The sweep folder and the teacher cache must not share a folder: the cache repairs what it finds in its own."""
    if sweep_dir == teacher_cache or teacher_cache in sweep_dir.parents:
        fail(
            f"the sweep folder {sweep_dir} would lie in the teacher cache {teacher_cache}; "
            "pick another --name, --results or --teacher-cache"
        )


def check_writable_folder(path: Path, option: str, fail: Fail) -> None:
    """`path` (to be created if missing) can be written: a writable directory above it, not read-only, with room."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        fail(f"{option} {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK) or os.statvfs(existing).f_flag & os.ST_RDONLY:
        fail(f"{option} {path}: {existing} is not writable (permissions or a read-only file system)")
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        fail(
            f"{option} {path}: only {free / 2**20:.0f} MiB free on its disk; "
            f"at least {MIN_FREE_BYTES // 2**20} MiB are needed for checkpoints and teachers"
        )


def with_absolute_paths(config: RunConfig) -> RunConfig:
    """The config with data.root and every pretrained_path absolute (see the module docstring)."""
    from asib_sweeps.config import build_config

    data = config.model_dump()
    if data["data"]["root"] is not None:
        data["data"]["root"] = str(absolute(Path(data["data"]["root"])))
    for spec in (data["student"], *data["teachers"]):
        if spec["pretrained_path"] is not None:
            spec["pretrained_path"] = str(absolute(Path(spec["pretrained_path"])))
    return build_config(data)


def check_input_files(config: RunConfig, fail: Fail) -> None:
    """The data set's files and every pretrained_path exist and can be read."""
    from asib_sweeps.data.probe import data_files_problem

    problem = data_files_problem(config.data.dataset, config.data.root, download=config.data.download)
    if problem is not None:
        fail(problem)
    specs = {"student": config.student} | {f"teachers.{i}": spec for i, spec in enumerate(config.teachers)}
    for key, spec in specs.items():
        path = spec.pretrained_path
        if path is not None and (not Path(path).is_file() or not os.access(path, os.R_OK)):
            fail(f"{key}.pretrained_path must be a readable weights file; got {key}.pretrained_path={path!r}")
