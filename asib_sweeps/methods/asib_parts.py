"""ASIB's small parts: weight snapshots (L2-SP, the CCCP proximal term), H(Y), the teachers' class masks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class WeightSnapshot(nn.Module):
    """A fixed copy of a module's parameters, held as buffers so it is checkpointed with the method.

    Used for L2-SP (the teachers' fine-tuned weights) and for the CCCP proximal term
    (the synergy's weights at the start of the current stage).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        for name, parameter in module.named_parameters():
            self.register_buffer(_buffer_name(name), parameter.detach().clone())

    @torch.no_grad()
    def copy_from(self, module: nn.Module) -> None:
        for name, parameter in module.named_parameters():
            self.get_buffer(_buffer_name(name)).copy_(parameter)

    def squared_distance(self, module: nn.Module) -> Tensor:
        """||theta - theta_snapshot||^2 over all of `module`'s parameters (differentiable in theta)."""
        return torch.stack(
            [(p - self.get_buffer(_buffer_name(n))).square().sum() for n, p in module.named_parameters()]
        ).sum()


def _buffer_name(parameter_name: str) -> str:
    return parameter_name.replace(".", "__")  # buffer names may not contain dots


def label_entropy(labels: Tensor, num_classes: int) -> Tensor:
    """H(Y) in nats of the empirical label distribution: the constant of the I(Z;Y) lower bound."""
    if labels.numel() == 0:
        raise ValueError("train_labels must not be empty: H(Y) needs at least one label")
    probs = torch.bincount(labels, minlength=num_classes).double() / labels.numel()
    return -torch.xlogy(probs, probs).sum().float()


def seen_class_masks(seen: Sequence[Tensor | None], num_classes: int) -> Tensor:
    """[K, C] bool on the CPU: the run's per-teacher masks stacked (None = all classes)."""
    every = torch.ones(num_classes, dtype=torch.bool)
    return torch.stack([every if mask is None else mask.cpu() for mask in seen])
