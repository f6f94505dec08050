"""Partial freezing of a zoo model's backbone (method.md section 3, "use_pf").

A backbone is the ordered list `model.blocks()` (stem, then stages). Level -1 freezes
nothing; level L >= 0 freezes the first min(L, n_blocks) blocks. The head (neck,
pool, classifier) always stays trainable, and so, with `train_bn`, do the BatchNorm
affine parameters inside the frozen blocks (a cheap way to let frozen features
re-centre on the new data).

The memory and time saving comes from running the frozen prefix under `no_grad`. That
is only possible when nothing in the prefix trains: with `train_bn` and BatchNorm
layers in the prefix, their affine parameters need gradients, so autograd has to run
through the whole prefix (back to its first BN layer) and the saving shrinks to the
skipped weight gradients of the frozen convolutions. `apply_freeze_level` picks the
no_grad path exactly when it is exact.

BatchNorm statistics: when the prefix is fully frozen (`train_bn` off) its BN layers
are put in eval mode, so neither weights nor running statistics of a frozen block
move and the block really computes a fixed function. With `train_bn` on they follow
the model's mode (batch statistics while training), which is what training the
affine parameters assumes. Because `nn.Module.train()` resets every submodule's mode,
call `apply_freeze_level` after `model.train()`.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from asib_sweeps.models.interface import ZooModel


def progressive_level(stage: int, start_level: int) -> int:
    """The auto-schedule of progressive unfreezing: max(-1, start_level - stage)."""
    if stage < 0:
        raise ValueError(f"stage must be >= 0, got stage={stage}")
    if start_level < -1:
        raise ValueError(f"start_level must be >= -1, got start_level={start_level}")
    return max(-1, start_level - stage)


def frozen_block_count(model: ZooModel, level: int) -> int:
    """How many leading blocks `level` freezes in `model`: 0 for -1, else min(level, n_blocks)."""
    if level < -1:
        raise ValueError(f"freeze level must be >= -1, got level={level}")
    return 0 if level == -1 else min(level, len(model.blocks()))


def apply_freeze_level(model: ZooModel, level: int, *, train_bn: bool) -> None:
    """Make `model` trainable except the blocks `level` freezes.

    Sets requires_grad on every parameter (so a lower level later unfreezes blocks
    again: progressive unfreezing), puts the BN layers of a fully frozen prefix in
    eval mode, and tells the model to run the prefix under no_grad when nothing in it
    trains. Call it only for a model that trains in the current phase, after
    `model.train()`.
    """
    count = frozen_block_count(model, level)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    prefix_trains = False
    for index, block in enumerate(model.blocks()):
        frozen = index < count
        for module in block.modules():
            is_bn = isinstance(module, _BatchNorm)
            keep_trainable = not frozen or (train_bn and is_bn)
            for parameter in module.parameters(recurse=False):
                parameter.requires_grad_(keep_trainable)
                prefix_trains |= frozen and keep_trainable
            if is_bn:
                module.train(model.training and (not frozen or train_bn))
    model.set_frozen_prefix(count, without_grad=count > 0 and not prefix_trains)


def trainable_parameter_count(modules: Iterable[nn.Module]) -> int:
    """Number of scalar parameters with requires_grad across `modules` (shared ones counted once)."""
    seen: set[int] = set()
    total = 0
    for module in modules:
        for parameter in module.parameters():
            if parameter.requires_grad and id(parameter) not in seen:
                seen.add(id(parameter))
                total += parameter.numel()
    return total
