"""Reference implementations of the published CIFAR architectures, and files saved as the authors saved them.

The networks are written here from the published architectures (RepDistiller
models/resnet.py, wrn.py, vgg.py: layer order, BN placement, strides and module names),
independently of the zoo, so that tests can hold the zoo's import against them. The
files are saved the way RepDistiller's `train_teacher.py` saved its teachers: the old
non-zip format, storages tagged `cuda:0`, inside `{"epoch", "model", "accuracy",
"optimizer"}`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# ----------------------------------------------------------------- reference networks
class RefResNetBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class RefResNet(nn.Module):
    def __init__(self, depth: int, filters: list[int], num_classes: int) -> None:
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, filters[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(filters[0])
        inplanes = filters[0]
        for index, planes in enumerate(filters[1:], start=1):
            stride = 1 if index == 1 else 2
            blocks = [RefResNetBlock(inplanes if b == 0 else planes, planes, stride if b == 0 else 1) for b in range(n)]
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
            inplanes = planes
        self.fc = nn.Linear(filters[3], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.avg_pool2d(x, 8).flatten(1))


class RefWideBlock(nn.Module):
    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.equal = in_planes == out_planes
        self.convShortcut = None if self.equal else nn.Conv2d(in_planes, out_planes, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.equal:
            out = F.relu(self.bn1(x))
        else:
            x = F.relu(self.bn1(x))
            out = x
        out = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return (x if self.equal else self.convShortcut(x)) + out


class RefNetworkBlock(nn.Module):
    def __init__(self, n: int, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.layer = nn.Sequential(
            *[RefWideBlock(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1) for i in range(n)]
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x)


class RefWideResNet(nn.Module):
    def __init__(self, depth: int, widen: int, num_classes: int) -> None:
        super().__init__()
        channels = [16, 16 * widen, 32 * widen, 64 * widen]
        n = (depth - 4) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.block1 = RefNetworkBlock(n, channels[0], channels[1], 1)
        self.block2 = RefNetworkBlock(n, channels[1], channels[2], 2)
        self.block3 = RefNetworkBlock(n, channels[2], channels[3], 2)
        self.bn1 = nn.BatchNorm2d(channels[3])
        self.fc = nn.Linear(channels[3], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(F.avg_pool2d(F.relu(self.bn1(out)), 8).flatten(1))


class RefVGG(nn.Module):
    def __init__(self, cfg: list[list[int]], num_classes: int) -> None:
        super().__init__()
        in_channels = 3
        for index, widths in enumerate(cfg):
            layers: list[nn.Module] = []
            for width in widths:
                layers += [nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
                in_channels = width
            setattr(self, f"block{index}", nn.Sequential(*layers[:-1]))
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        for index in range(4):
            x = F.relu(getattr(self, f"block{index}")(x))
            if index < 3:  # pool3 runs only on 64x64 inputs
                x = F.max_pool2d(x, 2, 2)
        x = F.relu(self.block4(x))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


THIN, WIDE = [16, 16, 32, 64], [32, 64, 128, 256]
VGG_CFG = {
    "vgg8": [[64], [128], [256], [512], [512]],
    "vgg11": [[64], [128], [256, 256], [512, 512], [512, 512]],
    "vgg13": [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    "vgg16": [[64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3],
    "vgg19": [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}


def reference(arch: str, num_classes: int) -> nn.Module:
    if arch.startswith("resnet"):
        depth = int(arch.removeprefix("resnet").removesuffix("x4"))
        return RefResNet(depth, WIDE if arch.endswith("x4") else THIN, num_classes)
    if arch.startswith("wrn"):
        _, depth, widen = arch.split("_")
        return RefWideResNet(int(depth), int(widen), num_classes)
    return RefVGG(VGG_CFG[arch], num_classes)


def randomised(model: nn.Module, seed: int) -> nn.Module:
    """Every weight and BN statistic random, so a wrong rename or layer order cannot match.

    BN scales stay in [0.1, 0.5] so 110 residual layers keep the logits of order one,
    where a 1e-5 tolerance is a tight test rather than float32 rounding.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                size = module.num_features
                module.weight.copy_(0.1 + 0.4 * torch.rand(size, generator=generator))
                module.bias.copy_(0.1 * torch.randn(size, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * math.sqrt(2 / fan_in))
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
    return model.eval()


# ------------------------------------------------------- files as RepDistiller saved them
def save_published(content: dict, path: Path) -> None:
    """torch.save in the old non-zip format with every storage tagged 'cuda:0', as on the authors' GPUs."""
    registry = torch.serialization._package_registry
    saved = list(registry)
    torch.serialization.register_package(0, lambda storage: "cuda:0", lambda storage, location: None)
    try:
        torch.save(content, path, _use_new_zipfile_serialization=False)
    finally:
        registry[:] = saved


def published_file(folder: Path, state: dict[str, Tensor], **entries) -> Path:
    path = folder / "ckpt_epoch_240.pth"
    optimizer = {"state": {}, "param_groups": [{"lr": 0.0005, "momentum": 0.9, "params": [0, 1]}]}
    save_published({"epoch": 240, "model": state, "optimizer": optimizer, **entries}, path)
    return path


def teacher_file(folder: Path, arch: str, *, num_classes: int = 100, accuracy: float = 75.0) -> Path:
    """A random-weight teacher of `arch` saved as `<folder>/<arch>_vanilla/ckpt_epoch_240.pth`."""
    target = folder / f"{arch}_vanilla"
    target.mkdir(parents=True, exist_ok=True)
    state = randomised(reference(arch, num_classes), seed=len(arch)).state_dict()
    return published_file(target, state, accuracy=torch.tensor(accuracy))
