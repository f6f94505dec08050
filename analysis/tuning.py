"""The tuning ledger (`tuning.parquet`, docs/results.md): every trial of `asib-sweep tune`, and what it chose.

One row per Tune trial: its arm, status, the settings it sampled (`settings`, JSON of
dotted config keys, and one `knob.<key>` column per key), the best val_acc of each
selection seed (`val_acc_best_s<seed>`) and their mean, `selection_score`. An arm's
choice is its highest score among complete trials (every selection seed ran), the
earliest trial on a tie; test accuracy is never part of the ledger.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.stats import MissingData, require_columns

LEDGER_FILE = "tuning.parquet"
COMPLETE = "TERMINATED"
SCORE = "selection_score"


def complete_trials(ledger: pd.DataFrame) -> pd.DataFrame:
    """Trials that ran every selection seed: only they have a comparable score."""
    return ledger[(ledger["status"] == COMPLETE) & ledger[SCORE].notna()]


def chosen_trials(ledger: pd.DataFrame) -> pd.DataFrame:
    """Per arm (first-seen order), the complete trial with the highest score, the earliest on ties."""
    require_columns(ledger, ("arm", "number", "status", SCORE, "settings"), LEDGER_FILE)
    done = complete_trials(ledger).sort_values(["number"], kind="stable")
    rows = []
    for arm in pd.unique(ledger["arm"]):
        group = done[done["arm"] == arm]
        if not group.empty:
            rows.append(group.loc[group[SCORE].idxmax()])  # idxmax: the first maximum, i.e. the earliest trial
    return pd.DataFrame(rows).reset_index(drop=True)


def chosen_settings(ledger: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Arm -> the dotted config keys of its chosen trial (an experiment file's `arms:`)."""
    return {row["arm"]: json.loads(row["settings"]) for _, row in chosen_trials(ledger).iterrows()}


def ledger_summary(ledger: pd.DataFrame) -> pd.DataFrame:
    """Per arm: trials run (the budget used), complete ones, the best score, its trial and settings."""
    require_columns(ledger, ("arm", "number", "status", SCORE, "settings"), LEDGER_FILE)
    chosen = {row["arm"]: row for _, row in chosen_trials(ledger).iterrows()}
    rows = []
    for arm in pd.unique(ledger["arm"]):
        group = ledger[ledger["arm"] == arm]
        best = chosen.get(arm)
        rows.append(
            {
                "arm": arm,
                "trials": len(group),
                "complete": len(complete_trials(group)),
                "best_score": math.nan if best is None else float(best[SCORE]),
                "best_trial": None if best is None else int(best["number"]),
                "settings": None if best is None else short_settings(json.loads(best["settings"])),
            }
        )
    return pd.DataFrame(rows)


def short_settings(settings: dict[str, Any]) -> str:
    """`tau=3.21, w_kd=0.87`: the setting names without their section, values to 3 significant digits."""
    return ", ".join(
        f"{key.rpartition('.')[2]}={value:.3g}" if isinstance(value, float) else f"{key.rpartition('.')[2]}={value}"
        for key, value in settings.items()
    )


def arm_search_table(ledger: pd.DataFrame, arm: str) -> tuple[pd.DataFrame, list[str]]:
    """One arm's search as analysis.param_search takes it: a row per complete trial, its sampled
    settings (named without their section) and SCORE; and the names of the setting columns."""
    done = complete_trials(ledger[ledger["arm"] == arm]).sort_values("number")
    if done.empty:
        raise MissingData(f"arm {arm} has no complete tuning trial")
    settings = pd.DataFrame([json.loads(raw) for raw in done["settings"]])
    settings.columns = [column.rpartition(".")[2] for column in settings.columns]
    table = settings.assign(**{SCORE: done[SCORE].astype("float64").to_numpy()})
    return table, list(settings.columns)


def ledger_text(ledger: pd.DataFrame) -> str:
    """The console's ledger summary: one line per arm."""
    summary = ledger_summary(ledger)
    lines = []
    for row in summary.itertuples(index=False):
        score = "no complete trial" if math.isnan(row.best_score) else f"best {100 * row.best_score:.2f} % (trial {row.best_trial})"
        lines.append(f"  {row.arm}: {row.trials} trials, {row.complete} complete, {score}; {row.settings or '-'}")
    return "\n".join(lines)


def read_ledger(folder: Path) -> pd.DataFrame:
    """The ledger of a tuning sweep folder."""
    path = folder / LEDGER_FILE
    if not path.is_file():
        raise MissingData(f"{folder} holds no {LEDGER_FILE}")
    return pd.read_parquet(path)
