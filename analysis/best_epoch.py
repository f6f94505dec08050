"""The one best-validation rule: which epoch of a run counts as its best.

The loop (`TrainingRun.summary`, and the best weights it keeps), the tuning trial (through
that summary) and the results tables (`analysis.tables`) all pick the best epoch here, so
`best_epoch`, `val_acc_best` and `test_acc_best_val` mean the same thing wherever they are read.
Pure Python over mappings: the loop imports it without pandas, analysis without torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

Row = TypeVar("Row", bound=Mapping[str, Any])


def best_validation_epoch(rows: Iterable[Row]) -> Row | None:
    """The row with the highest `val_acc`, the earliest of equal ones (rows come in epoch order);
    None if no row reported one.

    A row without a numeric `val_acc`, or with NaN, is skipped: it was not measured (the
    loop's accuracies are counts over a split and never NaN; a table may lack the column).
    """
    best: Row | None = None
    for row in rows:
        value = row.get("val_acc")
        if not isinstance(value, (int, float)) or math.isnan(value):
            continue
        if best is None or value > best["val_acc"]:
            best = row
    return best
