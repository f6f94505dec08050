"""The first look at a study: per arm, n, test accuracy (best-validation epoch and final) and the paired
difference to the references, as a tidy table and as the compact text the console shows.

Each accuracy on COMPARED carries its 95 % t interval over seeds; each paired difference
its interval, Holm's adjusted p over every comparison of the table, and a verdict with
TOST at the sweep's equivalence margin (`param.equivalence_margin`, declared with
--margin before the run; DEFAULT_MARGIN_POINTS for sweeps that predate it).
The sweep prints this text at its end, and `asib-report --text` prints it per sweep.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from analysis.arms import ordered_arms, study_of
from analysis.reproduction import readable_reproduction_table, reproduction_table
from analysis.stats import (
    MIN_INTERVAL_N,
    MissingData,
    PairedDifference,
    finished,
    holm,
    paired_difference,
    per_seed,
    spread,
    t_interval,
    verdict,
)
from analysis.tables import STATUSES

ACCURACIES = ("test_acc_best_val", "test_acc_final")
"""Best-validation first: model selection on the validation split is the protocol."""
COMPARED = "test_acc_best_val"
"""The accuracy the paired differences compare."""
OVERLAP_COLUMN = "param.overlap"
MARGIN_COLUMN = "param.equivalence_margin"
DEFAULT_MARGIN_POINTS = 1.0
"""search_spaces.study.DEFAULT_MARGIN_POINTS (a test keeps them equal; analysis imports no search_spaces)."""


def margin_points(trials: pd.DataFrame) -> float:
    """The equivalence margin the sweep declared (accuracy points), or the default for older sweeps."""
    if MARGIN_COLUMN in trials.columns:
        values = trials[MARGIN_COLUMN].dropna().unique()
        if len(values) > 1:
            raise MissingData(f"trials.parquet holds several equivalence margins: {sorted(values)}")
        if len(values) == 1:
            return float(values[0])
    return DEFAULT_MARGIN_POINTS


def arm_table(
    trials: pd.DataFrame,
    references: tuple[str, ...] = ("ce",),
    study: str | None = None,
    arm_order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per arm with finished trials, in the sweep's recorded `arm_order` (else the study's: arms.ordered_arms).

    Columns: arm, n, `<accuracy>_mean` / `_std` for each of ACCURACIES, `<COMPARED>_ci_low` /
    `_ci_high` (95 % t interval), and for each reference present `vs_<ref>_` + COMPARISON_FIELDS
    (paired over seeds, on COMPARED; the reference's own row holds NaN there), with `_p_holm`
    adjusted over every comparison of the table and `_verdict` (stats.verdict).
    """
    done = finished(trials)
    margin = margin_points(trials)
    present = [reference for reference in references if reference in set(done["arm"])]
    rows = []
    for arm in ordered_arms(done["arm"], study or study_of(trials), arm_order):
        group = done[done["arm"] == arm]
        row: dict[str, object] = {"arm": arm, "n": len(group)}
        for metric in ACCURACIES:
            _, row[f"{metric}_mean"], row[f"{metric}_std"] = spread(group[metric])
        row[f"{COMPARED}_ci_low"], row[f"{COMPARED}_ci_high"] = t_interval(group[COMPARED])
        for reference in present:
            none = PairedDifference(pairs=0, mean=math.nan, std=math.nan, t=math.nan, p=math.nan)
            difference = none if arm == reference else paired(done, arm, reference, margin)
            row.update(comparison_columns(f"vs_{reference}", difference))
        rows.append(row)
    return adjust_family(pd.DataFrame(rows), [f"vs_{reference}" for reference in present], margin)


COMPARISON_FIELDS = ("mean", "std", "pairs", "p", "ci_low", "ci_high", "tost_p")
COMPARED_TO: dict[str, tuple[str, ...]] = {"sota": ("ce", "asib"), "overlap": ("avg_kd",)}
"""The arms each study's tables pair every arm with (console and report alike); other studies: ce.
The overlap study has no ce: its reference is the plain teacher average, AVER (avg_kd)."""


def compared_to(study: str | None) -> tuple[str, ...]:
    return COMPARED_TO.get(study or "", ("ce",))


def comparison_columns(prefix: str, difference: PairedDifference) -> dict[str, object]:
    return {f"{prefix}_{field}": getattr(difference, field) for field in COMPARISON_FIELDS}


def paired(trials: pd.DataFrame, arm: str, reference: str, margin: float) -> PairedDifference:
    """arm - reference over seeds on COMPARED, TOST at `margin` points; no pairs (all NaN) where a
    seed ran more than once in either arm."""
    try:
        return paired_difference(
            per_seed(trials, arm, COMPARED), per_seed(trials, reference, COMPARED), margin=margin / 100
        )
    except MissingData:
        return PairedDifference(pairs=0, mean=math.nan, std=math.nan, t=math.nan, p=math.nan)


