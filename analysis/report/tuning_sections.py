"""The tuning stage on the page: per tuning sweep, the ledger's summary (budget used and best score
per arm, with the settings chosen) and every trial of the ledger."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from analysis.report.blocks import Block, Section, TableBlock, TextBlock, guarded
from analysis.report.search_blocks import search_blocks
from analysis.summary import percent
from analysis.tuning import LEDGER_FILE, SCORE, arm_search_table, ledger_summary, short_settings

SUMMARY_CAPTION = (
    "Every arm ran the same number of Optuna TPE trials; a trial's score is the mean over the selection seeds of "
    "its best validation accuracy (test accuracy is never read). The chosen settings are the best complete trial's "
    "(the earliest on a tie); they are what tuned.yaml holds under arms:."
)


def find_ledgers(root: Path) -> list[Path]:
    """Folders at or below root holding a tuning ledger, sorted."""
    return sorted(path.parent for path in Path(root).rglob(LEDGER_FILE))


def tuning_section(name: str, ledger: pd.DataFrame) -> Section:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "tuning"
    blocks = guarded("tuning ledger", lambda: _blocks(ledger)) + _search_views(slug, ledger)
    return Section(f"{slug}-tuning", f"{name}: tuning ledger", blocks)


def _search_views(slug: str, ledger: pd.DataFrame) -> list[Block]:
    """Per arm, parallel coordinates and parameter importance of its search (left out, with the
    reason, for an arm that searched one setting or has too few complete trials)."""
    views: list[Block] = []
    for arm in pd.unique(ledger["arm"]) if "arm" in ledger.columns else []:
        arm_slug = re.sub(r"[^A-Za-z0-9]+", "-", str(arm)).strip("-") or "arm"
        views += search_blocks(
            f"{slug}-tuning-{arm_slug}", lambda arm=arm: arm_search_table(ledger, arm), SCORE,
            f"arm {arm}: mean best validation accuracy over the selection seeds", title_prefix=f"{arm}: ",
        )
    return views


def _blocks(ledger: pd.DataFrame) -> list[Block]:
    summary = ledger_summary(ledger)
    trials = set(summary["trials"])
    budget = f"{trials.pop()} trials per arm" if len(trials) == 1 else f"UNEQUAL budgets: {sorted(trials)} trials"
    seeds = ", ".join(pd.unique(ledger["selection_seeds"]))
    text = f"Study {ledger['tuned_study'].iloc[0]}: {len(summary)} arms, {budget}, selection seeds {seeds}."
    shown = summary.assign(best_score=[percent(v) for v in summary["best_score"]]).rename(
        columns={"best_score": "best score (%)", "trials": "trials (budget used)"}
    )
    every = ledger[["arm", "number", "status", SCORE, "settings"]].assign(
        **{SCORE: [percent(v) for v in ledger[SCORE].astype("float64")]},
        settings=[short_settings(json.loads(raw)) for raw in ledger["settings"]],
    )
    return [
        TextBlock(text),
        TableBlock("Per arm: budget used and the choice", shown, SUMMARY_CAPTION, wrap=True),
        TableBlock("Every trial", every.rename(columns={SCORE: "score (%)"}), wrap=True),
    ]
