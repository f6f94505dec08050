"""The model zoo: interface, 32x32 adaptation, partial freezing, sizes and weights files."""

from __future__ import annotations

import huggingface_hub.constants
import pytest
import timm
import torch

from asib_sweeps.models import PretrainedWeightsError, ZooModel, create_model, list_models

# Spatial size of each stage's feature map for a 32x32 input: pins the CIFAR
# layouts and the stem adaptations of the timm-backed ImageNet models.
STAGE_SIZES = {
    **dict.fromkeys(["resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"], [32, 16, 8]),
    "resnet8x4": [32, 16, 8],
    "resnet32x4": [32, 16, 8],
    **dict.fromkeys(["wrn_16_1", "wrn_16_2", "wrn_40_1", "wrn_40_2"], [32, 16, 8]),
    **dict.fromkeys(["vgg8", "vgg11", "vgg13", "vgg16", "vgg19"], [16, 8, 4, 4]),
    "mobilenetv2": [16, 8, 4, 2],
    "resnet50": [32, 16, 8, 4],
    "resnet101": [32, 16, 8, 4],
    "resnet152": [32, 16, 8, 4],
    "convnext_small": [16, 8, 4, 2],
    "efficientnet_b0": [32, 16, 8, 4, 2],
    "efficientnet_b2": [32, 16, 8, 4, 2],
    "mobilenetv2_100": [32, 16, 8, 4, 2],
    "tiny_cnn": [16, 8],
    "tiny_resnet": [32, 16, 8],
    "tiny_vgg": [16, 8, 4],
}

# Parameter counts of the KD tables' CIFAR models for 100 classes (CRD / DKD papers).
PUBLISHED_PARAMS = {
    "resnet8x4": 1.23e6,
    "resnet32x4": 7.43e6,
    "wrn_40_2": 2.25e6,
    "wrn_16_2": 0.70e6,
    "resnet56": 0.86e6,
    "resnet20": 0.28e6,
    "vgg13": 9.46e6,
    "vgg8": 3.96e6,
}

TIMM_BACKED = [
    "resnet50",
    "resnet101",
    "resnet152",
    "convnext_small",
    "efficientnet_b0",
    "efficientnet_b2",
    "mobilenetv2_100",
]


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_the_catalogs_model_names_are_the_registrys_each_from_its_module() -> None:
    from asib_sweeps.catalog.models import MODELS_BY_MODULE, model_names
    from asib_sweeps.models.registry import get_builder

    assert model_names() == list_models()
    for module, names in MODELS_BY_MODULE.items():
        assert {get_builder(name).__module__ for name in names} == {module}


def test_every_registered_model_has_expected_stage_sizes_listed() -> None:
    assert sorted(STAGE_SIZES) == list_models()


@pytest.mark.parametrize("arch", sorted(STAGE_SIZES))
def test_forward_backward_interface_and_frozen_prefix(arch: str) -> None:
    torch.manual_seed(0)
    model = create_model(arch, num_classes=7)
    assert isinstance(model, ZooModel)
    x = torch.randn(2, 3, 32, 32)

    out = model(x)
    assert out.logits.shape == (2, 7)
    assert [f.dim() for f in out.features] == [4] * len(out.features)
    assert [f.shape[-1] for f in out.features] == STAGE_SIZES[arch]
    assert out.pooled.shape == (2, model.classifier.in_features)
    assert len(model.blocks()) == 1 + len(out.features)
    out.logits.square().mean().backward()
    # Reached by backward, not necessarily non-zero: timm zero-initialises the last
    # BN of each residual branch, which zeroes the gradients inside that branch.
    unreached = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.isfinite().all()]
    assert unreached == []

    frozen = len(model.blocks()) - 1
    model.zero_grad(set_to_none=True)
    model.set_frozen_prefix(frozen, without_grad=True)
    model(x).logits.square().mean().backward()
    for index, block in enumerate(model.blocks()):
        grads = [p.grad for p in block.parameters()]
        if index < frozen:
            assert all(g is None for g in grads), f"frozen block {index} received gradients"
        else:
            assert all(g is not None for g in grads), f"trainable block {index} received no gradient"
    assert model.classifier.weight.grad is not None


@pytest.mark.parametrize("arch", sorted(PUBLISHED_PARAMS))
def test_parameter_counts_match_the_published_ones(arch: str) -> None:
    count = _count(create_model(arch, num_classes=100))
    assert count == pytest.approx(PUBLISHED_PARAMS[arch], rel=0.02)


