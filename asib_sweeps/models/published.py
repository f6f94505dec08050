"""Published CIFAR-100 teacher files (RepDistiller, reused by mdistiller) into zoo models.

RepDistiller's `train_teacher.py` saves `{"epoch", "model", "accuracy", "optimizer"}`
every `save_freq` epochs (`ckpt_epoch_240.pth`) and `{"epoch", "model", "best_acc",
"optimizer"}` at each new best (`<arch>_best.pth`); both are the old (non-zip) torch
format written from CUDA tensors, and the recorded accuracy is a 0-dim CUDA tensor in
percent. The zoo's CIFAR families keep RepDistiller's module names inside every block,
so the import is the explicit prefix rename of `PREFIX_RENAMES`, nothing else: a key no
rule covers, a key the zoo model lacks or a shape that differs is an error naming the
file and the first such key. The file is read with `weights_only=True` and
`map_location="cpu"`, so it can run no code and needs no GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from asib_sweeps.models.interface import ZooModel
from asib_sweeps.models.weights import UNREADABLE_FILE_ERRORS, PretrainedWeightsError


def _stages(published: str, first: int, count: int) -> tuple[tuple[str, str], ...]:
    """(`<published><first + i>.`, `stages.<i>.`) for the i-th of `count` published stage names."""
    return tuple((published.format(first + i), f"stages.{i}.") for i in range(count))


_RESNET = (("conv1.", "stem.0."), ("bn1.", "stem.1."), *_stages("layer{}.", 1, 3), ("fc.", "classifier."))
_WRN = (("conv1.", "stem."), *_stages("block{}.layer.", 1, 3), ("bn1.", "neck.0."), ("fc.", "classifier."))
_VGG = (("block0.", "stem."), *_stages("block{}.", 1, 4), ("classifier.", "classifier."))
_FAMILIES: dict[str, tuple[tuple[str, str], ...]] = {
    **dict.fromkeys(
        ("resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet8x4", "resnet32x4"),
        _RESNET,
    ),
    **dict.fromkeys(("wrn_16_1", "wrn_16_2", "wrn_40_1", "wrn_40_2"), _WRN),
    **dict.fromkeys(("vgg8", "vgg11", "vgg13", "vgg16", "vgg19"), _VGG),
}
PREFIX_RENAMES: Mapping[str, tuple[tuple[str, str], ...]] = _FAMILIES
"""Per zoo arch, the whole key map: (published key prefix, zoo key prefix) pairs; the rest of a key is kept."""

PUBLISHED_ARCHS: tuple[str, ...] = tuple(sorted(_FAMILIES))
"""The zoo archs a published RepDistiller / mdistiller file can be imported into."""


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A published teacher file, renamed into the zoo's layout."""

    state_dict: dict[str, Tensor]
    recorded_accuracy: float | None
    """The file's own test accuracy in percent (`accuracy` or `best_acc`), if it has one."""
    epoch: int | None


def zoo_key(published_key: str, arch: str) -> str | None:
    """The zoo state-dict key of a published key (None when no prefix of `arch`'s family covers it)."""
    return _renamed(published_key, _FAMILIES[arch])


def published_state_dict(state: Mapping[str, Tensor], arch: str) -> dict[str, Tensor]:
    """A zoo state dict under the published key names (the inverse rename), e.g. to write a file
    the published code reads."""
    inverse = tuple((zoo, published) for published, zoo in _FAMILIES[arch])
    renamed = {_renamed(key, inverse): value for key, value in state.items()}
    if None in renamed:
        raise ValueError(f"a key of this {arch} state dict has no published name")
    return renamed  # type: ignore[return-value]


def _renamed(key: str, prefixes: tuple[tuple[str, str], ...]) -> str | None:
    for old, new in prefixes:
        if key.startswith(old):
            return new + key[len(old) :]
    return None


