"""The weight initialisation of the CIFAR KD reference code (CRD / mdistiller).

The published KD tables were produced with these initialisations, not PyTorch's
defaults, so the CIFAR families reuse them to stay comparable: convolutions get
He-normal weights scaled by fan-out (`normal(0, sqrt(2 / (k*k*out)))` in the
original code) and zero biases. BatchNorm's PyTorch default (weight 1, bias 0)
already matches, and each family initialises its classifier as its original does.
"""

from __future__ import annotations

from torch import nn


def init_convs_he_fan_out(model: nn.Module) -> None:
    """He-normal (fan-out, ReLU gain) for every Conv2d weight, zeros for its bias."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def init_linear_small_normal(linear: nn.Linear) -> None:
    """`normal(0, 0.01)` weights and zero bias: the CIFAR VGG / MobileNetV2 classifier init."""
    nn.init.normal_(linear.weight, mean=0.0, std=0.01)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
