"""The information plane: each trial's per-epoch path in (I(X;Z), I(Z;Y)), on the validation split.

Both axes describe the same variable, the sampled code z ~ q(z|x): i_xz bounds I(X;Z)
for it, and i_zy_z is the I(Z;Y) bound decoded from z sampled in the same evaluation
pass. i_zy (decoded from z = mu, the synergy's output at evaluation) is kept beside
them as a second reading, not as an axis. Tables written before i_zy_z existed have no
plane to draw, and say so.

i_xz is reported only where the bottleneck is on (use_ib), so a rung without it has no
path; `arms_without` names those so the page can say why they are not drawn.
"""

from __future__ import annotations

import pandas as pd

from analysis.stats import require_columns

AXES = ("i_xz", "i_zy_z")
MU_READING = "i_zy"
IDENTITY = ("trial_id", "arm", "seed", "beta", "epoch", "stage", "phase")


def info_plane_points(epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per epoch that reported both bounds: IDENTITY, i_xz, i_zy_z, i_zy (mu, where reported)
    and `final` (the trial's last such epoch)."""
    require_columns(epochs, AXES, "epochs.parquet")
    columns = [c for c in (*IDENTITY, *AXES, MU_READING) if c in epochs.columns]
    points = epochs.dropna(subset=list(AXES))[columns].sort_values(["trial_id", "epoch"]).reset_index(drop=True)
    points["final"] = ~points["trial_id"].duplicated(keep="last")
    return points


def arms_without(epochs: pd.DataFrame, column: str) -> list[str]:
    """Arms none of whose epochs reported `column` (every arm when the column is absent)."""
    if column not in epochs.columns:
        return sorted(set(epochs["arm"].dropna()))
    reported = epochs.groupby("arm")[column].apply(lambda values: values.notna().any())
    return sorted(reported[~reported].index)
