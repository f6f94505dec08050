"""ImageNet architectures from timm, adapted to 32x32 inputs.

Each builder creates the timm model (with timm's pretrained weights when asked),
then lowers the stem's downsampling so a 32x32 image keeps useful resolution.
Only strides and padding change, never a weight's shape, so timm's ImageNet weights
load unchanged. timm's modules are then regrouped into the zoo interface: stem,
the resolution stages (as timm's own `feature_info` names them), neck, pool and the
final Linear as the classifier. The timm defaults used here have drop_rate 0, so
the heads carry no dropout.

Stem adaptations, with the stage resolutions at 32x32:
- ResNet: 7x7 conv1 at stride 1 and no max-pool (the usual CIFAR change): 32/16/8/4.
- EfficientNet / MobileNetV2: conv_stem at stride 1: 32/16/8/4/2.
- ConvNeXt: the 4x4 patchify stem at stride 2, padding 1 (32 -> 16 px instead of
  32 -> 8): 16/8/4/2. Its head norm is applied after pooling, as in timm.
"""

from __future__ import annotations

from torch import nn

from asib_sweeps.models.interface import ZooModel
from asib_sweeps.models.registry import register_model
from asib_sweeps.models.weights import PretrainedWeightsError


def _create_timm(name: str, num_classes: int, pretrained: bool) -> nn.Module:
    import timm  # here, not at the top: timm (and the torchvision it imports) take seconds, and
    # importing the zoo, as config validation does, must not pay them unless a timm model is built

    if not pretrained:
        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    try:
        return timm.create_model(name, pretrained=True, num_classes=num_classes)
    except OSError as error:  # hub/URL fetch failures (offline, no cache) are OSErrors
        raise PretrainedWeightsError(
            f"could not fetch timm's pretrained weights for arch={name!r} ({error}). Without network "
            "access pass pretrained_path: a state dict of this zoo model, e.g. saved where the network "
            f"is reachable with torch.save(create_model({name!r}, {num_classes}, pretrained=True)"
            ".state_dict(), path)"
        ) from error


def _resnet(name: str, num_classes: int, pretrained: bool) -> ZooModel:
    net = _create_timm(name, num_classes, pretrained)
    net.conv1.stride = (1, 1)
    stem = nn.Sequential(net.conv1, net.bn1, net.act1)  # max-pool dropped
    stages = [net.layer1, net.layer2, net.layer3, net.layer4]
    return ZooModel(stem=stem, stages=stages, pool=net.global_pool, classifier=net.fc)


def _efficientnet(name: str, num_classes: int, pretrained: bool) -> ZooModel:
    """timm's EfficientNet class, which also implements its MobileNetV2."""
    net = _create_timm(name, num_classes, pretrained)
    net.conv_stem.stride = (1, 1)
    stage_ends = [
        int(info["module"].split(".")[1]) for info in net.feature_info if info["module"].startswith("blocks.")
    ]
    stage_starts = [0, *(end + 1 for end in stage_ends[:-1])]
    stages = [nn.Sequential(*net.blocks[start : end + 1]) for start, end in zip(stage_starts, stage_ends)]
    return ZooModel(
        stem=nn.Sequential(net.conv_stem, net.bn1),
        stages=stages,
        neck=nn.Sequential(net.conv_head, net.bn2),
        pool=net.global_pool,
        classifier=net.classifier,
    )


def _convnext(name: str, num_classes: int, pretrained: bool) -> ZooModel:
    net = _create_timm(name, num_classes, pretrained)
    patchify = net.stem[0]
    patchify.stride = (2, 2)
    patchify.padding = (1, 1)
    head = net.head
    pool = nn.Sequential(head.global_pool, head.norm, head.flatten, head.pre_logits, head.drop)
    return ZooModel(stem=net.stem, stages=list(net.stages), neck=net.norm_pre, pool=pool, classifier=head.fc)


@register_model
def resnet50(num_classes: int, *, pretrained: bool = False) -> ZooModel:
    return _resnet("resnet50", num_classes, pretrained)


@register_model
def resnet101(num_classes: int, *, pretrained: bool = False) -> ZooModel:
    return _resnet("resnet101", num_classes, pretrained)


@register_model
def resnet152(num_classes: int, *, pretrained: bool = False) -> ZooModel:
    return _resnet("resnet152", num_classes, pretrained)


@register_model
def convnext_small(num_classes: int, *, pretrained: bool = False) -> ZooModel:
    return _convnext("convnext_small", num_classes, pretrained)


@register_model
def efficientnet_b0(num_classes: int, *, pretrained: bool = False) -> ZooModel:
    return _efficientnet("efficientnet_b0", num_classes, pretrained)


@register_model
def efficientnet_b2(num_classes: int, *, pretrained: bool = False) -> ZooModel:
    return _efficientnet("efficientnet_b2", num_classes, pretrained)


@register_model
def mobilenetv2_100(num_classes: int, *, pretrained: bool = False) -> ZooModel:
    return _efficientnet("mobilenetv2_100", num_classes, pretrained)
