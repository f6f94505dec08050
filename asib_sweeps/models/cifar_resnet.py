"""CIFAR ResNets (He et al. 2016, section 4.2) as in the CRD / mdistiller KD code.

Depth 6n+2: a 3x3 stem, then three stages of n BasicBlocks at 32, 16 and 8 pixels.
`resnet20` / `resnet56` use widths 16/16/32/64; the `x4` variants of the KD tables
use 32/64/128/256 (resnet8x4 ~1.23 M, resnet32x4 ~7.43 M parameters for 100
classes). Shortcuts are 1x1 conv + BN wherever shape changes (option B).

Inside a block the module names are RepDistiller's (`conv1`, `bn1`, `conv2`, `bn2`,
`downsample`), so its published teacher files load with a prefix rename only
(`models/published.py`: `conv1`/`bn1` -> `stem.0`/`stem.1`, `layerN` -> `stages.N-1`,
`fc` -> `classifier`).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from asib_sweeps.models.interface import ZooModel
from asib_sweeps.models.registry import register_model
from asib_sweeps.models.weight_init import init_convs_he_fan_out


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def build_cifar_resnet(depth: int, widths: Sequence[int], num_classes: int) -> ZooModel:
    """A CIFAR ResNet of `depth` = 6n+2 with `widths` = (stem, stage1, stage2, stage3)."""
    if (depth - 2) % 6 != 0:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2, got depth={depth}")
    if len(widths) != 4:
        raise ValueError(f"widths must be (stem, stage1, stage2, stage3), got widths={tuple(widths)}")
    blocks_per_stage = (depth - 2) // 6
    stem = nn.Sequential(
        nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
    )
    stages: list[nn.Module] = []
    in_channels = widths[0]
    for stage_index, out_channels in enumerate(widths[1:]):
        stride = 1 if stage_index == 0 else 2
        layers = []
        for block_index in range(blocks_per_stage):
            layers.append(BasicBlock(in_channels, out_channels, stride if block_index == 0 else 1))
            in_channels = out_channels
        stages.append(nn.Sequential(*layers))
    model = ZooModel(stem=stem, stages=stages, classifier=nn.Linear(in_channels, num_classes))
    init_convs_he_fan_out(model)
    return model


_THIN = (16, 16, 32, 64)
_WIDE = (32, 64, 128, 256)


@register_model
def resnet8(num_classes: int) -> ZooModel:
    return build_cifar_resnet(8, _THIN, num_classes)


@register_model
def resnet14(num_classes: int) -> ZooModel:
    return build_cifar_resnet(14, _THIN, num_classes)


@register_model
def resnet20(num_classes: int) -> ZooModel:
    return build_cifar_resnet(20, _THIN, num_classes)


@register_model
def resnet32(num_classes: int) -> ZooModel:
    return build_cifar_resnet(32, _THIN, num_classes)


@register_model
def resnet44(num_classes: int) -> ZooModel:
    return build_cifar_resnet(44, _THIN, num_classes)


@register_model
def resnet56(num_classes: int) -> ZooModel:
    return build_cifar_resnet(56, _THIN, num_classes)


@register_model
def resnet110(num_classes: int) -> ZooModel:
    return build_cifar_resnet(110, _THIN, num_classes)


@register_model
def resnet8x4(num_classes: int) -> ZooModel:
    return build_cifar_resnet(8, _WIDE, num_classes)


@register_model
def resnet32x4(num_classes: int) -> ZooModel:
    return build_cifar_resnet(32, _WIDE, num_classes)
