"""Partial freezing: which parameters train, which blocks run without autograd, the schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from asib_sweeps.freezing import apply_freeze_level, frozen_block_count, progressive_level, trainable_parameter_count
from asib_sweeps.models import ZooModel, create_model

ARCHS = ["tiny_cnn", "tiny_resnet", "tiny_vgg", "resnet8x4", "wrn_16_2"]


def _model(arch: str) -> ZooModel:
    torch.manual_seed(0)
    return create_model(arch, 10)


def _has_bn_params(block: nn.Module) -> bool:
    return any(isinstance(m, _BatchNorm) and m.weight is not None for m in block.modules())


def _expected_trainable(block: nn.Module, frozen: bool, train_bn: bool) -> dict[str, bool]:
    expected = {}
    for module_name, module in block.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}" if module_name else name
            expected[full] = not frozen or (train_bn and isinstance(module, _BatchNorm))
    return expected


def test_progressive_level_is_max_of_minus_one_and_start_minus_stage() -> None:
    assert [progressive_level(s, 3) for s in range(6)] == [3, 2, 1, 0, -1, -1]
    assert [progressive_level(s, -1) for s in range(3)] == [-1, -1, -1]
    with pytest.raises(ValueError, match="stage must be >= 0, got stage=-1"):
        progressive_level(-1, 3)
    with pytest.raises(ValueError, match="start_level must be >= -1, got start_level=-2"):
        progressive_level(0, -2)


@pytest.mark.parametrize("arch", ARCHS)
def test_level_minus_one_freezes_nothing(arch: str) -> None:
    model = _model(arch)
    model.requires_grad_(False)  # the level must restore trainability, not depend on prior state
    apply_freeze_level(model, -1, train_bn=False)
    assert all(p.requires_grad for p in model.parameters())
    assert model.frozen_prefix == 0
    assert trainable_parameter_count([model]) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("train_bn", [True, False])
def test_level_freezes_exactly_the_first_blocks(arch: str, train_bn: bool) -> None:
    model = _model(arch)
    n_blocks = len(model.blocks())
    assert n_blocks >= 2
    for level in range(n_blocks + 2):
        apply_freeze_level(model, level, train_bn=train_bn)
        count = min(level, n_blocks)
        assert model.frozen_prefix == count == frozen_block_count(model, level)
        for index, block in enumerate(model.blocks()):
            actual = {name: p.requires_grad for name, p in block.named_parameters()}
            assert actual == _expected_trainable(block, index < count, train_bn), (arch, level, index)
        head = [*model.classifier.parameters(), *model.neck.parameters(), *model.pool.parameters()]
        assert head and all(p.requires_grad for p in head)


def test_lower_level_unfreezes_blocks_again() -> None:
    model = _model("resnet8x4")
    apply_freeze_level(model, 3, train_bn=False)
    frozen_three = trainable_parameter_count([model])
    apply_freeze_level(model, 1, train_bn=False)
    assert trainable_parameter_count([model]) > frozen_three
    assert all(p.requires_grad for block in model.blocks()[1:] for p in block.parameters())
    assert not any(p.requires_grad for p in model.blocks()[0].parameters())
    assert model.frozen_prefix == 1


@pytest.mark.parametrize("arch", ["tiny_resnet", "wrn_16_2"])
def test_fully_frozen_prefix_runs_without_autograd(arch: str) -> None:
    model = _model(arch)
    model.train()
    apply_freeze_level(model, 2, train_bn=False)
    assert model.frozen_prefix_without_grad
    out = model(torch.randn(4, 3, 32, 32))
    # features[0] is the output of block 1 (the first stage), the last frozen block: no graph behind it.
    assert out.features[0].grad_fn is None and not out.features[0].requires_grad
    assert out.features[1].grad_fn is not None
    out.logits.sum().backward()
    for block in model.blocks()[:2]:
        assert all(p.grad is None for p in block.parameters())
    for block in model.blocks()[2:]:
        assert all(p.grad is not None for p in block.parameters())
    assert model.classifier.weight.grad is not None


def test_fully_frozen_prefix_keeps_its_batchnorm_statistics() -> None:
    model = _model("resnet8x4")
    model.train()
    apply_freeze_level(model, 2, train_bn=False)
    frozen_bn = [m for b in model.blocks()[:2] for m in b.modules() if isinstance(m, _BatchNorm)]
    live_bn = [m for b in model.blocks()[2:] for m in b.modules() if isinstance(m, _BatchNorm)]
    assert frozen_bn and live_bn
    assert not any(m.training for m in frozen_bn) and all(m.training for m in live_bn)
    before = [m.running_mean.clone() for m in frozen_bn]
    live_before = [m.running_mean.clone() for m in live_bn]
    model(torch.randn(4, 3, 32, 32) * 3 + 1)
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, frozen_bn, strict=True))
    assert not all(torch.equal(b, m.running_mean) for b, m in zip(live_before, live_bn, strict=True))


def test_trained_batchnorm_in_the_prefix_needs_autograd_through_it() -> None:
    model = _model("resnet8x4")
    model.train()
    assert _has_bn_params(model.blocks()[0])
    apply_freeze_level(model, 2, train_bn=True)
    assert not model.frozen_prefix_without_grad
    model(torch.randn(4, 3, 32, 32)).logits.sum().backward()
    for block in model.blocks()[:2]:
        for module in block.modules():
            for parameter in module.parameters(recurse=False):
                trains = isinstance(module, _BatchNorm)
                assert (parameter.grad is not None) == trains
    frozen_bn = [m for b in model.blocks()[:2] for m in b.modules() if isinstance(m, _BatchNorm)]
    assert all(m.training for m in frozen_bn)


def test_invalid_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="freeze level must be >= -1, got level=-2"):
        apply_freeze_level(_model("tiny_cnn"), -2, train_bn=True)


def test_trainable_parameter_count_counts_shared_parameters_once() -> None:
    shared = nn.Linear(3, 4)
    other = nn.Linear(4, 2)
    other.bias.requires_grad_(False)
    assert trainable_parameter_count([shared, nn.Sequential(shared, other)]) == 3 * 4 + 4 + 4 * 2