def test_tiny_models_stay_tiny_and_the_student_is_smallest() -> None:
    sizes = {arch: _count(create_model(arch, num_classes=10)) for arch in ("tiny_cnn", "tiny_resnet", "tiny_vgg")}
    assert sizes["tiny_cnn"] < 10_000
    assert 10_000 < sizes["tiny_resnet"] < 100_000
    assert 10_000 < sizes["tiny_vgg"] < 100_000


@pytest.mark.parametrize("arch", TIMM_BACKED)
def test_timm_adaptation_keeps_every_weight_shape(arch: str) -> None:
    """Only strides change, so timm's pretrained state dicts still fit the zoo model."""
    original = timm.create_model(arch, pretrained=False, num_classes=10)
    adapted = create_model(arch, num_classes=10)
    assert sorted(tuple(p.shape) for p in original.parameters()) == sorted(tuple(p.shape) for p in adapted.parameters())


def test_unknown_arch_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="arch must be one of") as error:
        create_model("resnet9000", num_classes=10)
    assert "'resnet9000'" in str(error.value)
    assert all(arch in str(error.value) for arch in list_models())


def test_num_classes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="num_classes must be >= 1, got num_classes=0"):
        create_model("tiny_cnn", num_classes=0)


def test_pretrained_without_published_weights_is_an_error() -> None:
    with pytest.raises(ValueError, match="arch='resnet8x4' does not have") as error:
        create_model("resnet8x4", num_classes=10, pretrained=True)
    assert "resnet50" in str(error.value) and "pretrained_path" in str(error.value)


def test_pretrained_fetch_offline_says_to_pass_a_path(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # Real offline mode of the hub client, with an empty cache: the fetch fails fast.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(PretrainedWeightsError, match="pass pretrained_path") as error:
        create_model("mobilenetv2_100", num_classes=10, pretrained=True)
    assert "arch='mobilenetv2_100'" in str(error.value)
    assert isinstance(error.value.__cause__, OSError)


def test_pretrained_path_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    source = create_model("tiny_resnet", num_classes=10).eval()
    path = tmp_path / "tiny_resnet.pt"
    torch.save(source.state_dict(), path)
    torch.manual_seed(1)
    loaded = create_model("tiny_resnet", num_classes=10, pretrained_path=path).eval()
    fresh = create_model("tiny_resnet", num_classes=10).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x).logits, source(x).logits)
        assert not torch.allclose(fresh(x).logits, source(x).logits)


def test_pretrained_path_wins_over_fetching(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """With a local file, pretrained=True needs no network (the offline route)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    source = create_model("mobilenetv2_100", num_classes=10)
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    loaded = create_model("mobilenetv2_100", num_classes=10, pretrained=True, pretrained_path=path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), source.state_dict().values()))


def test_missing_pretrained_path_names_the_path(tmp_path) -> None:
    path = tmp_path / "nowhere.pt"
    with pytest.raises(PretrainedWeightsError, match="does not exist") as error:
        create_model("tiny_cnn", num_classes=10, pretrained_path=path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("content", [b"", b"definitely not a torch file"], ids=["empty", "garbage"])
def test_corrupt_pretrained_path_names_the_path(tmp_path, content: bytes) -> None:
    path = tmp_path / "corrupt.pt"
    path.write_bytes(content)
    with pytest.raises(PretrainedWeightsError, match="not a readable torch weights file") as error:
        create_model("tiny_cnn", num_classes=10, pretrained_path=path)
    assert str(path) in str(error.value)


def test_truncated_pretrained_path_names_the_path(tmp_path) -> None:
    path = tmp_path / "truncated.pt"
    torch.save(create_model("tiny_cnn", num_classes=10).state_dict(), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(PretrainedWeightsError, match="not a readable torch weights file") as error:
        create_model("tiny_cnn", num_classes=10, pretrained_path=path)
    assert str(path) in str(error.value)


def test_pretrained_path_that_is_not_a_state_dict(tmp_path) -> None:
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(3)], path)
    with pytest.raises(PretrainedWeightsError, match="holds a list; expected a state dict") as error:
        create_model("tiny_cnn", num_classes=10, pretrained_path=path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("saved_arch", "saved_classes"), [("tiny_vgg", 10), ("tiny_resnet", 5)], ids=["other-arch", "other-classes"]
)
def test_mismatched_pretrained_path_names_path_and_arch(tmp_path, saved_arch: str, saved_classes: int) -> None:
    path = tmp_path / "other.pt"
    torch.save(create_model(saved_arch, num_classes=saved_classes).state_dict(), path)
    with pytest.raises(PretrainedWeightsError, match="does not match arch='tiny_resnet' with num_classes=10") as error:
        create_model("tiny_resnet", num_classes=10, pretrained_path=path)
    assert str(path) in str(error.value)