def read_published_checkpoint(path: str | Path, arch: str) -> PublishedCheckpoint:
    """Read a RepDistiller / mdistiller teacher file for `arch` and rename its keys to the zoo's."""
    if arch not in _FAMILIES:
        raise PretrainedWeightsError(
            f"arch={arch!r} has no published CIFAR layout; checkpoint import supports {', '.join(PUBLISHED_ARCHS)}"
        )
    file = Path(path)
    if not file.is_file():
        raise PretrainedWeightsError(f"checkpoint={str(path)!r} does not exist or is not a file")
    try:
        content = torch.load(file, map_location="cpu", weights_only=True)
    except UNREADABLE_FILE_ERRORS as error:
        raise PretrainedWeightsError(f"checkpoint={str(path)!r} is not a readable torch file: {error}") from error
    published = _published_state(content, file)
    renamed: dict[str, Tensor] = {}
    for key, value in published.items():
        target = zoo_key(key, arch)
        if target is None:
            raise PretrainedWeightsError(
                f"checkpoint={str(path)!r}: key {key!r} is not in the published {arch} layout "
                f"(expected keys starting with {', '.join(p for p, _ in _FAMILIES[arch])})"
            )
        renamed[target] = value
    return PublishedCheckpoint(
        state_dict=renamed,
        recorded_accuracy=_as_float(content.get("accuracy", content.get("best_acc")) if "model" in content else None),
        epoch=_as_int(content.get("epoch")) if "model" in content else None,
    )


def load_published_checkpoint(model: ZooModel, path: str | Path, *, arch: str) -> PublishedCheckpoint:
    """Load a published teacher file into `model` (every weight and buffer, shapes checked)."""
    checkpoint = read_published_checkpoint(path, arch)
    expected = model.state_dict()
    state = dict(checkpoint.state_dict)
    for key, value in expected.items():
        # Files saved before PyTorch 0.4.1 lack BN's step counter; it only matters with momentum=None.
        if key not in state and key.endswith("num_batches_tracked"):
            state[key] = value.clone()
    problem = _first_mismatch(state, expected, arch, model.num_classes)
    if problem is not None:
        raise PretrainedWeightsError(
            f"checkpoint={str(path)!r} does not match arch={arch!r}: after the rename {problem}"
        )
    model.load_state_dict(state, strict=True)
    return checkpoint


def _first_mismatch(state: Mapping[str, Tensor], expected: Mapping[str, Tensor], arch: str, classes: int) -> str | None:
    """The first key the renamed file lacks, has extra or has in another shape, or None."""
    missing = [key for key in expected if key not in state]
    if missing:
        return f"it lacks {_named(missing[0], arch)} ({len(missing)} zoo key(s) missing)"
    unexpected = [key for key in state if key not in expected]
    if unexpected:
        return f"it has {_named(unexpected[0], arch)}, which {arch} lacks ({len(unexpected)} such key(s))"
    for key, value in expected.items():
        if state[key].shape != value.shape:
            return (
                f"its {_named(key, arch)} has shape {tuple(state[key].shape)}; {arch} with num_classes={classes} "
                f"needs {tuple(value.shape)}"
            )
    return None


def _named(zoo: str, arch: str) -> str:
    """A zoo key with the published name it comes from, as a message shows it."""
    published = _renamed(zoo, tuple((new, old) for old, new in _FAMILIES[arch]))
    return f"{zoo!r} (published {published!r})"


def _published_state(content: Any, file: Path) -> Mapping[str, Tensor]:
    """The state dict inside a published file: its `model` entry, or the file itself if it is one."""
    state = content.get("model", content) if isinstance(content, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise PretrainedWeightsError(
            f"checkpoint={str(file)!r} holds no state dict: expected RepDistiller's {{'model': state_dict, "
            "'epoch', 'accuracy' or 'best_acc', 'optimizer'}} or a bare state dict"
        )
    # A model saved while wrapped in DataParallel prefixes every key with `module.`.
    if state and all(key.startswith("module.") for key in state):
        return {key.removeprefix("module."): value for key, value in state.items()}
    return state


def _as_float(value: Any) -> float | None:
    if isinstance(value, Tensor):
        return float(value.item())
    return float(value) if isinstance(value, (int, float)) else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, Tensor):
        return int(value.item())
    return int(value) if isinstance(value, int) else None
