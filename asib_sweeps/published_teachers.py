"""Published teachers used as they are: imported into the teacher cache, measured, never trained.

A teacher spec with `checkpoint: PATH` names a RepDistiller / mdistiller file. Its
cache key hashes the file's bytes (not its path), the arch and the data it is
measured on, so a replaced file is a new teacher and a moved one is the same. Before
any student trains, `import_published_teacher` renames the file into the zoo's layout
(`models/published.py`), measures its val and test accuracy on this run's data and
stores weights and measurements like a fine-tuned teacher's; the distillation trials
then read it from the cache as any other. The file's own recorded accuracy is kept
beside ours, with a warning when they differ by more than `ACCURACY_TOLERANCE`: a
different test set, normalisation or file would show there first.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from asib_sweeps.config import ConfigError, RunConfig
from asib_sweeps.data import load_data
from asib_sweeps.evaluation import evaluate_model
from asib_sweeps.models import PretrainedWeightsError, create_model
from asib_sweeps.models.published import load_published_checkpoint
from asib_sweeps.training.device import resolve_device


class TeacherStore(Protocol):
    """What an import needs of the teacher cache (`teacher_cache.TeacherCache` is one). A protocol,
    not an import: teacher_cache.py imports this module (`checkpoint_identity`), and a cycle
    between the two is refused by tests/test_import_rules.py."""

    def store(self, key: str, state_dict: dict[str, Tensor], *, metrics: dict[str, Any], spec: dict[str, Any]) -> None:
        """Write a teacher's weights and metadata under `key`."""


ACCURACY_TOLERANCE = 0.3
"""Percentage points between our test accuracy and the file's recorded one before a warning.
Our normalisation statistics come from this run's training split, the authors' from all
50k images; that alone moves a CIFAR-100 teacher by less than this."""


class TeacherAccuracyWarning(UserWarning):
    """A published teacher measures differently from the accuracy its file records."""


def checkpoint_identity(path: str, field: str, *, arch: str, num_classes: int) -> dict[str, Any]:
    """The part of a teacher's identity a checkpoint file gives: its resolved path and content hash.

    The file is read and matched against `arch` here, at plan time, so a missing or
    mismatched file is a `ConfigError` naming `field` before any job starts.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{field}={path!r} does not exist or is not a file (a published teacher file is needed)")
    stat = file.stat()
    resolved = str(file.resolve())
    digest = _checked_sha256(resolved, stat.st_size, stat.st_mtime_ns, arch, num_classes, field)
    return {"checkpoint": resolved, "checkpoint_sha256": digest}


@functools.lru_cache(maxsize=64)
def _checked_sha256(path: str, size: int, mtime_ns: int, arch: str, num_classes: int, field: str) -> str:
    """Hash of a file's bytes once it loads into `arch`; remembered since every trial's plan asks again."""
    try:
        load_published_checkpoint(create_model(arch, num_classes), path, arch=arch)
    except PretrainedWeightsError as error:
        raise ConfigError(f"{field}: {error}") from None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_published_teacher(
    run_config: RunConfig,
    checkpoint: str,
    cache: TeacherStore,
    key: str,
    spec: Mapping[str, Any],
    *,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Load `checkpoint` for `run_config.student.arch`, measure it on `run_config.data`, cache it; its metrics.

    `run_config` is the teacher's fine-tuning config (`teachers.finetune_config`): its
    data are what the teacher is measured on; its recipe is unused.
    """
    device = device if device is not None else resolve_device(run_config.runtime.device)
    data = load_data(run_config.data).to(device)
    arch = run_config.student.arch
    model = create_model(arch, data.num_classes)
    published = load_published_checkpoint(model, checkpoint, arch=arch)
    model.to(device)
    batch = run_config.data.eval_batch_size
    metrics: dict[str, Any] = {
        "val_acc": evaluate_model(model, data, data.val, batch_size=batch).top1,
        "test_acc": evaluate_model(model, data, data.test, batch_size=batch).top1,
        "recorded_accuracy": published.recorded_accuracy,
        "recorded_epoch": published.epoch,
        "checkpoint": str(checkpoint),
    }
    metrics["recorded_accuracy_gap"] = _gap(metrics["test_acc"], published.recorded_accuracy, run_config)
    if metrics["recorded_accuracy_gap"] is not None and abs(metrics["recorded_accuracy_gap"]) > ACCURACY_TOLERANCE:
        warnings.warn(
            f"teacher {key} ({checkpoint}): test accuracy {100 * metrics['test_acc']:.2f} % here, "
            f"{published.recorded_accuracy:.2f} % recorded in the file (gap {metrics['recorded_accuracy_gap']:+.2f} "
            f"points, tolerance {ACCURACY_TOLERANCE})",
            TeacherAccuracyWarning,
            stacklevel=2,
        )
    cache.store(key, {k: v.cpu() for k, v in model.state_dict().items()}, metrics=metrics, spec=dict(spec))
    return metrics


def _gap(test_acc: float, recorded: float | None, run_config: RunConfig) -> float | None:
    """Our test accuracy minus the recorded one, in points; None when they are not comparable
    (no recorded value, or a class subset where the file measured all classes)."""
    if recorded is None or run_config.data.classes is not None:
        return None
    return 100 * test_acc - recorded
