"""Helpers the GPU benchmark set shares (step_overhead, kd_throughput, packing, gpu_results).

CIFAR-shaped random data written in CIFAR-100's on-disk layout, so runs go through
the real `cifar100` reader and `TrainingRun`; randomly initialised teachers (timing
needs no fine-tuned weights); device names, peaks and the JSON every script writes.
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CIFAR_CLASSES = 100
RANDOM_TEACHERS = "randomly initialised (timing only: no fine-tuned weights are needed)"

# bf16 dense tensor-core peaks (no sparsity), TFLOP/s, by the name torch reports.
# First match wins, so the more specific names come first.
BF16_DENSE_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM (HBM3)
    ("A100", 312.0),
)


def write_fake_cifar100(root: Path, *, train: int, test: int, seed: int = 0) -> Path:
    """Random uint8 images and balanced labels as `<root>/cifar-100-python/{train,test,meta}`."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in (("train", train), ("test", test)):
        labels = rng.permutation(np.arange(count) % CIFAR_CLASSES)
        rows = rng.integers(0, 256, size=(count, 3 * 32 * 32), dtype=np.uint8)
        content = {"data": rows, "fine_labels": labels.tolist(), "coarse_labels": [0] * count}
        (folder / name).write_bytes(pickle.dumps(content, protocol=4))
    meta = {"fine_label_names": [f"class{index:02d}" for index in range(CIFAR_CLASSES)]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


def fake_cifar_sizes(student_images: int) -> tuple[int, int]:
    """(train, test) file sizes that leave `student_images` for the student after the
    10 % validation split, with every one of the 100 classes in validation and subset."""
    train = max(1200, math.ceil(student_images / 0.9) + 200)
    return train, 200


def cifar_overrides(root: Path, *, student_images: int, student: str, teachers: Sequence[str]) -> list[str]:
    """`--set` style overrides for a run on the fake CIFAR-100 at `root`."""
    listed = ", ".join(f"{{arch: {arch}}}" for arch in teachers)
    return [
        "data.dataset=cifar100",
        f"data.root={root}",
        f"data.student_train_size={student_images}",
        "data.eval_batch_size=1024",
        f"student.arch={student}",
        f"teachers=[{listed}]",
        "optim.schedule=constant",
    ]


def random_teacher_states(archs: Sequence[str], num_classes: int) -> list[dict[str, Any]]:
    """State dicts of randomly initialised teachers, seeded 0, 1, ... (distinct copies of one arch)."""
    import torch

    from asib_sweeps.models import create_model

    states = []
    for index, arch in enumerate(archs):
        torch.manual_seed(index)
        states.append(create_model(arch, num_classes).state_dict())
    return states


def synchronize(device: Any) -> None:
    import torch

    if getattr(device, "type", device) == "cuda":
        torch.cuda.synchronize(device)


def timed(side: Callable[[], object], device: Any) -> float:
    """Seconds `side()` takes, the device's queue drained before and after."""
    synchronize(device)
    started = time.perf_counter()
    side()
    synchronize(device)
    return time.perf_counter() - started


def interleaved(
    sides: Mapping[str, Callable[[], float]], repeats: int, *, errors: dict[str, str] | None = None
) -> dict[str, list[float]]:
    """Each side once per repeat, in order (A B A B ...); their returned values per side.

    With `errors`, a side that raises is recorded there and dropped (its values too),
    and the others go on: one failing variant does not cost a GPU run's other figures.
    """
    values: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, side in sides.items():
            if errors is not None and name in errors:
                continue
            if errors is None:
                values[name].append(side())
                continue
            with recorded(errors, name):
                values[name].append(side())
    return {name: v for name, v in values.items() if errors is None or name not in errors}


@contextlib.contextmanager
def recorded(errors: dict[str, str], name: str) -> Iterator[None]:
    """Run the block; an exception is printed with its traceback and kept as errors[name]."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - any failure of one part is reported, not fatal
        traceback.print_exc()
        errors[name] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        print(f"{name}: FAILED ({errors[name]}); going on with the rest", file=sys.stderr, flush=True)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def device_info(device: Any) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
    }
    if getattr(device, "type", device) == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(
            device_name=properties.name,
            memory_gib=round(properties.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            bf16_dense_peak_tflops=bf16_peak_tflops(properties.name),
        )
    else:
        info["device_name"] = platform.processor() or platform.machine()
        info["bf16_dense_peak_tflops"] = None
    return info


def bf16_peak_tflops(device_name: str) -> float | None:
    """The GPU's bf16 dense peak from the table above, or None for a device not in it."""
    return next((peak for key, peak in BF16_DENSE_PEAK_TFLOPS if key in device_name), None)


def resolve(name: str) -> Any:
    """The torch device for `--device` (the runs' own resolve_device); one that cannot be used exits."""
    from asib_sweeps.training.device import resolve_device

    try:
        return resolve_device(name)
    except ValueError as error:
        raise SystemExit(f"--device {name}: {error}") from None


def write_json(path: Path | None, payload: Mapping[str, Any]) -> None:
    """Write `payload` (with its `figures`: flat name -> number) as JSON, if a path is given."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path}")
