"""The device a trial trains on, from the resources Ray gave the trial (not from what the node has).

A trial with no GPU keeps the node's CUDA_VISIBLE_DEVICES, so `torch.cuda.is_available()`
is true there on a GPU node; the trial must stay on the CPU anyway. A GPU trial sees
only its own GPUs (Ray sets CUDA_VISIBLE_DEVICES), so its first GPU is `cuda:0`.
Fractional GPUs are only bookkeeping in Ray: a trial holding a quarter of a GPU is
limited to a quarter of its memory here, so packed trials cannot crowd each other out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import ray
import torch

from asib_sweeps.errors import NonRetryableError
from trainables.worker_state import reset_worker_state


class DeviceError(NonRetryableError, ValueError):
    """runtime.device names a device the trial was not given."""


def choose_device(requested: str, gpu_ids: Sequence[int | str]) -> torch.device:
    """The device for runtime.device `requested` given the GPU ids Ray assigned to the trial."""
    if requested == "cpu":
        return torch.device("cpu")
    if not gpu_ids:
        if requested != "auto":
            raise DeviceError(
                f"device={requested!r} needs a GPU, but the trial was given none; use --gpus-per-trial > 0 "
                "or device=auto/cpu"
            )
        return torch.device("cpu")
    device = torch.device("cuda", 0) if requested == "auto" else torch.device(requested)
    index = device.index or 0
    if index >= len(gpu_ids):
        raise DeviceError(f"device={requested!r} but the trial holds {len(gpu_ids)} GPU(s) (cuda:0..{len(gpu_ids) - 1})")
    return device


def gpu_share(assigned: Mapping[str, float]) -> float | None:
    """The fraction of one GPU the trial holds, or None for whole GPUs / no GPU."""
    gpus = assigned.get("GPU", 0.0)
    return gpus if 0 < gpus < 1 else None


def trial_device(requested: str) -> torch.device:
    """Choose the trial's device and cap its memory to its GPU share; call inside a Ray trial,
    before building the run. A worker Tune reuses gets a fresh worker's torch state first."""
    reset_worker_state()
    device = choose_device(requested, ray.get_gpu_ids())
    share = gpu_share(ray.get_runtime_context().get_assigned_resources())
    if device.type == "cuda":  # whole GPUs: 1.0, so no earlier trial's share can remain in a reused worker
        torch.cuda.set_per_process_memory_fraction(share if share is not None else 1.0, device)
    return device


class GPUShareTooSmall(NonRetryableError):
    """The trial ran out of GPU memory within its share; the same share fails the same way."""


def out_of_memory_message(share: float | None, total_gib: float) -> str:
    """What ran out and which `--gpus-per-trial` to try instead."""
    if share is None:
        return (
            f"the trial ran out of GPU memory on a whole GPU ({total_gib:.1f} GiB); "
            "lower data.batch_size, or set runtime.amp=true to halve the activations"
        )
    larger = min(1.0, share * 2)
    return (
        f"the trial ran out of GPU memory within its share: --gpus-per-trial {share:g} caps it at "
        f"{share * total_gib:.1f} of {total_gib:.1f} GiB; try --gpus-per-trial {larger:g}"
    )


@contextmanager
def gpu_share_errors(device: torch.device) -> Iterator[None]:
    """Turn CUDA out-of-memory inside a trial into GPUShareTooSmall, naming the share to try."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as error:
        share = gpu_share(ray.get_runtime_context().get_assigned_resources())
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        raise GPUShareTooSmall(out_of_memory_message(share, total)) from error
