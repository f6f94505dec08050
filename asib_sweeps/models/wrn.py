"""Wide ResNets (Zagoruyko & Komodakis 2016) for CIFAR, as in the CRD / mdistiller KD code.

WRN-d-k: a 3x3 stem of 16 channels, three stages of (d-4)/6 pre-activation
BasicBlocks of widths 16k/32k/64k at 32, 16 and 8 pixels, then BN + ReLU (the
neck, since the last stage ends without an activation) and a linear classifier.
wrn_40_2 ~2.25 M and wrn_16_2 ~0.70 M parameters for 100 classes.

Inside a block the module names are RepDistiller's (`bn1`, `conv1`, `bn2`, `conv2`,
`convShortcut`), so its published teacher files load with a prefix rename only
(`models/published.py`: `conv1` -> `stem`, `blockN.layer` -> `stages.N-1`, `bn1` ->
`neck.0`, `fc` -> `classifier`).
"""

from __future__ import annotations

from torch import Tensor, nn

from asib_sweeps.models.interface import ZooModel
from asib_sweeps.models.registry import register_model
from asib_sweeps.models.weight_init import init_convs_he_fan_out


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice; a 1x1 shortcut reads the pre-activated input when shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        # The original's test is on widths only (a stage's first block always changes
        # them), and its attribute name is kept so published files load by name.
        self.convShortcut: nn.Conv2d | None = None  # noqa: N815
        if in_channels != out_channels:
            self.convShortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        activated = self.relu(self.bn1(x))
        out = self.conv2(self.relu(self.bn2(self.conv1(activated))))
        # As in the original code: an identity shortcut carries the raw input, a
        # projection shortcut the pre-activated one.
        shortcut = x if self.convShortcut is None else self.convShortcut(activated)
        return out + shortcut


def build_wide_resnet(depth: int, widen_factor: int, num_classes: int) -> ZooModel:
    if (depth - 4) % 6 != 0:
        raise ValueError(f"WideResNet depth must be 6n+4, got depth={depth}")
    blocks_per_stage = (depth - 4) // 6
    widths = (16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
    stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
    stages: list[nn.Module] = []
    in_channels = 16
    for stage_index, out_channels in enumerate(widths):
        stride = 1 if stage_index == 0 else 2
        layers = []
        for block_index in range(blocks_per_stage):
            layers.append(PreActBlock(in_channels, out_channels, stride if block_index == 0 else 1))
            in_channels = out_channels
        stages.append(nn.Sequential(*layers))
    neck = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU())
    classifier = nn.Linear(in_channels, num_classes)
    model = ZooModel(stem=stem, stages=stages, neck=neck, classifier=classifier)
    init_convs_he_fan_out(model)
    nn.init.zeros_(classifier.bias)
    return model


@register_model
def wrn_16_1(num_classes: int) -> ZooModel:
    return build_wide_resnet(16, 1, num_classes)


@register_model
def wrn_40_1(num_classes: int) -> ZooModel:
    return build_wide_resnet(40, 1, num_classes)


@register_model
def wrn_16_2(num_classes: int) -> ZooModel:
    return build_wide_resnet(16, 2, num_classes)


@register_model
def wrn_40_2(num_classes: int) -> ZooModel:
    return build_wide_resnet(40, 2, num_classes)
