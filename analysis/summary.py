"""The first look at a study: per arm, n, test accuracy (best-validation epoch and final) and the paired
difference to the references, as a tidy table and as the compact text the console shows.

The sweep prints this text at its end, and `asib-report --text` prints it per sweep.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.arms import ordered_arms, study_of
from analysis.reproduction import readable_reproduction_table, reproduction_table
from analysis.stats import MissingData, PairedDifference, finished, paired_difference, per_seed, spread
from analysis.tables import STATUSES

ACCURACIES = ("test_acc_best_val", "test_acc_final")
"""Best-validation first: model selection on the validation split is the protocol."""
COMPARED = "test_acc_best_val"
"""The accuracy the paired differences compare."""
OVERLAP_COLUMN = "param.overlap"


def arm_table(trials: pd.DataFrame, references: tuple[str, ...] = ("ce",), study: str | None = None) -> pd.DataFrame:
    """One row per arm with finished trials, in the study's order.

    Columns: arm, n, `<accuracy>_mean` / `_std` for each of ACCURACIES, and for each
    reference present `vs_<ref>_mean`, `_std`, `_pairs`, `_p` (paired over seeds, on
    COMPARED; the reference's own row holds NaN there).
    """
    done = finished(trials)
    rows = []
    for arm in ordered_arms(done["arm"], study or study_of(trials)):
        group = done[done["arm"] == arm]
        row: dict[str, object] = {"arm": arm, "n": len(group)}
        for metric in ACCURACIES:
            _, row[f"{metric}_mean"], row[f"{metric}_std"] = spread(group[metric])
        for reference in references:
            if reference not in set(done["arm"]):
                continue
            difference = _paired(done, arm, reference)
            mine = arm == reference
            row[f"vs_{reference}_mean"] = math.nan if mine else difference.mean
            row[f"vs_{reference}_std"] = math.nan if mine else difference.std
            row[f"vs_{reference}_pairs"] = 0 if mine else difference.pairs
            row[f"vs_{reference}_p"] = math.nan if mine else difference.p
        rows.append(row)
    return pd.DataFrame(rows)


def _paired(trials: pd.DataFrame, arm: str, reference: str) -> PairedDifference:
    """arm - reference over seeds; no pairs (all NaN) where a seed ran more than once in either arm."""
    try:
        return paired_difference(per_seed(trials, arm, COMPARED), per_seed(trials, reference, COMPARED))
    except MissingData:
        return PairedDifference(pairs=0, mean=math.nan, std=math.nan, t=math.nan, p=math.nan)


def status_counts(trials: pd.DataFrame) -> pd.Series:
    """Trials per status, every status of the contract listed (zeros included)."""
    return trials["status"].value_counts().reindex(list(STATUSES), fill_value=0)


def percent(mean: float, std: float = math.nan) -> str:
    """0.9341, 0.012 -> "93.4 ± 1.2"; the ± part only where there is a spread."""
    if math.isnan(mean):
        return "—"
    return f"{100 * mean:.1f}" if math.isnan(std) else f"{100 * mean:.1f} ± {100 * std:.1f}"


def signed_points(mean: float, std: float, p: float) -> str:
    """A paired difference in percentage points: "+1.3 ± 0.4 pp (p=0.041)"."""
    if math.isnan(mean):
        return "—"
    text = f"{100 * mean:+.1f}" + ("" if math.isnan(std) else f" ± {100 * std:.1f}") + " pp"
    if math.isnan(p):
        return text
    return f"{text} (p<0.001)" if p < 0.001 else f"{text} (p={p:.2g})"


def readable_arm_table(table: pd.DataFrame, references: tuple[str, ...] = ("ce",)) -> pd.DataFrame:
    """arm_table with people's column names and formatted cells (accuracies in %)."""
    out = pd.DataFrame({"arm": table["arm"], "n": table["n"]})
    out["test acc @ best val (%)"] = [
        percent(m, s) for m, s in zip(table["test_acc_best_val_mean"], table["test_acc_best_val_std"])
    ]
    out["test acc final (%)"] = [
        percent(m, s) for m, s in zip(table["test_acc_final_mean"], table["test_acc_final_std"])
    ]
    for reference in references:
        if f"vs_{reference}_mean" in table.columns:
            columns = [table[f"vs_{reference}_{part}"] for part in ("mean", "std", "p")]
            out[f"− {reference} (paired)"] = [signed_points(*values) for values in zip(*columns)]
    return out


def summary_text(trials: pd.DataFrame) -> str:
    """The console summary: a status line, then the arm table (one per class overlap where the study has one)."""
    counts = ", ".join(f"{status} {count}" for status, count in status_counts(trials).items() if count)
    lines = [f"{len(trials)} trials ({counts})"]
    groups = trials.groupby(OVERLAP_COLUMN, sort=True) if OVERLAP_COLUMN in trials.columns else [(None, trials)]
    compared = False
    for overlap, group in groups:
        table = arm_table(group)
        compared = compared or any(column.startswith("vs_") for column in table.columns)
        if overlap is not None:
            lines.append(f"class overlap {overlap} %:")
        lines.append(_text(readable_arm_table(table)) if not table.empty else "no finished trials yet")
    if compared:
        lines.append(f"− ce: arm − ce in {COMPARED}, mean ± std over seeds of the paired differences; p: paired t-test")
    if study_of(trials) == "reproduce":
        lines += _reproduction_lines(trials)
    return "\n".join(lines)


def _reproduction_lines(trials: pd.DataFrame) -> list[str]:
    """The reproduce study's ours-vs-published table (analysis.reproduction), when it has finished trials."""
    try:
        table = readable_reproduction_table(reproduction_table(trials))
    except MissingData as missing:
        return [f"ours vs published: {missing}"]
    return ["ours vs published (test acc %; difference in the published selection, 95 % t-interval):", _text(table)]


def _text(table: pd.DataFrame) -> str:
    """Columns two spaces apart; the first (the arm) left-aligned, the numbers right-aligned."""
    cells = [list(map(str, table.columns))] + [[str(value) for value in row] for row in table.itertuples(index=False)]
    widths = [max(len(row[index]) for row in cells) for index in range(len(table.columns))]
    aligned = [
        "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        )
        for row in cells
    ]
    return "\n".join(line.rstrip() for line in aligned)
