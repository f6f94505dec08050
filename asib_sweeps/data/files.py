"""Reading the array files that CIFAR-100 and downsampled ImageNet ship as.

Both store images as rows of 3072 bytes (channel-major: 1024 red, 1024 green, 1024
blue). Their pickles hold only dicts, lists and numpy arrays, so they are read with an
unpickler that refuses every other global: a data file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from asib_sweeps.data.errors import DataError

_NUMPY_PICKLE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }
)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Resolves only the globals numpy arrays need; anything else is a DataError."""

    def __init__(self, file: Any, path: Path) -> None:
        # latin1 reads the Python 2 pickles of CIFAR-100 (as torchvision does).
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _NUMPY_PICKLE_GLOBALS:
            raise DataError(
                f"{self._path} refers to {module}.{name}; a data pickle may hold only dicts, lists and numpy arrays"
            )
        return super().find_class(module, name)


def load_pickle(path: Path) -> dict[str, Any]:
    """Read a dict of arrays from a pickle file without allowing arbitrary objects."""
    with path.open("rb") as file:
        loaded = _NumpyOnlyUnpickler(file, path).load()
    if not isinstance(loaded, dict):
        raise DataError(f"{path} must hold a dict, got {type(loaded).__name__}")
    return loaded


def load_npz(path: Path) -> dict[str, Any]:
    """Read every array of an .npz file (object arrays refused: allow_pickle=False)."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def require_keys(content: dict[str, Any], keys: tuple[str, ...], path: Path) -> None:
    missing = [key for key in keys if key not in content]
    if missing:
        raise DataError(f"{path} lacks the key(s) {', '.join(missing)}; it holds {', '.join(map(str, content))}")


def images_from_rows(data: Any, path: Path, size: int = 32) -> Tensor:
    """[N, 3*size*size] uint8 rows in channel-major order -> uint8 [N, 3, size, size]."""
    array = np.asarray(data)
    row = 3 * size * size
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != row:
        raise DataError(f"{path}: data must be uint8 of shape [N, {row}], got {array.dtype} {list(array.shape)}")
    return torch.from_numpy(np.ascontiguousarray(array).reshape(-1, 3, size, size))


def labels_from_list(labels: Any, path: Path, *, count: int, first: int) -> Tensor:
    """Labels numbered first..first+count-1 in the file -> int64 0..count-1, range-checked."""
    tensor = torch.as_tensor(np.asarray(labels, dtype=np.int64)).reshape(-1) - first
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= count):
        raise DataError(
            f"{path}: labels must lie in {first}..{first + count - 1}, "
            f"got {int(tensor.min()) + first}..{int(tensor.max()) + first}"
        )
    return tensor
