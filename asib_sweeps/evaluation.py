"""Accuracy and calibration of a trained model on one split.

Accumulated batch by batch (counts, per-class tallies, confidence bins), so a
1000-class test set never needs its logits in memory at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from asib_sweeps.data import DataBundle, Split, eval_batches
from asib_sweeps.models import ZooModel

ECE_BINS = 15
"""Equal-width confidence bins of the expected calibration error (Guo et al., 2017)."""
TOP_K = 5


@dataclass(frozen=True)
class Evaluation:
    images: int
    top1: float
    top5: float
    """Top-min(5, classes) accuracy."""
    ece: float
    """Expected calibration error of the max-softmax confidence, 15 equal-width bins."""
    per_class: dict[int, float]
    """Accuracy of each class present in the split."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_calibration_error(bin_counts: Tensor, bin_confidence: Tensor, bin_correct: Tensor) -> float:
    """sum_b (n_b / N) |accuracy_b - confidence_b| from per-bin counts and sums."""
    total = bin_counts.sum()
    if total == 0:
        return 0.0
    used = bin_counts > 0
    gaps = (bin_correct[used] - bin_confidence[used]).abs()
    return float(gaps.sum() / total)


@torch.no_grad()
def evaluate_model(model: ZooModel, data: DataBundle, split: Split, *, batch_size: int) -> Evaluation:
    """Top-1, top-5, per-class accuracy and ECE of `model` (put in eval mode) on `split`."""
    model.eval()
    classes = data.num_classes
    k = min(TOP_K, classes)
    device = split.labels.device
    top1 = torch.zeros((), device=device)
    topk = torch.zeros((), device=device)
    class_total = torch.zeros(classes, device=device)
    class_correct = torch.zeros(classes, device=device)
    bin_counts, bin_confidence, bin_correct = (torch.zeros(ECE_BINS, device=device) for _ in range(3))
    for images, labels in eval_batches(split, batch_size=batch_size, mean=data.mean, std=data.std):
        logits = model(images).logits.float()
        confidence, predicted = logits.softmax(dim=1).max(dim=1)
        correct = (predicted == labels).float()
        top1 += correct.sum()
        topk += (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum()
        class_total += torch.bincount(labels, minlength=classes)
        class_correct += torch.bincount(labels, weights=correct, minlength=classes)
        bins = (confidence * ECE_BINS).long().clamp(max=ECE_BINS - 1)
        bin_counts += torch.bincount(bins, minlength=ECE_BINS)
        bin_confidence += torch.bincount(bins, weights=confidence, minlength=ECE_BINS)
        bin_correct += torch.bincount(bins, weights=correct, minlength=ECE_BINS)
    count = len(split)
    present = (class_total > 0).nonzero().squeeze(1).tolist()
    return Evaluation(
        images=count,
        top1=float(top1) / count,
        top5=float(topk) / count,
        ece=expected_calibration_error(bin_counts, bin_confidence, bin_correct),
        per_class={int(c): float(class_correct[c] / class_total[c]) for c in present},
    )
