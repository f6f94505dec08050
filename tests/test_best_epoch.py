"""The one best-validation rule (analysis.best_epoch), on hand-made histories."""

from __future__ import annotations

import math

from analysis.best_epoch import best_validation_epoch


def rows(*values: float | None) -> list[dict[str, object]]:
    return [{"epoch": epoch, **({} if value is None else {"val_acc": value})} for epoch, value in enumerate(values)]


def test_the_highest_val_acc_wins():
    assert best_validation_epoch(rows(0.2, 0.7, 0.5))["epoch"] == 1


def test_ties_go_to_the_earliest_epoch():
    assert best_validation_epoch(rows(0.6, 0.8, 0.3, 0.8, 0.8))["epoch"] == 1


def test_nan_and_missing_val_acc_are_skipped_wherever_they_are():
    assert best_validation_epoch(rows(math.nan, 0.4, 0.6))["epoch"] == 2  # a NaN first is not kept
    assert best_validation_epoch(rows(0.4, math.nan, None, 0.3))["epoch"] == 0
    assert best_validation_epoch(rows(None, math.nan)) is None


def test_no_rows_have_no_best():
    assert best_validation_epoch([]) is None


def test_the_row_itself_is_returned():
    history = rows(0.1, 0.9)
    assert best_validation_epoch(history) is history[1]
