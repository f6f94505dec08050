"""Ours against the published numbers, on hand-made trials tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.reproduction import (
    PUBLISHED,
    STUDENT_COLUMN,
    TEACHER_COLUMN,
    published_value,
    readable_reproduction_table,
    reproduction_table,
)
from analysis.stats import MissingData
from analysis.summary import summary_text


def trials(rows: list[tuple[str, str, str, float, float, str]]) -> pd.DataFrame:
    """(teacher, student, arm, test_acc_final, test_acc_best_val, status) rows."""
    return pd.DataFrame(
        [
            {
                "trial_id": f"t{index}", "study": "reproduce", "arm": arm, "seed": index, "status": status,
                "test_acc_final": last, "test_acc_best_val": best, TEACHER_COLUMN: teacher, STUDENT_COLUMN: student,
            }
            for index, (teacher, student, arm, last, best, status) in enumerate(rows)
        ]
    )


PAIR = ("resnet32x4", "resnet8x4")


def test_the_published_table_is_complete_and_unique() -> None:
    keys = [(p.teacher, p.student, p.method) for p in PUBLISHED]
    assert len(keys) == len(set(keys)) == 6 * 4
    assert published_value(*PAIR, "kd").accuracy == 73.33 and published_value(*PAIR, "kd").selection == "last"
    assert published_value(*PAIR, "dkd").accuracy == 76.32 and published_value(*PAIR, "dkd").selection == "best"
    assert published_value(*PAIR, "crd").accuracy == 75.51


def test_difference_is_taken_in_the_published_selection_with_a_t_interval() -> None:
    table = reproduction_table(
        trials(
            [
                (*PAIR, "dkd", 0.70, 0.76, "TERMINATED"),
                (*PAIR, "dkd", 0.71, 0.77, "TERMINATED"),
                (*PAIR, "dkd", 0.72, 0.78, "TERMINATED"),
                (*PAIR, "dkd", 0.10, 0.99, "ERROR"),  # not finished: left out
                (*PAIR, "kd", 0.7333, 0.75, "TERMINATED"),
                ("resnet8", "resnet8", "kd", 0.5, 0.6, "TERMINATED"),
            ]
        )
    ).set_index(["teacher", "student", "method"])
    dkd = table.loc[(*PAIR, "dkd")]
    assert dkd["n"] == 3 and dkd["ours_last"] == pytest.approx(71.0) and dkd["ours_best"] == pytest.approx(77.0)
    assert dkd["selection"] == "best" and dkd["difference"] == pytest.approx(77.0 - 76.32)
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n), sd = 1 point
    assert (dkd["ci_low"], dkd["ci_high"]) == pytest.approx((0.68 - half, 0.68 + half))
    kd = table.loc[(*PAIR, "kd")]
    assert kd["selection"] == "last" and kd["difference"] == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(kd["ci_low"])  # one seed: no interval
    unpublished = table.loc[("resnet8", "resnet8", "kd")]
    assert math.isnan(unpublished["published"]) and math.isnan(unpublished["difference"])

    readable = readable_reproduction_table(table.reset_index())
    row = readable[readable["method"] == "dkd"].iloc[0]
    assert (row["ours (best)"], row["published"], row["difference"]) == ("77.00", "76.32", "+0.68")
    assert row["95 % CI"] == f"[{0.68 - half:+.2f}, {0.68 + half:+.2f}]"


def test_tables_without_the_pair_columns_or_finished_trials_say_why() -> None:
    with pytest.raises(MissingData, match="teachers.0.arch"):
        reproduction_table(trials([(*PAIR, "kd", 0.7, 0.7, "TERMINATED")]).drop(columns=[TEACHER_COLUMN]))
    with pytest.raises(MissingData):
        reproduction_table(trials([(*PAIR, "kd", 0.7, 0.7, "ERROR")]))


def test_the_console_summary_of_a_reproduce_sweep_ends_with_ours_vs_published() -> None:
    table = trials([(*PAIR, "kd", 0.74, 0.75, "TERMINATED"), (*PAIR, "kd", 0.72, 0.73, "TERMINATED")])
    text = summary_text(table.assign(error=None))
    assert "ours vs published" in text
    assert "resnet32x4 → resnet8x4" in text and "73.33" in text and "+-0.33" not in text and "-0.33" in text
