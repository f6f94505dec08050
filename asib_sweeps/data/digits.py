"""scikit-learn's handwritten digits: the embedded data set (ships in the sklearn wheel).

8x8 grey images with values 0..16 become uint8 0..255 with the grey replicated over
three channels, so every model of the zoo takes them unchanged; the shared loading step
then upsamples them to `data.image_size`. Digits has no official test split, so one is
carved here: seeded and stratified, `data.test_fraction` of the images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from sklearn.datasets import load_digits

from asib_sweeps.data.bundle import Split
from asib_sweeps.data.source import SourceData
from asib_sweeps.data.splits import stratified_split

if TYPE_CHECKING:
    from asib_sweeps.config import DataConfig

_GREY_LEVELS = 16


DIGITS_CLASSES = 10


def read_source(data: DataConfig) -> SourceData:
    """The catalog's reader (asib_sweeps.catalog.data_sources): the test split is carved with data.test_fraction."""
    return read_digits(test_fraction=data.test_fraction, seed=data.split_seed)


def read_digits(*, test_fraction: float, seed: int) -> SourceData:
    digits = load_digits()
    grey = torch.from_numpy(digits.images).mul(255 / _GREY_LEVELS).round().to(torch.uint8)
    images = grey.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(digits.target).to(torch.int64)
    train, test = stratified_split(Split(images, labels), test_fraction, seed=seed, key="data.test_fraction")
    return SourceData(
        train=train,
        test=test,
        num_classes=len(digits.target_names),
        class_names=tuple(str(name) for name in digits.target_names),
    )
