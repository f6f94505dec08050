"""Published teacher files (RepDistiller / mdistiller layout) load into the zoo exactly.

The reference networks below are written here from the published architectures
(RepDistiller models/resnet.py, wrn.py, vgg.py: layer order, BN placement, strides and
module names), independently of the zoo. Their state dicts are saved the way the
published files were: the old non-zip format, storages tagged `cuda:0`, inside
`{"epoch", "model", "accuracy", "optimizer"}`. Each file must load into the zoo arch of
the same name and give the reference's logits.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.models import PretrainedWeightsError, create_model
from asib_sweeps.models.published import PUBLISHED_ARCHS, load_published_checkpoint, read_published_checkpoint


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


def published_file(tmp_path: Path, state: dict[str, Tensor], **entries) -> Path:
    path = tmp_path / "ckpt_epoch_240.pth"
    optimizer = {"state": {}, "param_groups": [{"lr": 0.0005, "momentum": 0.9, "params": [0, 1]}]}
    save_published({"epoch": 240, "model": state, "optimizer": optimizer, **entries}, path)
    return path


def test_the_saved_file_is_the_old_format_with_cuda_tags(tmp_path: Path) -> None:
    path = published_file(tmp_path, {"fc.weight": torch.ones(2, 2)}, accuracy=torch.tensor(79.42))
    raw = path.read_bytes()
    assert not raw.startswith(b"PK")  # not a zip archive
    assert b"cuda:0" in raw


@pytest.mark.parametrize("arch", PUBLISHED_ARCHS)
def test_published_file_gives_the_reference_logits(arch: str, tmp_path: Path) -> None:
    ref = randomised(reference(arch, 100), seed=len(arch))
    path = published_file(tmp_path, ref.state_dict(), accuracy=torch.tensor(75.61))
    model = create_model(arch, 100).eval()
    loaded = load_published_checkpoint(model, path, arch=arch)
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = ref(images), model(images).logits
    assert loaded.recorded_accuracy == pytest.approx(75.61, abs=1e-4)
    assert loaded.epoch == 240
    assert expected.std() > 0.1  # the comparison is not between two near-constant outputs
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_files_without_batch_counters_and_with_best_acc_load(tmp_path: Path) -> None:
    ref = randomised(reference("resnet8x4", 100), seed=3)
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = published_file(tmp_path, state, best_acc=torch.tensor(73.5))
    model = create_model("resnet8x4", 100).eval()
    assert load_published_checkpoint(model, path, arch="resnet8x4").recorded_accuracy == pytest.approx(73.5)
    with torch.no_grad():
        torch.testing.assert_close(model(torch.ones(2, 3, 32, 32)).logits, ref(torch.ones(2, 3, 32, 32)))


def test_another_archs_file_names_the_file_and_the_first_missing_key(tmp_path: Path) -> None:
    path = published_file(tmp_path, reference("resnet8x4", 100).state_dict(), accuracy=70.0)
    with pytest.raises(PretrainedWeightsError, match=r"ckpt_epoch_240\.pth.*arch='resnet32x4'.*lacks 'stages\.0\.1\."):
        load_published_checkpoint(create_model("resnet32x4", 100), path, arch="resnet32x4")


def test_other_class_count_names_the_shape(tmp_path: Path) -> None:
    path = published_file(tmp_path, reference("wrn_40_2", 100).state_dict(), accuracy=70.0)
    with pytest.raises(PretrainedWeightsError, match=r"'classifier\.weight' has shape \(100, 128\).*needs \(10, 128\)"):
        load_published_checkpoint(create_model("wrn_40_2", 10), path, arch="wrn_40_2")


def test_a_key_outside_the_published_layout_is_named(tmp_path: Path) -> None:
    state = {**reference("vgg8", 100).state_dict(), "head.weight": torch.zeros(1)}
    path = published_file(tmp_path, state, accuracy=70.0)
    with pytest.raises(PretrainedWeightsError, match=r"key 'head\.weight' is not in the published vgg8 layout"):
        read_published_checkpoint(path, "vgg8")


def test_unsupported_arch_and_missing_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PretrainedWeightsError, match="arch='tiny_cnn' has no published CIFAR layout"):
        read_published_checkpoint(tmp_path / "x.pth", "tiny_cnn")
    with pytest.raises(PretrainedWeightsError, match=r"checkpoint='.*nope\.pth' does not exist"):
        read_published_checkpoint(tmp_path / "nope.pth", "resnet8")
