"""Parallel coordinates and parameter importance on hand-made search tables with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.beta_study import search_table
from analysis.param_search import param_importance, scored_rows
from analysis.report import figures
from analysis.report.blocks import FigureBlock, LeftOut
from analysis.report.search_blocks import search_blocks
from analysis.report.tuning_sections import tuning_section
from analysis.stats import MissingData
from analysis.tuning import arm_search_table


def search(rows: int = 40, seed: int = 0) -> pd.DataFrame:
    """Three searched parameters: a linear one, a learning rate over four decades, an optimiser name."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "width": rng.uniform(0.0, 1.0, rows),
            "lr": 10 ** rng.uniform(-4, 0, rows),
            "optimizer": rng.choice(["adamw", "sgd"], rows),
        }
    )


@pytest.mark.parametrize("driver", ["width", "lr", "optimizer"])
def test_the_parameter_the_score_depends_on_alone_is_the_most_important(driver):
    table = search()
    drivers = {
        "width": table["width"],
        "lr": np.log10(table["lr"]) / 4,
        "optimizer": (table["optimizer"] == "sgd").astype(float),
    }
    table["score"] = drivers[driver]
    importance = param_importance(table, ["width", "lr", "optimizer"], "score").set_index("parameter")["importance"]
    assert importance.sum() == pytest.approx(1.0)
    assert importance.idxmax() == driver and importance[driver] > 0.8
    assert list(importance) == sorted(importance, reverse=True)


def test_minimising_ranks_the_same_parameter():
    table = search()
    table["loss"] = -table["width"]
    importance = param_importance(table, ["width", "lr", "optimizer"], "loss", maximize=False)
    assert importance["parameter"].iloc[0] == "width"


@pytest.mark.parametrize(
    ("params", "edit", "reason"),
    [
        (["width"], None, "needs two or more searched parameters; this study searched width"),
        (["width", "lr"], lambda t: t.assign(lr=0.1), "parameter lr has one value over the scored trials"),
        (["width", "depth"], None, "the search table has no column depth"),
        (["width", "lr"], lambda t: t.assign(score=np.nan), "needs two or more trials with a score; the search has 0"),
    ],
)
def test_a_search_that_cannot_support_the_views_says_why(params, edit, reason):
    table = search().assign(score=1.0)
    table = edit(table) if edit else table
    with pytest.raises(MissingData, match=reason):
        scored_rows(table, params, "score")
    with pytest.raises(MissingData, match=reason):
        param_importance(table, params, "score")


def test_rows_without_a_score_are_left_out():
    table = search(rows=6).assign(score=[0.1, np.nan, 0.3, 0.4, np.nan, 0.6])
    assert len(scored_rows(table, ["width", "lr"], "score")) == 4


def test_parallel_coordinates_axes_log_decades_and_categories():
    table = search(rows=10).assign(score=np.linspace(0.1, 1.0, 10))
    figure = figures.parallel_coordinates(table, ["width", "lr", "optimizer"], "score")
    (trace,) = figure.data
    width, lr, optimizer, score = trace.dimensions
    assert [d.label for d in trace.dimensions] == ["width", "lr (log)", "optimizer", "score"]
    assert np.allclose(width.values, table["width"]) and np.allclose(score.values, table["score"])
    assert np.allclose(lr.values, np.log10(table["lr"]))
    assert lr.tickvals[0] <= np.log10(table["lr"]).min() and lr.tickvals[-1] >= np.log10(table["lr"]).max()
    assert lr.ticktext[0] == f"1e{lr.tickvals[0]}"
    assert list(optimizer.ticktext) == ["adamw", "sgd"]
    assert [optimizer.ticktext[code] for code in optimizer.values] == table["optimizer"].tolist()
    assert np.allclose(trace.line.color, table["score"])


