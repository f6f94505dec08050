"""Loading a local weights file into a zoo model, with errors that name the file.

A weights file is a state dict of the zoo model itself (`model.state_dict()`
saved with `torch.save`), read with `weights_only=True` so it can never run code.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

from asib_sweeps.errors import NonRetryableError
from asib_sweeps.models.interface import ZooModel

# What torch.load raises on files that are not (intact) torch archives: garbage
# bytes surface as KeyError, empty files as EOFError, truncated archives as
# RuntimeError, pickles of non-tensor objects as UnpicklingError.
UNREADABLE_FILE_ERRORS = (RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError)


class PretrainedWeightsError(NonRetryableError):
    """Pretrained weights could not be obtained: missing, unreadable or mismatched file, or no network."""


def load_weights_file(model: ZooModel, path: str | Path, *, arch: str) -> None:
    """Load the state dict at `path` into `model`, strictly (every key, every shape)."""
    file = Path(path)
    if not file.is_file():
        raise PretrainedWeightsError(f"pretrained_path={str(path)!r} does not exist or is not a file")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except UNREADABLE_FILE_ERRORS as error:
        raise PretrainedWeightsError(
            f"pretrained_path={str(path)!r} is not a readable torch weights file: {error}"
        ) from error
    if not isinstance(state, Mapping):
        raise PretrainedWeightsError(
            f"pretrained_path={str(path)!r} holds a {type(state).__name__}; expected a state dict "
            "(torch.save(model.state_dict(), path))"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise PretrainedWeightsError(
            f"pretrained_path={str(path)!r} does not match arch={arch!r} with num_classes={model.num_classes}: {error}"
        ) from error
