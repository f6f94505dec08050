"""The order arms are shown in: the ablation ladder, then its references; the SOTA arms as the study lists them.

Copies of asib_sweeps.presets (RUNGS, REFERENCES) and search_spaces.sota.ARMS, kept
here so analysis/ needs no training code; a test keeps them equal. A method registered
after the copy was made comes last in the SOTA order, so adding one needs no edit here.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

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


def ordered_arms(arms: Iterable[str], study: str | None = None) -> list[str]:
    """The distinct `arms` in the study's order (any known order if the study has none), unknown arms last, by name."""
    order = STUDY_ORDER.get(study or "", ANY_ORDER)
    distinct = set(arms)
    known = [arm for arm in order if arm in distinct]
    rest = sorted(arm for arm in distinct if arm not in order)
    return known + rest


def study_of(table: pd.DataFrame) -> str | None:
    """The one study a table's rows belong to; None when it holds none or several."""
    studies = table["study"].dropna().unique() if "study" in table.columns else []
    return str(studies[0]) if len(studies) == 1 else None
