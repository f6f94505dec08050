"""The model zoo's architecture names, free of torch, so the config can check `arch` without building models.

Each name is registered by its builder (`@register_model` in the module named here);
tests/test_models.py keeps this list equal to the registry.
"""

from __future__ import annotations

MODELS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "asib_sweeps.models.cifar_resnet": (
        "resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet8x4", "resnet32x4",
    ),
    "asib_sweeps.models.mobilenetv2": ("mobilenetv2",),
    "asib_sweeps.models.timm_backed": (
        "resnet50", "resnet101", "resnet152", "convnext_small", "efficientnet_b0", "efficientnet_b2", "mobilenetv2_100",
    ),
    "asib_sweeps.models.vgg": ("vgg8", "vgg11", "vgg13", "vgg16", "vgg19"),
    "asib_sweeps.models.tiny": ("tiny_cnn", "tiny_resnet", "tiny_vgg"),
    "asib_sweeps.models.wrn": ("wrn_16_1", "wrn_40_1", "wrn_16_2", "wrn_40_2"),
}  # fmt: skip


def model_names() -> list[str]:
    """Every architecture, sorted (as `models.list_models` lists them)."""
    return sorted(name for names in MODELS_BY_MODULE.values() for name in names)