def test_search_blocks_draw_both_views_or_leave_each_out_with_its_reason():
    table = search().assign(score=lambda t: t["width"])
    drawn = search_blocks("fig-s", lambda: (table, ["width", "lr", "optimizer"]), "score", "a made-up score")
    assert [type(block) for block in drawn] == [FigureBlock, FigureBlock]
    assert [block.id for block in drawn] == ["fig-s-parallel-coordinates", "fig-s-importance"]
    importance = drawn[1].figure.data[0]
    assert importance.y[-1] == "width"  # the most important on top
    one = search_blocks("fig-s", lambda: (table, ["width"]), "score", "a made-up score")
    assert [(block.what, block.reason) for block in one if isinstance(block, LeftOut)] == [
        ("parallel coordinates", "needs two or more searched parameters; this study searched width"),
        ("parameter importance", "needs two or more searched parameters; this study searched width"),
    ]


def test_the_beta_search_table_has_the_searched_config_keys_and_the_objective_optuna_saw():
    trials = pd.DataFrame(
        {
            "trial_id": ["b_01", "b_00", "b_02"],
            "status": "TERMINATED",
            "beta": [1e-3, 1e-4, 1e-2],
            "cfg.method.asib.beta": [1e-3, 1e-4, 1e-2],
            "cfg.optim.lr": [0.05, 0.1, 0.01],
            "cfg.seed": [1, 2, 3],  # varies, but is no searched parameter
            "cfg.epochs": [4, 4, 4],
        }
    )
    epochs = pd.DataFrame({"trial_id": ["b_00", "b_00", "b_01", "b_02"], "epoch": [0, 1, 0, 0], "val_acc": [0.2, 0.3, 0.5, 0.4]})
    table, params = search_table(trials, epochs)
    assert params == ["method.asib.beta", "optim.lr"]
    assert table.to_dict("list") == {
        "method.asib.beta": [1e-4, 1e-3, 1e-2],
        "optim.lr": [0.1, 0.05, 0.01],
        "objective": [0.3, 0.5, 0.4],  # each trial's last val_acc, in proposal (trial id) order
    }


def tuning_ledger(rows: int = 30) -> pd.DataFrame:
    """A hand-made ledger: kd searched tau and w_kd (its score follows tau alone), fitnet one weight."""
    rng = np.random.default_rng(1)
    taus, weights = rng.uniform(1, 8, rows), 10 ** rng.uniform(-1, 1, rows)
    kd = [
        {"arm": "kd", "number": i, "status": "TERMINATED", "selection_score": 0.5 + taus[i] / 20,
         "settings": json.dumps({"method.kd.tau": taus[i], "method.kd.w_kd": weights[i]})}
        for i in range(rows)
    ]  # fmt: skip
    fitnet = [
        {"arm": "fitnet", "number": i, "status": "TERMINATED", "selection_score": 0.6,
         "settings": json.dumps({"method.fitnet.weight": float(10 ** i)})}
        for i in range(3)
    ]  # fmt: skip
    return pd.DataFrame(kd + fitnet).assign(tuned_study="sota", selection_seeds="100, 101")


def test_each_tuned_arm_gets_its_search_views_and_a_one_knob_arm_says_why_not():
    ledger = tuning_ledger()
    table, params = arm_search_table(ledger, "kd")
    assert params == ["tau", "w_kd"] and len(table) == 30
    importance = param_importance(table, params, "selection_score").set_index("parameter")["importance"]
    assert importance.idxmax() == "tau" and importance["tau"] > 0.8
    blocks = tuning_section("tune-sota", ledger).blocks
    drawn = {block.id for block in blocks if isinstance(block, FigureBlock)}
    assert drawn == {"tune-sota-tuning-kd-parallel-coordinates", "tune-sota-tuning-kd-importance"}
    reasons = [block.reason for block in blocks if isinstance(block, LeftOut)]
    assert any("needs two or more searched parameters" in reason for reason in reasons)
    with pytest.raises(MissingData, match="arm dkd has no complete tuning trial"):
        arm_search_table(ledger, "dkd")


def test_a_search_whose_trials_all_scored_the_same_has_no_importance_and_says_why():
    table = search(rows=6).assign(score=0.5)
    with pytest.raises(MissingData, match="every scored trial has the same score"):
        param_importance(table, ["width", "lr", "optimizer"], "score")