def adjust_family(table: pd.DataFrame, prefixes: list[str], margin: float) -> pd.DataFrame:
    """`<prefix>_p_holm` (Holm over every p of these comparisons: the table's family) and `<prefix>_verdict`."""
    if table.empty or not prefixes:
        return table
    adjusted = holm([float(p) for prefix in prefixes for p in table[f"{prefix}_p"]])
    table = table.copy()
    for index, prefix in enumerate(prefixes):
        table[f"{prefix}_p_holm"] = adjusted[index * len(table) : (index + 1) * len(table)]
        table[f"{prefix}_verdict"] = [
            None if math.isnan(mean) else verdict(int(pairs), p_holm, tost, margin)
            for mean, pairs, p_holm, tost in zip(
                table[f"{prefix}_mean"], table[f"{prefix}_pairs"], table[f"{prefix}_p_holm"], table[f"{prefix}_tost_p"]
            )
        ]
    return table


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


NO_INTERVAL = f"n<{MIN_INTERVAL_N}: no CI"


def with_interval(mean: float, low: float, high: float, std: float = math.nan) -> str:
    """0.68, 0.53, 0.83 -> "68.0 [53.1, 82.9]"; without an interval, the mean (± std) and why there is none."""
    if math.isnan(mean):
        return "—"
    if math.isnan(low):
        return f"{percent(mean, std)} ({NO_INTERVAL})"
    return f"{100 * mean:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def difference_with_interval(mean: float, low: float, high: float, std: float = math.nan) -> str:
    """A paired difference in points: "+1.3 [0.2, 2.4]"; without an interval "+1.3 ± 0.4 (n<3: no CI)"."""
    if math.isnan(mean):
        return "—"
    if math.isnan(low):
        spread_text = "" if math.isnan(std) else f" ± {100 * std:.1f}"
        return f"{100 * mean:+.1f}{spread_text} ({NO_INTERVAL})"
    return f"{100 * mean:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def p_value(p: float) -> str:
    if math.isnan(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def comparison_cells(table: pd.DataFrame, prefix: str, label: str) -> dict[str, list[str]]:
    """The three readable columns of one comparison: difference [CI] in pp, Holm's p, the verdict."""
    columns = [table[f"{prefix}_{part}"] for part in ("mean", "ci_low", "ci_high", "std")]
    return {
        f"{label} (pp, 95% CI)": [difference_with_interval(*values) for values in zip(*columns)],
        f"p Holm ({label})": [p_value(p) for p in table[f"{prefix}_p_holm"]],
        f"verdict ({label})": [text if isinstance(text, str) else "—" for text in table[f"{prefix}_verdict"]],
    }


def readable_arm_table(table: pd.DataFrame, references: tuple[str, ...] = ("ce",)) -> pd.DataFrame:
    """arm_table with people's column names and formatted cells (accuracies in %)."""
    out = pd.DataFrame({"arm": table["arm"], "n": table["n"]})
    columns = [table[f"{COMPARED}_{part}"] for part in ("mean", "ci_low", "ci_high", "std")]
    out["test acc @ best val (%, 95% CI)"] = [with_interval(*values) for values in zip(*columns)]
    out["test acc final (%)"] = [
        percent(m, s) for m, s in zip(table["test_acc_final_mean"], table["test_acc_final_std"])
    ]
    for reference in references:
        if f"vs_{reference}_mean" in table.columns:
            for name, cells in comparison_cells(table, f"vs_{reference}", f"− {reference}").items():
                out[name] = cells
    return out


def legend(margin: float) -> str:
    """What the table's statistics are, for the console and the report's captions."""
    return (
        f"accuracy: mean [95 % t interval] over seeds; − ref: arm − ref in {COMPARED} in points, paired over seeds, "
        f"[95 % t interval]; p Holm: paired t-test, Holm-adjusted over every comparison of the table; verdict at "
        f"α 0.05: differs (Holm), equivalent (TOST, two one-sided paired t-tests at the margin ±{margin:g} pt "
        f"declared before the run), inconclusive (neither); n<{MIN_INTERVAL_N}: no interval and no test"
    )


def summary_text(trials: pd.DataFrame, arm_order: Sequence[str] | None = None) -> str:
    """The console summary: a status line, then the arm table (one per class overlap where the study has one),
    its arms in the sweep's recorded `arm_order` (analysis.arm_order.recorded_arm_order)."""
    counts = ", ".join(f"{status} {count}" for status, count in status_counts(trials).items() if count)
    lines = [f"{len(trials)} trials ({counts})"]
    groups = trials.groupby(OVERLAP_COLUMN, sort=True) if OVERLAP_COLUMN in trials.columns else [(None, trials)]
    compared = False
    for overlap, group in groups:
        references = compared_to(study_of(trials))
        table = arm_table(group, references, arm_order=arm_order)
        compared = compared or any(column.startswith("vs_") for column in table.columns)
        if overlap is not None:
            lines.append(f"class overlap {overlap} %:")
        lines.append(_text(readable_arm_table(table, references)) if not table.empty else "no finished trials yet")
    explained = legend(margin_points(trials)).split("; ")
    lines.extend(explained if compared else explained[:1] + explained[-1:])
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
