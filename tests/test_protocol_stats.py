"""The protocol's statistics on hand-made tables whose answers are computed here independently:
t intervals from the formula (and a textbook t quantile), Holm from its definition on a worked
example, TOST from the one-sided t statistics, and the tables' columns and verdicts."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_report_analysis import ladder_trials, trial_rows

from analysis.ablation import ablation_table
from analysis.stats import holm, paired_difference, t_interval, tost_p, verdict
from analysis.summary import DEFAULT_MARGIN_POINTS, arm_table, margin_points, summary_text

T_975_DF2 = 4.302652729911275
"""t_{0.975} with 2 degrees of freedom (textbook tables: 4.303); df = 2 has the closed form below."""
T_975_DF4 = 2.7764451051977987
"""t_{0.975} with 4 degrees of freedom (textbook tables: 2.776)."""


def test_the_t_quantiles_used_here_are_the_textbook_ones() -> None:
    p = 0.975
    assert T_975_DF2 == pytest.approx(math.sqrt(2 / (1 - (2 * p - 1) ** 2) - 2))  # the df = 2 closed form
    assert round(T_975_DF4, 3) == 2.776


def test_t_interval_is_mean_plus_minus_t_times_standard_error() -> None:
    values = [0.5, 0.7, 0.9]  # mean 0.7, sd 0.2
    low, high = t_interval(values)
    half = T_975_DF2 * 0.2 / math.sqrt(3)
    assert (low, high) == (pytest.approx(0.7 - half), pytest.approx(0.7 + half))
    five = [1.0, 2.0, 3.0, 4.0, 5.0]  # mean 3, sd sqrt(2.5)
    assert t_interval(five) == (
        pytest.approx(3 - T_975_DF4 * math.sqrt(2.5 / 5)),
        pytest.approx(3 + T_975_DF4 * math.sqrt(2.5 / 5)),
    )


def test_no_interval_below_three_values() -> None:
    assert all(math.isnan(x) for x in t_interval([0.5, 0.7]))
    assert all(math.isnan(x) for x in t_interval([0.5, None, math.nan]))


def test_holm_on_a_worked_example() -> None:
    """p = 0.01, 0.04, 0.03, 0.005 (m = 4): sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03,
    0.06, 0.04; the running maximum makes the last 0.06; back in input order."""
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.2, math.nan, 0.6])  # NaN is not a member of the family: m = 2
    assert adjusted[0] == pytest.approx(0.4) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.6)
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_tost_is_the_larger_one_sided_p() -> None:
    """Differences 0.1, 0.2, 0.3 (mean 0.2, se 0.1/sqrt 3) at margin 1: t_low = (0.2 + 1) / se, t_high =
    (0.2 - 1) / se on 2 df; the df = 2 t distribution has the CDF 1/2 + t / (2 sqrt(t^2 + 2))."""
    se = 0.1 / math.sqrt(3)

    def upper_tail(t: float) -> float:  # P(T >= t), df = 2
        return 0.5 - t / (2 * math.sqrt(t * t + 2))

    expected = max(upper_tail((0.2 + 1) / se), 1 - upper_tail((0.2 - 1) / se))
    assert tost_p([0.1, 0.2, 0.3], 1.0) == pytest.approx(expected)
    assert tost_p([0.1, 0.2, 0.3], 1.0) < 0.05  # well inside +-1
    assert tost_p([0.1, 0.2, 0.3], 0.2) > 0.5  # the mean sits on the margin: not shown equivalent
    assert math.isnan(tost_p([0.1, 0.2], 1.0)) and math.isnan(tost_p([0.2, 0.2, 0.2], 1.0))


def test_paired_difference_carries_the_interval_and_tost() -> None:
    a = pd.Series([11.0, 22.0, 33.0], index=[0, 1, 2])
    b = pd.Series([10.0, 20.0, 30.0], index=[0, 1, 2])  # differences 1, 2, 3
    result = paired_difference(a, b, margin=5.0)
    half = T_975_DF2 * 1.0 / math.sqrt(3)
    assert (result.ci_low, result.ci_high) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert result.tost_p == pytest.approx(tost_p([1.0, 2.0, 3.0], 5.0))
    assert math.isnan(paired_difference(a, b).tost_p)  # no margin given, no equivalence test


def test_verdicts() -> None:
    assert verdict(2, 0.001, 0.001, 1.0) == "n<3: no test"
    assert verdict(5, 0.01, 0.2, 1.0) == "differs"
    assert verdict(5, 0.3, 0.01, 1.0) == "equivalent within ±1 pt"
    assert verdict(5, 0.01, 0.01, 0.5) == "differs, within ±0.5 pt"
    assert verdict(5, 0.3, 0.2, 1.0) == "inconclusive"
    assert verdict(5, math.nan, math.nan, 1.0) == "no spread: no test"


def five_seed_trials(margin: float | None = None) -> pd.DataFrame:
    """Five seeds: x = ce + 0.1 pt-level noise (equivalent at 1 pt), y = ce + ~5 points (different)."""
    ce = [0.80, 0.82, 0.78, 0.81, 0.79]
    x = [c + d for c, d in zip(ce, [0.001, -0.002, 0.002, 0.0, -0.001])]
    y = [c + d for c, d in zip(ce, [0.05, 0.06, 0.04, 0.05, 0.055])]
    rows = [(f"{arm}{seed}", arm, seed, value) for arm, values in (("x", x), ("y", y), ("ce", ce)) for seed, value in enumerate(values)]
    extra = {} if margin is None else {"param.equivalence_margin": [margin] * len(rows)}
    return trial_rows(rows, "sota", **extra)


def test_arm_table_adjusts_over_the_table_and_gives_verdicts() -> None:
    trials = five_seed_trials()
    table = arm_table(trials, references=("ce",), study="sota").set_index("arm")
    raw = [table.loc[arm, "vs_ce_p"] for arm in ("x", "y")]
    assert [table.loc[arm, "vs_ce_p_holm"] for arm in ("x", "y")] == pytest.approx(holm(raw))
    assert table.loc["y", "vs_ce_verdict"] == "differs"
    assert table.loc["x", "vs_ce_verdict"] == "equivalent within ±1 pt"
    assert pd.isna(table.loc["ce", "vs_ce_verdict"])  # no comparison of ce with itself
    differences = [0.05, 0.06, 0.04, 0.05, 0.055]
    low, high = t_interval(differences)
    assert (table.loc["y", "vs_ce_ci_low"], table.loc["y", "vs_ce_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    ce_low, ce_high = t_interval([0.80, 0.82, 0.78, 0.81, 0.79])
    assert table.loc["ce", "test_acc_best_val_ci_low"] == pytest.approx(ce_low)
    assert table.loc["ce", "test_acc_best_val_ci_high"] == pytest.approx(ce_high)


def test_the_declared_margin_is_read_from_the_trials() -> None:
    assert margin_points(five_seed_trials()) == DEFAULT_MARGIN_POINTS
    narrow = five_seed_trials(margin=0.05)  # 0.05 points: x's differences (sd 0.16 pt) cannot be shown inside it
    assert margin_points(narrow) == 0.05
    table = arm_table(narrow, references=("ce",), study="sota").set_index("arm")
    assert table.loc["x", "vs_ce_verdict"] == "inconclusive"
    assert "±0.05 pt" in summary_text(narrow)


def test_ablation_family_holds_the_gains_and_the_comparisons_with_ce() -> None:
    table = ablation_table(ladder_trials(), pd.DataFrame({"trial_id": [], "arm": [], "epoch": []})).set_index("arm")
    raw = [table.loc["baseline", "vs_ce_p"], table.loc["ib", "vs_ce_p"], table.loc["ib", "gain_p"]]
    adjusted = holm(raw)  # m = 3: two comparisons with ce, one gain
    assert table.loc["baseline", "vs_ce_p_holm"] == pytest.approx(adjusted[0])
    assert table.loc["ib", "vs_ce_p_holm"] == pytest.approx(adjusted[1])
    assert table.loc["ib", "gain_p_holm"] == pytest.approx(adjusted[2])


def test_margin_default_matches_the_cli() -> None:
    from search_spaces.study import DEFAULT_MARGIN_POINTS as CLI_DEFAULT

    assert DEFAULT_MARGIN_POINTS == CLI_DEFAULT
