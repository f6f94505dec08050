"""Data: the four sources, the splits, and the on-device batch pipeline.

`load_data(config.data)` gives CPU tensors; move the bundle with `.to(device)` and draw
batches with `train_batches` / `eval_batches` from the split where it lies.
"""

from asib_sweeps.data.bundle import DataBundle, Split
from asib_sweeps.data.errors import DataError
from asib_sweeps.data.loading import load_data, source_class_count
from asib_sweeps.data.pipeline import eval_batches, train_batches
from asib_sweeps.data.splits import student_subset

__all__ = ["DataBundle", "DataError", "Split", "eval_batches", "load_data", "source_class_count", "student_subset", "train_batches"]
