"""The order arms are shown in: the order the sweep planned them, as its sweep.json records it.

A sweep writes its arms, in the order of its planned trials, into `<sweep>/sweep.json`
(field `arms`, asib_sweeps/cli/sweep_record.py) when it starts; the report and the
console tables read it back (analysis.arm_order.recorded_arm_order). Sweeps started before that field
existed fall back to the study orders below: copies of asib_sweeps.presets (RUNGS,
REFERENCES) and search_spaces.sota.ARMS, kept here so analysis/ needs no training code;
a test keeps them equal. Arms an order does not name come last, by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

# The study orders of sweeps whose sweep.json has no `arms` field (started before it was recorded).
LADDER: tuple[str, ...] = ("baseline", "ib", "cccp", "tadapt", "full")
REFERENCES: tuple[str, ...] = ("ce", "avg_kd")
SOTA_ARMS: tuple[str, ...] = (
    "asib", "ce", "kd", "avg_kd", "ca_mkd", "ebkd", "ae_kd", "fitnet", "at", "crd", "dkd", "dist", "nkd",
)  # fmt: skip
OVERLAP_ARMS: tuple[str, ...] = ("asib", "avg_kd", "ca_mkd", "ebkd", "ae_kd")

STUDY_ORDER: dict[str, tuple[str, ...]] = {
    "ablation": LADDER + REFERENCES,
    "beta": ("full",),
    "sota": SOTA_ARMS,
    "overlap": OVERLAP_ARMS,
}
ANY_ORDER: tuple[str, ...] = LADDER + REFERENCES + tuple(arm for arm in SOTA_ARMS if arm not in REFERENCES)


def ordered_arms(arms: Iterable[str], study: str | None = None, recorded: Sequence[str] | None = None) -> list[str]:
    """The distinct `arms` in the sweep's `recorded` order (arm_order.recorded_arm_order); without one (an
    older sweep), in the study's order, any known order if the study has none. Unknown arms last, by name."""
    order = recorded if recorded is not None else STUDY_ORDER.get(study or "", ANY_ORDER)
    distinct = set(arms)
    known = [arm for arm in order if arm in distinct]
    rest = sorted(arm for arm in distinct if arm not in order)
    return known + rest


def study_of(table: pd.DataFrame) -> str | None:
    """The one study a table's rows belong to; None when it holds none or several."""
    studies = table["study"].dropna().unique() if "study" in table.columns else []
    return str(studies[0]) if len(studies) == 1 else None
