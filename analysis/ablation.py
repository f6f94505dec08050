"""The ablation table: per rung, test accuracy over seeds, the paired gain over the rung below,
the teachers' accuracy at the end of the run, and the wall time.

Each rung adds one switch to the rung before it (analysis.arms.LADDER), so the gain of
a rung over the previous one is what that switch adds, paired over seeds.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from analysis.arms import LADDER
from analysis.stats import finished, paired_difference, per_seed, spread
from analysis.summary import COMPARED, arm_table

TEACHER_TEST = re.compile(r"^teacher(\d+)_test_acc$")


def ablation_table(trials: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """arm_table (vs ce) plus, per rung, `gain_*` over the previous rung present (mean, std, pairs, p on
    COMPARED), `previous`, `teacher<k>_test_acc_final` (mean over seeds of the last epoch's value)
    and `wall_time_s` (mean over seeds)."""
    table = arm_table(trials, references=("ce",), study="ablation")
    if table.empty:
        return table
    done = finished(trials)
    present = [arm for arm in LADDER if arm in set(table["arm"])]
    previous = {arm: present[index - 1] for index, arm in enumerate(present) if index > 0}
    gains = []
    for arm in table["arm"]:
        below = previous.get(arm)
        gain = paired_difference(per_seed(done, arm, COMPARED), per_seed(done, below, COMPARED)) if below else None
        gains.append(
            {
                "previous": below,
                "gain_mean": gain.mean if gain else math.nan,
                "gain_std": gain.std if gain else math.nan,
                "gain_pairs": gain.pairs if gain else 0,
                "gain_p": gain.p if gain else math.nan,
            }
        )
    table = pd.concat([table, pd.DataFrame(gains)], axis=1)
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
