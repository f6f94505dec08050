"""MobileNetV2 for 32x32 inputs as the KD tables use it (CRD's `mobile_half`).

The student called "MobileNetV2" in the CRD / DKD CIFAR-100 tables is CRD's
`mobile_half`: width multiplier 0.5, expansion 6, a stride-2 stem (32 -> 16 px),
the seven inverted-residual groups of Sandler et al. with strides 1,1,2,2,1,2,1,
a 1x1 conv to 1280 channels, average pooling and a linear classifier. As in CRD,
every inverted residual keeps its 1x1 expansion conv, even at expansion 1.
The stages are CRD's feature points: groups (1,2) at 16 px, (3) at 8 px,
(4,5) at 4 px and (6,7) at 2 px.
"""

from __future__ import annotations

from torch import Tensor, nn

from asib_sweeps.models.interface import ZooModel
from asib_sweeps.models.registry import register_model
from asib_sweeps.models.weight_init import init_convs_he_fan_out, init_linear_small_normal

# (expansion, channels, blocks, first stride) per group, expansion None = the model's T.
_GROUPS: tuple[tuple[int | None, int, int, int], ...] = (
    (1, 16, 1, 1),
    (None, 24, 2, 1),
    (None, 32, 3, 2),
    (None, 64, 4, 2),
    (None, 96, 3, 1),
    (None, 160, 3, 2),
    (None, 320, 1, 1),
)
# Group indices (0-based) that make up each stage.
_STAGES: tuple[tuple[int, ...], ...] = ((0, 1), (2,), (3, 4), (5, 6))


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise, 1x1 linear projection; residual when shapes match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv = nn.Sequential(
            _conv_bn_relu(in_channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


def build_cifar_mobilenetv2(expansion: int, width_mult: float, num_classes: int) -> ZooModel:
    in_channels = int(32 * width_mult)
    stem = _conv_bn_relu(3, in_channels, 3, stride=2)
    groups: list[nn.Sequential] = []
    for group_expansion, channels, blocks, first_stride in _GROUPS:
        out_channels = int(channels * width_mult)
        layers = []
        for block_index in range(blocks):
            stride = first_stride if block_index == 0 else 1
            layers.append(InvertedResidual(in_channels, out_channels, stride, group_expansion or expansion))
            in_channels = out_channels
        groups.append(nn.Sequential(*layers))
    stages: list[nn.Module] = [nn.Sequential(*(groups[i] for i in stage)) for stage in _STAGES]
    last_channels = int(1280 * width_mult) if width_mult > 1.0 else 1280
    neck = _conv_bn_relu(in_channels, last_channels, 1)
    classifier = nn.Linear(last_channels, num_classes)
    model = ZooModel(stem=stem, stages=stages, neck=neck, classifier=classifier)
    init_convs_he_fan_out(model)
    init_linear_small_normal(classifier)
    return model


@register_model
def mobilenetv2(num_classes: int) -> ZooModel:
    """CRD's `mobile_half` (expansion 6, width 0.5), the tables' MobileNetV2 student."""
    return build_cifar_mobilenetv2(expansion=6, width_mult=0.5, num_classes=num_classes)
