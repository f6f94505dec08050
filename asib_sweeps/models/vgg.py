"""VGG with BatchNorm for 32x32 inputs, as in the CRD / mdistiller KD code.

Five conv groups (conv3x3 + BN + ReLU each); the first is the stem, max-pooling
precedes groups 2-4, and at 32x32 the last group runs at 4x4 without a further pool
(the original pools there only for 64x64 inputs). Global average pooling and one
linear layer follow. vgg13 ~9.46 M and vgg8 ~3.96 M parameters for 100 classes.

Each group's layers are numbered as in RepDistiller's `blockN` Sequentials (conv, BN,
ReLU, conv, ...; its last ReLU, applied outside there, carries no weights), and a
stage's max-pool is the named child `pool`, so published teacher files load with a
prefix rename only (`models/published.py`: `block0` -> `stem`, `blockN` -> `stages.N-1`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from asib_sweeps.models.interface import ZooModel
from asib_sweeps.models.registry import register_model
from asib_sweeps.models.weight_init import init_convs_he_fan_out, init_linear_small_normal


def _conv_group(in_channels: int, widths: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        in_channels = width
    return layers


def build_cifar_vgg(groups: Sequence[Sequence[int]], pooled_groups: int, num_classes: int) -> ZooModel:
    """VGG-BN from conv `groups` (channel widths); groups 1..`pooled_groups` start with a 2x2 max-pool."""
    if not 1 <= pooled_groups < len(groups):
        raise ValueError(f"pooled_groups must be in 1..{len(groups) - 1}, got pooled_groups={pooled_groups}")
    stem = nn.Sequential(*_conv_group(3, groups[0]))
    stages: list[nn.Module] = []
    in_channels = groups[0][-1]
    for index, widths in enumerate(groups[1:], start=1):
        pool = [("pool", nn.MaxPool2d(2))] if index <= pooled_groups else []
        layers = [(str(number), layer) for number, layer in enumerate(_conv_group(in_channels, widths))]
        stages.append(nn.Sequential(OrderedDict(pool + layers)))
        in_channels = widths[-1]
    classifier = nn.Linear(in_channels, num_classes)
    model = ZooModel(stem=stem, stages=stages, classifier=classifier)
    init_convs_he_fan_out(model)
    init_linear_small_normal(classifier)
    return model


@register_model
def vgg8(num_classes: int) -> ZooModel:
    return build_cifar_vgg([[64], [128], [256], [512], [512]], pooled_groups=3, num_classes=num_classes)


@register_model
def vgg11(num_classes: int) -> ZooModel:
    return build_cifar_vgg([[64], [128], [256, 256], [512, 512], [512, 512]], pooled_groups=3, num_classes=num_classes)


@register_model
def vgg13(num_classes: int) -> ZooModel:
    groups = [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]]
    return build_cifar_vgg(groups, pooled_groups=3, num_classes=num_classes)


@register_model
def vgg16(num_classes: int) -> ZooModel:
    groups = [[64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3]
    return build_cifar_vgg(groups, pooled_groups=3, num_classes=num_classes)


@register_model
def vgg19(num_classes: int) -> ZooModel:
    groups = [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4]
    return build_cifar_vgg(groups, pooled_groups=3, num_classes=num_classes)
