"""Checkpoint files: atomic writes, and loads that can only ever yield tensors and plain data.

Loading uses `torch.load(weights_only=True)`, so a checkpoint cannot execute code; a
file that is corrupt, or that is not one of ours, is a `CheckpointError` naming it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from asib_sweeps.errors import NonRetryableError

FORMAT = "asib-sweeps/checkpoint-v1"


class CheckpointError(NonRetryableError):
    """A checkpoint that cannot be read, or was not written by asib-sweeps."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write `state` to `path` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            torch.save({"format": FORMAT, "state": state}, temp_file)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`, with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or not loadable with weights_only=True: {reason}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path} is not an asib-sweeps checkpoint (expected format {FORMAT!r}, found {found!r})")
    return payload["state"]
