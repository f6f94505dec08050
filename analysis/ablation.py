"""The ablation table: per rung, test accuracy over seeds, the paired gain over the rung below,
the teachers' accuracy at the end of the run, and the wall time.

Each rung adds one switch to the rung before it (analysis.arms.LADDER), so the gain of
a rung over the previous one is what that switch adds, paired over seeds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import pandas as pd

from analysis.arms import LADDER
from analysis.stats import PairedDifference, finished, spread
from analysis.summary import adjust_family, arm_table, comparison_columns, margin_points, paired

TEACHER_TEST = re.compile(r"^teacher(\d+)_test_acc$")


def ablation_table(trials: pd.DataFrame, epochs: pd.DataFrame, arm_order: Sequence[str] | None = None) -> pd.DataFrame:
    """arm_table (vs ce) plus, per rung, `gain_*` over the previous rung present (summary.COMPARISON_FIELDS on
    COMPARED; Holm's adjustment and the verdicts over the gains and the vs_ce comparisons together), `previous`, `teacher<k>_test_acc_final` (mean over seeds of the last epoch's value)
    and `wall_time_s` (mean over seeds)."""
    table = arm_table(trials, references=("ce",), study="ablation", arm_order=arm_order)
    if table.empty:
        return table
    done = finished(trials)
    present = [arm for arm in LADDER if arm in set(table["arm"])]
    previous = {arm: present[index - 1] for index, arm in enumerate(present) if index > 0}
    margin = margin_points(trials)
    none = PairedDifference(pairs=0, mean=math.nan, std=math.nan, t=math.nan, p=math.nan)
    gains = []
    for arm in table["arm"]:
        below = previous.get(arm)
        gain = paired(done, arm, below, margin) if below else none
        gains.append({"previous": below, **comparison_columns("gain", gain)})
    table = pd.concat([table, pd.DataFrame(gains)], axis=1)
    references = [c.removesuffix("_p_holm") for c in table.columns if c.startswith("vs_") and c.endswith("_p_holm")]
    table = adjust_family(table, [*references, "gain"], margin)  # one family: every comparison of the table
    table = table.merge(final_teacher_accuracy(done, epochs), on="arm", how="left")
    wall = done.groupby("arm")["wall_time_s"].agg(lambda values: spread(values)[1]).rename("wall_time_s")
    return table.merge(wall, left_on="arm", right_index=True, how="left")


def final_teacher_accuracy(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """Per arm, the mean over its trials of each teacher's test accuracy at the trial's last epoch
    (after any adaptation); one column per teacher that reported one, none when no teacher did."""
    columns = sorted((c for c in epochs.columns if TEACHER_TEST.match(c)), key=lambda c: int(TEACHER_TEST.match(c)[1]))
    rows = epochs[epochs["trial_id"].isin(trials["trial_id"])]
    if not columns or rows.empty:
        return pd.DataFrame({"arm": pd.Series(dtype="str")})
    last = rows.sort_values("epoch").groupby("trial_id").tail(1)
    means = last.groupby("arm")[columns].mean()
    return means.rename(columns={c: f"{c}_final" for c in columns}).reset_index()
