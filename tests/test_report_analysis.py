"""The report's analyses on small hand-made tables whose answers are known by hand.

Each analysis is a pure function from the results tables (docs/results.md) to a tidy
table; these tests build the tables directly as pandas frames.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import arms, cccp, freezing, tadapt
from analysis.ablation import ablation_table
from analysis.beta_study import best_beta, beta_points, beta_spread, parameter_importance, trial_history
from analysis.info_plane import arms_without, info_plane_points
from analysis.overview import config_differences, error_message, errors, teachers_used
from analysis.sota import overlap_curve, sota_table
from analysis.stats import MissingData, paired_difference, spread
from analysis.summary import arm_table, summary_text

REPO = Path(__file__).resolve().parents[1]


def trial_rows(rows: list[tuple], study: str = "ablation", **columns: list) -> pd.DataFrame:
    """(trial_id, arm, seed, test_acc_best_val[, status]) rows as a trials table."""
    frame = pd.DataFrame(
        [
            {
                "trial_id": row[0],
                "study": study,
                "arm": row[1],
                "seed": row[2],
                "test_acc_best_val": row[3],
                "test_acc_final": row[3] + 0.01,
                "val_acc_best": row[3] - 0.01,
                "status": row[4] if len(row) > 4 else "TERMINATED",
                "error": None,
                "wall_time_s": 10.0,
                "teacher_keys": ["t-a", "t-b"],
                "beta": math.nan,
            }
            for row in rows
        ]
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


# --- statistics -----------------------------------------------------------------------------------


def test_spread_is_the_sample_std_and_nan_at_one_value() -> None:
    assert spread([0.5, 0.7, 0.9]) == (3, pytest.approx(0.7), pytest.approx(0.2))
    n, mean, std = spread([0.5])
    assert (n, mean) == (1, 0.5) and math.isnan(std)


def test_paired_difference_matches_the_t_distribution_by_hand() -> None:
    """Differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = sqrt 12 on 2 degrees of freedom,
    whose two-sided p has the closed form 1 - |t| / sqrt(t^2 + 2) = 1 - sqrt(12 / 14)."""
    a = pd.Series([11.0, 22.0, 33.0], index=[0, 1, 2])
    b = pd.Series([10.0, 20.0, 30.0, 99.0], index=[0, 1, 2, 3])  # seed 3 has no pair
    result = paired_difference(a, b)
    assert result.pairs == 3 and result.mean == pytest.approx(2.0) and result.std == pytest.approx(1.0)
    assert result.t == pytest.approx(math.sqrt(12))
    assert result.p == pytest.approx(1 - math.sqrt(12 / 14))
    assert paired_difference(b.iloc[:3], a).t == pytest.approx(-math.sqrt(12))  # the sign follows a - b


def test_paired_difference_has_no_test_below_two_pairs_or_without_spread() -> None:
    one = paired_difference(pd.Series([0.6], index=[0]), pd.Series([0.5], index=[0]))
    assert one.pairs == 1 and one.mean == pytest.approx(0.1) and math.isnan(one.p)
    constant = paired_difference(pd.Series([0.6, 0.7], index=[0, 1]), pd.Series([0.5, 0.6], index=[0, 1]))
    assert constant.mean == pytest.approx(0.1) and math.isnan(constant.p)
    with pytest.raises(MissingData, match="more than one value per seed"):
        paired_difference(pd.Series([0.6, 0.7], index=[0, 0]), pd.Series([0.5], index=[0]))


# --- the summary and the ablation table -------------------------------------------------------------


def ladder_trials() -> pd.DataFrame:
    rows = []
    for seed, (baseline, ib, ce) in enumerate([(0.60, 0.62, 0.50), (0.70, 0.74, 0.52), (0.65, 0.68, 0.54)]):
        rows += [(f"b{seed}", "baseline", seed, baseline), (f"i{seed}", "ib", seed, ib), (f"c{seed}", "ce", seed, ce)]
    rows.append(("x9", "ib", 9, 0.99, "RUNNING"))  # not finished: never counted
    return trial_rows(rows)


def test_arm_table_orders_the_ladder_and_pairs_against_ce() -> None:
    table = arm_table(ladder_trials()).set_index("arm")
    assert list(table.index) == ["baseline", "ib", "ce"]  # ladder order, then the references
    assert table.loc["ib", "n"] == 3
    assert table.loc["ib", "test_acc_best_val_mean"] == pytest.approx(0.68)
    assert table.loc["ib", "test_acc_best_val_std"] == pytest.approx(0.06)
    assert table.loc["ib", "vs_ce_mean"] == pytest.approx(0.16)  # 0.12, 0.22, 0.14
    assert table.loc["ib", "vs_ce_pairs"] == 3 and 0 < table.loc["ib", "vs_ce_p"] < 0.05
    assert math.isnan(table.loc["ce", "vs_ce_mean"])


def test_ablation_table_gain_is_paired_over_the_rung_below() -> None:
    epochs = pd.DataFrame(
        {"trial_id": ["i0", "i0"], "arm": ["ib", "ib"], "epoch": [0, 1], "teacher0_test_acc": [0.9, 0.8]}
    )
    table = ablation_table(ladder_trials(), epochs).set_index("arm")
    assert table.loc["ib", "previous"] == "baseline"
    assert table.loc["ib", "gain_mean"] == pytest.approx(0.03)  # 0.02, 0.04, 0.03
    assert table.loc["ib", "gain_std"] == pytest.approx(0.01)
    assert table.loc["ib", "gain_p"] == pytest.approx(
        paired_difference(pd.Series([0.02, 0.04, 0.03]), pd.Series([0.0] * 3)).p
    )
    assert table.loc["ib", "teacher0_test_acc_final"] == pytest.approx(0.8)  # the last epoch's value
    assert math.isnan(table.loc["baseline", "gain_mean"]) and table.loc["ib", "wall_time_s"] == 10.0


def test_summary_text_is_one_readable_line_per_arm() -> None:
    text = summary_text(ladder_trials())
    lines = text.splitlines()
    assert lines[0] == "10 trials (TERMINATED 9, RUNNING 1)"
    assert lines[1].split()[:2] == ["arm", "n"]
    assert [line.split()[0] for line in lines[2:5]] == ["baseline", "ib", "ce"]
    # ib: 0.62, 0.74, 0.68 (sd 0.06) and differences to ce 0.12, 0.22, 0.14 (sd 0.0529), t_{0.975, 2} = 4.3027
    assert "68.0 [53.1, 82.9]" in lines[3] and "+16.0 [+2.9, +29.1]" in lines[3]
    assert "NaN" not in text and "nan" not in text


def test_the_console_pairs_each_study_with_the_reports_references() -> None:
    """The overlap study has no ce: its console table pairs with avg_kd, as its report does; sota adds asib."""
    values = {"asib": (0.80, 0.90, 0.85), "avg_kd": (0.70, 0.78, 0.74), "ca_mkd": (0.71, 0.80, 0.72)}
    rows = [(f"{arm}{seed}", arm, seed, acc) for arm, accs in values.items() for seed, acc in enumerate(accs)]
    overlap = trial_rows(rows, study="overlap").assign(**{"param.overlap": 0})
    text = summary_text(overlap)
    assert "− avg_kd (pp, 95% CI)" in text and "− ce" not in text
    asib = next(line for line in text.splitlines() if line.startswith("asib"))
    assert "+11.0 [" in asib  # 0.10, 0.12, 0.11 above avg_kd
    sota = summary_text(trial_rows([*rows, *[(f"c{s}", "ce", s, 0.5 + s / 100) for s in range(3)]], study="sota"))
    assert "− ce (pp, 95% CI)" in sota and "− asib (pp, 95% CI)" in sota and "− avg_kd" not in sota


def test_summary_text_at_one_seed_shows_no_spread() -> None:
    text = summary_text(trial_rows([("a", "ib", 0, 0.5), ("b", "ce", 0, 0.4)]))
    assert "50.0 " in text and "±" not in text.splitlines()[2].split("pp")[0].split("50.0")[1][:3]
    assert "NaN" not in text and "+10.0 (n<3: no CI)" in text and "50.0 (n<3: no CI)" in text


# --- information plane, CCCP, teacher adaptation, freezing ----------------------------------------------


def test_info_plane_points_keep_epochs_with_both_bounds_and_mark_the_last() -> None:
    epochs = pd.DataFrame(
        {
            "trial_id": ["t1", "t1", "t1", "t2"],
            "arm": ["ib", "ib", "ib", "baseline"],
            "seed": [0, 0, 0, 0],
            "beta": [1e-3] * 3 + [math.nan],
            "epoch": [1, 0, 2, 0],
            "i_xz": [2.0, 1.0, math.nan, math.nan],
            "i_zy_z": [0.4, 0.1, 0.6, math.nan],
            "i_zy": [0.5, 0.2, 0.7, 0.3],
        }
    )
    points = info_plane_points(epochs)
    # The y axis decodes the sampled z (the variable i_xz bounds); mu's reading rides along.
    assert points[["trial_id", "epoch", "i_xz", "i_zy_z", "i_zy", "final"]].values.tolist() == [
        ["t1", 0, 1.0, 0.1, 0.2, False],
        ["t1", 1, 2.0, 0.4, 0.5, True],
    ]
    with pytest.raises(MissingData, match="no column i_zy_z"):
        info_plane_points(epochs.drop(columns="i_zy_z"))
    assert arms_without(epochs, "i_xz") == ["baseline"]
    with pytest.raises(MissingData, match="no column i_xz"):
        info_plane_points(epochs.drop(columns="i_xz"))


def cccp_epochs() -> pd.DataFrame:
    """ib: 4 joint epochs; cccp: A, B, B, A, B, B (the A-epochs do not train the student)."""
    ib = [("e", "ib", epoch, "joint", acc) for epoch, acc in enumerate([0.2, 0.5, 0.8, 1.0])]
    phases = ["A", "B", "B", "A", "B", "B"]
    values = [0.1, 0.4, 0.9, 0.9, 0.95, 0.85]
    cc = [("c", "cccp", epoch, phase, acc) for epoch, (phase, acc) in enumerate(zip(phases, values))]
    return pd.DataFrame(ib + cc, columns=["trial_id", "arm", "epoch", "phase", "val_acc"]).assign(seed=0)


def test_student_epochs_skip_a_phases_and_epochs_to_95_percent() -> None:
    curves = cccp.student_epoch_curves(cccp_epochs())
    assert curves[curves["arm"] == "cccp"]["student_epoch"].tolist() == [1, 2, 3, 4]
    assert curves[curves["arm"] == "cccp"]["val_acc"].tolist() == [0.4, 0.9, 0.95, 0.85]
    per_trial = cccp.trial_stability(curves, last_k=3).set_index("arm")
    assert per_trial.loc["ib", "epochs_to_95"] == 4  # 0.95 * 1.0 first reached at the 4th
    assert per_trial.loc["cccp", "epochs_to_95"] == 3  # 0.9 < 0.95 * 0.95 = 0.9025 <= 0.95
    assert per_trial.loc["cccp", "tail_std"] == pytest.approx(0.05)  # 0.9, 0.95, 0.85
    assert per_trial.loc["cccp", "tail_cv"] == pytest.approx(0.05 / 0.9)
    band = cccp.curve_band(curves)
    assert band[band["arm"] == "ib"]["mean"].tolist() == [0.2, 0.5, 0.8, 1.0]
    with pytest.raises(MissingData, match="no epochs of arm cccp"):
        cccp.student_epoch_curves(cccp_epochs().query("arm == 'ib'"))


def test_teacher_preservation_takes_each_a_phase_first_before_and_last_after() -> None:
    epochs = pd.DataFrame(
        {
            "trial_id": ["t"] * 5,
            "arm": ["tadapt"] * 5,
            "seed": [0] * 5,
            "epoch": [0, 1, 2, 3, 4],
            "stage": [0, 0, 0, 1, 1],
            "phase": ["A", "A", "B", "A", "B"],
            "teacher0_val_acc_before": [0.90, math.nan, math.nan, 0.88, math.nan],
            "teacher0_val_acc_after": [math.nan, 0.89, math.nan, 0.92, math.nan],
            "teacher0_val_acc": [0.91, 0.89, 0.89, 0.92, 0.92],
        }
    )
    table = tadapt.teacher_preservation(epochs)
    assert table[["stage", "before", "after"]].values.tolist() == [[0, 0.90, 0.89], [1, 0.88, 0.92]]
    assert table["change"].tolist() == pytest.approx([-0.01, 0.04])
    with pytest.raises(MissingData, match="no teacher<k>_val_acc_before"):
        tadapt.teacher_preservation(epochs.drop(columns="teacher0_val_acc_before"))


def test_stage_costs_average_per_stage_and_phase_and_name_what_is_missing() -> None:
    epochs = pd.DataFrame(
        {
            "arm": ["full", "full", "full", "tadapt"],
            "stage": [0, 0, 1, 0],
            "phase": ["B", "B", "B", "B"],
            "epoch": [0, 1, 2, 0],
            "epoch_time_s": [1.0, 3.0, 5.0, 4.0],
            "trainable_params": [10, 10, 5, 20],
        }
    )
    costs = freezing.stage_costs(epochs).set_index(["arm", "stage"])
    assert costs.loc[("full", 0), "epoch_time_s"] == 2.0 and costs.loc[("full", 1), "trainable_params"] == 5
    assert "peak_memory_mb" not in costs.columns
    assert freezing.usable_costs(epochs)[1] == ["epochs.parquet has no peak_memory_mb values"]


# --- beta study, SOTA, overlap, overview --------------------------------------------------------------


def beta_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    trials = trial_rows([("o_00", "full", 0, 0.6), ("o_01", "full", 0, 0.8), ("o_02", "full", 0, 0.7)], "beta")
    trials["beta"] = [1e-2, 1e-4, 1e-3]
    trials["cfg.method.asib.beta"] = trials["beta"]
    trials["val_acc_best"] = [0.5, 0.9, 0.7]
    epochs = pd.DataFrame(
        {
            "trial_id": ["o_00", "o_00", "o_01", "o_02"],
            "epoch": [0, 1, 0, 0],
            "val_acc": [0.4, 0.45, 0.9, 0.6],
            "i_xz": [5.0, 3.0, 9.0, 6.0],
        }
    )
    return trials, epochs


def test_beta_points_best_beta_and_history() -> None:
    trials, epochs = beta_tables()
    points = beta_points(trials, epochs)
    assert points["beta"].tolist() == [1e-4, 1e-3, 1e-2]
    assert points["i_xz_final"].tolist() == [9.0, 6.0, 3.0]  # the last epoch's bound
    assert best_beta(points)["beta"] == 1e-4
    assert beta_spread(points)["n"].tolist() == [1, 1, 1] and beta_spread(points)["std"].isna().all()
    history = trial_history(trials, epochs)
    assert history["objective"].tolist() == [0.45, 0.9, 0.6]  # last val_acc, in proposal (trial id) order
    assert history["best_so_far"].tolist() == [0.45, 0.9, 0.9]
    with pytest.raises(MissingData, match="searched method.asib.beta"):
        parameter_importance(trials, epochs)


def test_beta_with_seeds_has_a_t_interval_per_beta_and_one_history_row_per_proposal() -> None:
    """Two proposed betas, three seeds each (Tune's Repeater: a proposal's repeats have consecutive ids)."""
    accuracies = [0.70, 0.74, 0.72, 0.80, 0.81, 0.85]
    rows = [(f"o_0{i}", "full", i % 3, acc) for i, acc in enumerate(accuracies)]
    trials = trial_rows(rows, "beta")
    trials["beta"] = [1e-3] * 3 + [1e-2] * 3
    trials["cfg.method.asib.beta"] = trials["beta"]
    trials["val_acc_best"] = [0.5, 0.6, 0.9, 0.7, 0.7, 0.7]
    epochs = pd.DataFrame({"trial_id": trials["trial_id"], "epoch": 0, "val_acc": trials["val_acc_best"]})
    points = beta_points(trials, epochs)
    spread_table = beta_spread(points).set_index("beta")
    n, mean, std = 3, 0.72, 0.02
    half = 4.302652729911275 * std / math.sqrt(n)  # t(0.975, 2)
    assert spread_table.loc[1e-3, "n"] == n and spread_table.loc[1e-3, "mean"] == pytest.approx(mean)
    assert spread_table.loc[1e-3, "ci_low"] == pytest.approx(mean - half)
    assert spread_table.loc[1e-3, "ci_high"] == pytest.approx(mean + half)
    best = best_beta(points)  # the higher mean validation accuracy, not the best single seed (0.9 at 1e-3)
    assert best["beta"] == 1e-2 and best["val_acc_best"] == pytest.approx(0.7) and best["n"] == 3
    history = trial_history(trials, epochs)
    assert history[["trial_id", "beta", "seeds"]].values.tolist() == [["o_00", 1e-3, 3], ["o_03", 1e-2, 3]]
    assert history["objective"].tolist() == pytest.approx([2 / 3, 0.7])  # the mean Optuna was told
    from analysis.report.figures import beta_sensitivity

    band = next(t for t in beta_sensitivity(points, beta_spread(points), best).data if t.fill == "toself")
    other_half = 4.302652729911275 * np.std([0.80, 0.81, 0.85], ddof=1) / math.sqrt(3)
    expected = [mean + half, 0.82 + other_half, 0.82 - other_half, mean - half]  # upper edge, then lower reversed
    assert list(band.y) == pytest.approx(100 * np.array(expected))


def test_parameter_importance_ranks_the_parameter_that_drives_the_objective() -> None:
    rng = np.random.default_rng(0)
    ids = [f"o_{index:02d}" for index in range(24)]
    trials = trial_rows([(trial_id, "full", 0, 0.5) for trial_id in ids], "beta")
    trials["cfg.method.asib.beta"] = 10 ** rng.uniform(-5, -1, len(ids))
    trials["cfg.optim.lr"] = rng.uniform(0.01, 0.1, len(ids))
    objective = -np.log10(trials["cfg.method.asib.beta"]) / 5  # depends on beta alone
    epochs = pd.DataFrame({"trial_id": ids, "epoch": 0, "val_acc": objective})
    importance = parameter_importance(trials, epochs).set_index("parameter")["importance"]
    assert importance.idxmax() == "method.asib.beta" and importance["method.asib.beta"] > 0.8


def test_sota_table_pairs_against_ce_and_asib() -> None:
    rows = [("a0", "asib", 0, 0.8), ("a1", "asib", 1, 0.9), ("c0", "ce", 0, 0.7), ("c1", "ce", 1, 0.7)]
    rows += [("k0", "kd", 0, 0.75), ("k1", "kd", 1, 0.8)]
    table = sota_table(trial_rows(rows, "sota")).set_index("arm")
    assert list(table.index) == ["asib", "ce", "kd"]
    assert table.loc["kd", "vs_ce_mean"] == pytest.approx(0.075)
    assert table.loc["kd", "vs_asib_mean"] == pytest.approx(-0.075)


def test_overlap_curve_groups_by_overlap_and_arm() -> None:
    rows = [("a", "asib", 0, 0.6), ("b", "asib", 1, 0.8), ("c", "avg_kd", 0, 0.5), ("d", "asib", 0, 0.9)]
    trials = trial_rows(rows, "overlap", **{"param.overlap": [0, 0, 0, 100]})
    curve = overlap_curve(trials)
    assert curve[["overlap", "arm", "n"]].values.tolist() == [[0, "asib", 2], [0, "avg_kd", 1], [100, "asib", 1]]
    assert curve["mean"].tolist() == pytest.approx([0.7, 0.5, 0.9])
    with pytest.raises(MissingData, match="param.overlap"):
        overlap_curve(trials.drop(columns="param.overlap"))


def test_error_message_is_the_line_stating_the_error() -> None:
    traceback = (
        "ray::ImplicitFunc.train() (pid=1, ip=192.0.2.2)\nTraceback (most recent call last):\n"
        '  File "x.py", line 3, in f\n    raise ValueError("epochs must be a multiple")\n'
        "ValueError: epochs must be a multiple of method.asib.stages\n"
    )
    assert error_message(traceback) == "ValueError: epochs must be a multiple of method.asib.stages"
    trials = trial_rows([("t", "ib", 0, math.nan, "ERROR")])
    trials["error"] = [traceback]
    assert errors(trials)["message"].tolist() == ["ValueError: epochs must be a multiple of method.asib.stages"]


def test_config_differences_and_teachers_used() -> None:
    trials = trial_rows([("a", "ib", 0, 0.5), ("b", "ib", 1, 0.6), ("c", "ce", 0, 0.4)])
    trials["cfg.method.name"] = ["asib", "asib", "ce"]
    trials["cfg.seed"] = [0, 1, 0]
    trials["cfg.optim.lr"] = [0.1, 0.1, 0.1]
    trials["cfg.epochs"] = [4, 8, 4]
    differences = config_differences(trials)
    assert list(differences.index) == ["method.name", "epochs"]
    assert differences.loc["method.name"].tolist() == ["asib", "ce"]
    assert differences.loc["epochs", "ib"] == "2 values in [4, 8]"
    epochs = pd.DataFrame(
        {
            "trial_id": ["a", "a", "b"],
            "epoch": [0, 1, 0],
            "teacher0_val_acc_before": [0.9, math.nan, math.nan],
            "teacher0_val_acc": [0.8, 0.8, 0.9],
            "teacher0_test_acc": [0.85, 0.8, 0.85],
            "teacher1_val_acc": [0.7, 0.7, 0.7],
            "teacher1_test_acc": [0.6, 0.6, 0.6],
        }
    )
    used = teachers_used(trials, epochs).set_index("key")
    assert used.loc["t-a", "val_acc"] == pytest.approx(0.9)  # before adaptation, where the epoch adapted it
    assert used.loc["t-a", "trials"] == 2 and used.loc["t-b", "test_acc"] == pytest.approx(0.6)


# --- what analysis/ depends on ------------------------------------------------------------------------


def test_analysis_imports_no_training_code() -> None:
    modules = ["analysis." + path.stem for path in (REPO / "analysis").glob("*.py") if path.stem != "__init__"]
    modules += ["analysis.report." + path.stem for path in (REPO / "analysis" / "report").glob("*.py")]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    code += "print(sorted(m for m in ('torch', 'ray', 'pydantic', 'asib_sweeps') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_copies_of_training_constants_match_their_sources() -> None:
    from asib_sweeps.presets import REFERENCES, RUNGS
    from search_spaces import overlap, sota

    assert (arms.LADDER, arms.REFERENCES, arms.OVERLAP_ARMS) == (RUNGS, REFERENCES, overlap.ARMS)
    # The SOTA arms follow the method registry; a method added since the copy was made
    # is shown after the copied ones, so the report orders the study's arms as the study does.
    assert arms.ordered_arms(sota.ARMS, "sota") == list(sota.ARMS)
    assert set(arms.SOTA_ARMS) <= set(sota.ARMS)


def test_summary_text_has_one_table_per_class_overlap() -> None:
    rows = [("a", "asib", 0, 0.6), ("b", "avg_kd", 0, 0.5), ("c", "asib", 0, 0.9), ("d", "avg_kd", 0, 0.8)]
    text = summary_text(trial_rows(rows, "overlap", **{"param.overlap": [0, 0, 100, 100]}))
    lines = text.splitlines()
    assert lines[1] == "class overlap 0 %:" and "class overlap 100 %:" in lines
    first = lines.index("class overlap 100 %:")
    assert [line.split()[:3] for line in lines[first + 2 : first + 4]] == [["asib", "1", "90.0"], ["avg_kd", "1", "80.0"]]


def test_flatten_walks_dicts_and_lists_of_dicts_only() -> None:
    from analysis.flatten import flatten_dict

    nested = {"optim": {"lr": 0.1, "milestones": [1, 2]}, "teachers": [{"arch": "a"}, {"arch": "b"}], "seed": 0}
    assert flatten_dict(nested) == {
        "optim.lr": 0.1, "optim.milestones": [1, 2], "teachers.0.arch": "a", "teachers.1.arch": "b", "seed": 0,
    }  # fmt: skip


def test_a_recorded_arm_order_overrides_the_study_copies() -> None:
    """The sweep's recorded order wins; arms it does not name come last, by name; without one, the study's."""
    assert arms.ordered_arms(["ce", "ib", "zeta", "baseline"], "ablation", ("ce", "baseline")) == ["ce", "baseline", "ib", "zeta"]
    assert arms.ordered_arms(["ce", "ib", "zeta", "baseline"], "ablation") == ["baseline", "ib", "ce", "zeta"]
    recorded = ("ce", "full", "tadapt", "cccp", "ib", "baseline")
    assert list(arm_table(ladder_trials(), arm_order=recorded)["arm"]) == [a for a in recorded if a in set(ladder_trials()["arm"])]
    lines = summary_text(ladder_trials(), arm_order=recorded).splitlines()
    shown = [line.split()[0] for line in lines if line.split() and line.split()[0] in recorded]
    assert shown == list(arm_table(ladder_trials(), arm_order=recorded)["arm"])
