"""Plan-time checks: errors a trial would hit for certain, found before any trial starts.

A trial asking for more GPUs than any node has would stay PENDING forever, and a data
split that cannot be drawn (fewer student images than classes, say) would fail every
trial the same way; both are usage errors, reported before Ray runs anything.

Ray, torch and the data code are imported inside the checks that need them, so a
usage error found earlier costs none of them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asib_sweeps.config import RunConfig


def local_gpu_count() -> int:
    """GPUs a private local Ray would get: those torch sees (CUDA_VISIBLE_DEVICES applies)."""
    import torch

    return torch.cuda.device_count()


def ray_is_running() -> bool:
    """Whether this process already has Ray initialised (a notebook, the tests); never imports Ray."""
    ray = sys.modules.get("ray")  # a process that never imported Ray cannot have initialised it
    return ray is not None and ray.is_initialized()


def cluster_gpus_per_node() -> float:
    """The most GPUs any alive node of the Ray this process is connected to has."""
    import ray

    counts = [node["Resources"].get("GPU", 0.0) for node in ray.nodes() if node.get("Alive")]
    return max(counts, default=0.0)


def gpu_error(gpus_per_trial: float, available: float, where: str) -> str | None:
    """The message for a trial that needs more GPUs than one node of `where` has, else None."""
    if gpus_per_trial <= available:
        return None
    return (
        f"--gpus-per-trial {gpus_per_trial:g} is more than the {available:g} GPU(s) {where} has per node; "
        "no trial could ever start"
    )


def data_plan_error(configs: Iterable[RunConfig]) -> str | None:
    """The first data split any of `configs` cannot draw, as a message; None when all can.

    Every run's student subset must hold each class at least once; for sources whose class
    counts or labels the catalog can give (digits), every split is checked as the trials will draw it.
    """
    from asib_sweeps.data.errors import DataError
    from asib_sweeps.data.label_plan import check_splits
    from asib_sweeps.data.source_facts import source_class_count

    seen: set[str] = set()
    for config in configs:
        data = config.data
        key = json.dumps(data.model_dump(), sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            classes = len(data.classes) if data.classes is not None else source_class_count(data)
            size = data.student_train_size
            if size is not None and size < classes:
                return (
                    f"data.student_train_size must be at least the {classes} classes of the run "
                    f"(a stratified subset holds each class); got data.student_train_size={size}"
                )
            check_splits(data)
        except DataError as error:
            return str(error)
    return None
