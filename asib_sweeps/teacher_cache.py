"""The teacher cache and its keys, free of torch: what a sweep's plan reads before anything runs.

A teacher is fully determined by its spec: architecture, pretrained start, class
subset, seed, the data it learns from and the fine-tuning recipe. The cache key is a
hash of exactly those fields, so a teacher is trained once and every sweep that needs
the same spec reuses it; changing any of them (a different recipe, say) gives a new key.
A teacher given as a published `checkpoint` is not fine-tuned: its key hashes the file's
bytes and the data it is measured on (`published_teachers`, read only for such a teacher).

Keys, entry checks and repairs are plain files and hashes, so `--dry-run` and the plan
use them without torch; reading and writing the weights themselves (`load`, `store`)
import the checkpoint code when called.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asib_sweeps.catalog.data_sources import data_source
from asib_sweeps.config import MethodConfig, RunConfig
from asib_sweeps.data.source_facts import source_class_count
from asib_sweeps.errors import NonRetryableError

if TYPE_CHECKING:
    from torch import Tensor

WEIGHTS_FILE = "weights.pt"
META_FILE = "teacher.json"
BROKEN_FOLDER = ".broken"

def finetune_config(config: RunConfig, teacher_index: int) -> RunConfig:
    """The CE run that fine-tunes `config.teachers[teacher_index]` with the teacher recipe.

    The teacher learns from the whole training split (never the student's label
    subset), restricted to its class subset if it has one.
    """
    spec = config.teachers[teacher_index]
    classes = spec.classes if spec.classes is not None else config.data.classes
    data = config.data.model_copy(update={"student_train_size": None, "classes": classes})
    return RunConfig.model_validate(
        {
            **config.model_dump(),
            "data": data.model_dump(),
            "teachers": [],
            "student": spec.model_dump(exclude={"classes", "seed", "checkpoint"}),
            "method": MethodConfig(name="ce").model_dump(),
            "optim": config.teacher_recipe.optim.model_dump(),
            "epochs": config.teacher_recipe.epochs,
            "seed": spec.seed,
        }
    )


def teacher_key(config: RunConfig, teacher_index: int) -> str:
    """A readable, stable key: `<arch>-<dataset>-<hash of the teacher's whole spec>`."""
    identity = teacher_identity(config, teacher_index)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return f"{identity['arch']}-{identity['data']['dataset']}-{digest}"


def teacher_identity(config: RunConfig, teacher_index: int) -> dict[str, Any]:
    """Exactly the fields that decide what a fine-tuned teacher is."""
    run = finetune_config(config, teacher_index)
    # split_per_seed only says how studies derive split_seed and the teacher's seed, both part of the key.
    data = run.data.model_dump(exclude={"download", "eval_batch_size", "student_train_size", "split_per_seed"})
    if data_source(data["dataset"]).own_test_split:  # data.test_fraction is read only without one
        data.pop("test_fraction")
    checkpoint = config.teachers[teacher_index].checkpoint
    if checkpoint is not None:
        field = f"teachers.{teacher_index}.checkpoint"
        classes = source_class_count(run.data)
        from asib_sweeps.published_teachers import checkpoint_identity  # reads a torch file: published teachers only

        identity = checkpoint_identity(checkpoint, field, arch=run.student.arch, num_classes=classes)
        return {"arch": run.student.arch, "data": data, **identity}
    return {
        "arch": run.student.arch,
        "pretrained": run.student.pretrained,
        "pretrained_path": run.student.pretrained_path,
        "seed": run.seed,
        "data": data,
        "recipe": config.teacher_recipe.model_dump(),
    }


class MissingTeacherError(NonRetryableError, KeyError):
    """A trial's teacher is not (or no longer intact) in the cache; the sweep driver retrains it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class TeacherCache:
    """Fine-tuned teachers on disk: `<root>/<key>/weights.pt` and `teacher.json`.

    An entry counts only when it is whole: teacher.json names its key and the SHA-256 of
    weights.pt, and weights.pt has that hash (entries from before the hash was recorded
    are checked as intact zip archives, torch's file format). A half-written or
    corrupted entry is never "cached": `repair` moves it to `<root>/.broken/` (nothing
    is deleted) so that it is fine-tuned again, and `load` refuses it by path.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._verified: dict[str, tuple[int, int]] = {}

    @property
    def broken_dir(self) -> Path:
        return self.root / BROKEN_FOLDER

    def has(self, key: str) -> bool:
        return self.problem(key) is None

    def problem(self, key: str) -> str | None:
        """Why entry `key` cannot be used ("not cached" when there is none), or None when it is whole."""
        folder = self.root / key
        weights, meta_path = folder / WEIGHTS_FILE, folder / META_FILE
        if not folder.exists():
            return f"teacher {key} is not cached in {self.root}"
        if not meta_path.is_file() or not weights.is_file():
            lacking = META_FILE if not meta_path.is_file() else WEIGHTS_FILE
            return f"teacher cache entry {folder} has no {lacking}"
        stat = weights.stat()
        if self._verified.get(key) == (stat.st_mtime_ns, stat.st_size):
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as error:
            return f"teacher cache entry {meta_path} cannot be read: {error}"
        if not isinstance(meta, dict) or meta.get("key") != key:
            return f"teacher cache entry {meta_path} does not describe teacher {key}"
        problem = _weights_problem(weights, meta.get("weights_sha256"))
        if problem is None:
            self._verified[key] = (stat.st_mtime_ns, stat.st_size)
        return problem

    def repair(self, key: str) -> str | None:
        """Move a broken entry `key` to `<root>/.broken/`; returns what was wrong, or None (whole, or absent)."""
        folder = self.root / key
        if not folder.exists():
            return None
        problem = self.problem(key)
        if problem is not None:
            self._move_aside(folder)
        return problem

    def load(self, key: str) -> dict[str, Tensor]:
        problem = self.problem(key)
        if problem is not None:
            raise MissingTeacherError(f"{problem}; run the sweep again (or --resume it) to fine-tune it")
        from asib_sweeps.training.checkpoint import load_checkpoint

        return load_checkpoint(self.root / key / WEIGHTS_FILE)

    def metadata(self, key: str) -> dict[str, Any]:
        return json.loads((self.root / key / META_FILE).read_text())

    def store(self, key: str, state_dict: dict[str, Tensor], *, metrics: dict[str, Any], spec: dict[str, Any]) -> None:
        """Write weights and metadata into a temp folder, then move it into place.

        A concurrent writer of the same key (two trials resolving one teacher) loses
        the race harmlessly: both wrote the same spec's teacher. A broken entry in the
        way is moved aside first.
        """
        from asib_sweeps.training.checkpoint import save_checkpoint

        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{key}."))
        try:
            save_checkpoint(state_dict, staging / WEIGHTS_FILE)
            meta = {"key": key, "spec": spec, "metrics": metrics, "weights_sha256": _sha256(staging / WEIGHTS_FILE)}
            (staging / META_FILE).write_text(json.dumps(meta, indent=2))
            self.repair(key)
            try:
                os.replace(staging, self.root / key)
            except OSError:
                if not self.has(key):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _move_aside(self, folder: Path) -> None:
        self.broken_dir.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(dir=self.broken_dir, prefix=f"{folder.name}.{time.strftime('%Y%m%d-%H%M%S')}."))
        try:
            os.replace(folder, target / folder.name)
        except FileNotFoundError:  # another process moved or replaced it first
            pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights_problem(path: Path, sha256: str | None) -> str | None:
    """Why the weights file is not the one teacher.json recorded (or, without a hash, not an intact archive)."""
    if sha256 is not None:
        return None if _sha256(path) == sha256 else f"teacher weights {path} do not match the SHA-256 in {META_FILE}"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile) as error:
        return f"teacher weights {path} are not an intact torch file: {error}"
    return None if bad is None else f"teacher weights {path} are corrupt (member {bad} fails its CRC)"
