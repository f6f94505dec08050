"""Thin plotly figures over the analyses' tidy tables: each takes a table, draws it, adds nothing.

Accuracies are drawn in percent; every figure has its axes named with the column they show.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

from analysis.param_search import is_categorical, is_log_scaled

PALETTE = qualitative.Plotly
BETA_SCALE = "Viridis"
HEIGHT = 380


def _layout(figure: go.Figure, **extra: object) -> go.Figure:
    """The shared look; no figure title, since the page heads each figure (subplot titles stay)."""
    figure.update_layout(template="plotly_white", height=HEIGHT, margin={"l": 60, "r": 20, "t": 36, "b": 50}, **extra)
    return figure


def _error(values: pd.Series) -> dict[str, object]:
    """Error bars of std (in %), drawn only where a std exists."""
    return {"type": "data", "array": (100 * values.fillna(0)).tolist(), "visible": bool(values.notna().any())}


def arm_bars(table: pd.DataFrame) -> go.Figure:
    """Test accuracy per arm (best-val epoch and final), mean with std over seeds as error bars."""
    figure = go.Figure()
    for metric, name in (("test_acc_best_val", "at best-val epoch"), ("test_acc_final", "final epoch")):
        figure.add_bar(
            x=table["arm"],
            y=100 * table[f"{metric}_mean"],
            error_y=_error(table[f"{metric}_std"]),
            name=name,
            customdata=table["n"],
            hovertemplate="%{x}: %{y:.1f} %<br>n=%{customdata}<extra>" + name + "</extra>",
        )
    return _layout(figure, barmode="group", yaxis={"title": "test accuracy (%)", "range": [0, 100]})


def _arm_colours(arms: list[str]) -> dict[str, str]:
    return {arm: PALETTE[index % len(PALETTE)] for index, arm in enumerate(arms)}


def _beta_colour(beta: float, low: float, high: float) -> str:
    position = 0.5 if high == low else (math.log10(beta) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return sample_colorscale(BETA_SCALE, [position])[0]


def info_plane(points: pd.DataFrame, colour_by: str, arm_order: list[str]) -> go.Figure:
    """Each trial's path in (I(X;Z), I(Z;Y)); final points as diamonds. By arm: one panel per arm
    (shared axes); by beta: one panel, each path coloured by its log beta."""
    if colour_by == "arm":
        arms = [arm for arm in arm_order if arm in set(points["arm"])]
        figure = make_subplots(rows=1, cols=len(arms), subplot_titles=arms, shared_xaxes=True, shared_yaxes=True)
        colours = _arm_colours(arm_order)
        for column, arm in enumerate(arms, start=1):
            for _, path in points[points["arm"] == arm].groupby("trial_id", sort=False):
                figure.add_trace(_path(path, colours[arm], arm), row=1, col=column)
    else:
        figure = go.Figure()
        low, high = points["beta"].min(), points["beta"].max()
        for _, path in points.groupby("trial_id", sort=False):
            figure.add_trace(
                _path(path, _beta_colour(path["beta"].iloc[0], low, high), f"β={path['beta'].iloc[0]:.2g}")
            )
        figure.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            showlegend=False,
            hoverinfo="skip",
            marker={
                "colorscale": BETA_SCALE,
                "cmin": math.log10(low),
                "cmax": math.log10(high),
                "color": [math.log10(low)],
                "showscale": True,
                "colorbar": {"title": "log10 β"},
            },
        )
    figure.update_xaxes(title="I(X;Z) bound (nats)", matches="x")
    figure.update_yaxes(title="I(Z;Y) bound, sampled z (nats)", selector={"anchor": "x"})
    return _layout(figure, showlegend=False)


def _path(path: pd.DataFrame, colour: str, label: str) -> go.Scatter:
    final = path["final"].to_numpy()
    return go.Scatter(
        x=path["i_xz"],
        y=path["i_zy_z"],
        mode="lines+markers",
        line={"color": colour, "width": 1.5},
        marker={"size": np.where(final, 11, 4), "color": colour, "symbol": np.where(final, "diamond", "circle")},
        customdata=path[["epoch", "phase", "i_zy"]] if "i_zy" in path else path[["epoch", "phase"]],
        name=label,
        hovertemplate=f"{path['trial_id'].iloc[0]} ({label}, seed {path['seed'].iloc[0]})<br>epoch %{{customdata[0]}} "
        "%{customdata[1]}<br>I(X;Z)≤%{x:.3g}, I(Z;Y)≥%{y:.3g} (sampled z)"
        + ("<br>decoded from μ: %{customdata[2]:.3g}" if "i_zy" in path else "")
        + "<extra></extra>",
    )


def beta_sensitivity(points: pd.DataFrame, spread: pd.DataFrame, best: pd.Series) -> go.Figure:
    """Test accuracy against beta: each seed's trial, the mean per beta and its 95 % CI band (where a beta
    ran on two or more seeds); and the last epoch's I(X;Z) bound against beta."""
    has_ixz = "i_xz_final" in points.columns and points["i_xz_final"].notna().any()
    figure = make_subplots(
        rows=1,
        cols=2 if has_ixz else 1,
        subplot_titles=("test accuracy at best-val epoch", "I(X;Z) bound, last epoch")[: 2 if has_ixz else 1],
    )
    _beta_accuracy(figure, points, spread)
    figure.add_scatter(
        x=[best["beta"]],
        y=[100 * best["test_acc_best_val"]],
        mode="markers",
        name="best β on validation",
        marker={"symbol": "star", "size": 16, "color": "crimson"},
        row=1,
        col=1,
    )
    if has_ixz:
        figure.add_scatter(
            x=points["beta"],
            y=points["i_xz_final"],
            mode="markers+lines",
            name="I(X;Z) bound",
            hovertemplate="β=%{x:.3g}: %{y:.3g} nats<extra></extra>",
            row=1,
            col=2,
        )
        figure.update_yaxes(title="nats", row=1, col=2)
    figure.update_xaxes(type="log", title="β (log)", dtick=1, exponentformat="power")
    figure.update_yaxes(title="test accuracy (%)", row=1, col=1)
    return _layout(figure)


def _beta_accuracy(figure: go.Figure, points: pd.DataFrame, spread: pd.DataFrame) -> None:
    """Into panel 1: the 95 % CI band of the mean per beta, each seed's trial, and the mean."""
    band = spread.dropna(subset=["ci_low", "ci_high"])
    if not band.empty:
        figure.add_scatter(
            x=pd.concat([band["beta"], band["beta"][::-1]]),
            y=pd.concat([100 * band["ci_high"], 100 * band["ci_low"][::-1]]),
            fill="toself",
            fillcolor=PALETTE[0],
            opacity=0.2,
            line={"width": 0},
            hoverinfo="skip",
            name="95 % CI of the mean",
            row=1,
            col=1,
        )
    figure.add_scatter(
        x=points["beta"],
        y=100 * points["test_acc_best_val"],
        mode="markers",
        marker={"size": 5, "color": "gray"},
        name="one seed",
        hovertemplate="β=%{x:.3g}: %{y:.1f} %<extra>one seed</extra>",
        row=1,
        col=1,
    )
    figure.add_scatter(
        x=spread["beta"],
        y=100 * spread["mean"],
        mode="markers+lines",
        line={"color": PALETTE[0]},
        name="mean over seeds",
        customdata=spread["n"],
        hovertemplate="β=%{x:.3g}: %{y:.1f} % (n=%{customdata})<extra></extra>",
        row=1,
        col=1,
    )


def trial_history(history: pd.DataFrame) -> go.Figure:
    """Optuna's objective per trial in proposal order, and the best so far."""
    figure = go.Figure()
    figure.add_scatter(
        x=history["number"],
        y=100 * history["objective"],
        mode="markers",
        name="trial",
        customdata=history["beta"],
        hovertemplate="trial %{x}: %{y:.1f} % at β=%{customdata:.3g}<extra></extra>",
    )
    figure.add_scatter(
        x=history["number"], y=100 * history["best_so_far"], mode="lines", line_shape="hv", name="best so far"
    )
    figure.update_xaxes(title="trial (order proposed)", dtick=1 if len(history) <= 20 else None)
    figure.update_yaxes(title="val accuracy, last epoch (%)")
    return _layout(figure)


def importance(table: pd.DataFrame) -> go.Figure:
    """Most important parameter on top, as Optuna Dashboard draws it."""
    ordered = table.sort_values("importance")
    figure = go.Figure(go.Bar(x=ordered["importance"], y=ordered["parameter"], orientation="h"))
    return _layout(figure, xaxis={"title": "importance (fANOVA, sums to 1)"})


def parallel_coordinates(table: pd.DataFrame, params: list[str], score: str) -> go.Figure:
    """One line per trial through an axis per parameter and the score, coloured by the score.

    Log-scaled parameters (analysis.param_search.is_log_scaled) get a log10 axis labelled
    in their own values; categorical ones an axis of their categories.
    """
    dimensions = [_parcoords_axis(table[column], column) for column in params]
    dimensions.append(_parcoords_axis(table[score], score))
    line = {"color": table[score], "colorscale": BETA_SCALE, "showscale": True, "colorbar": {"title": score}}
    figure = _layout(go.Figure(go.Parcoords(line=line, dimensions=dimensions)))
    return figure.update_layout(margin={"l": 70, "r": 70, "t": 60})  # room for the axis labels on top


def _parcoords_axis(values: pd.Series, label: str) -> dict[str, object]:
    if is_categorical(values):
        categories = sorted(values.astype(str).unique())
        codes = values.astype(str).map({category: code for code, category in enumerate(categories)})
        return {"label": label, "values": codes, "tickvals": list(range(len(categories))), "ticktext": categories}
    if is_log_scaled(values):
        exponents = np.log10(values.astype(float))
        decades = list(range(math.floor(exponents.min()), math.ceil(exponents.max()) + 1))
        return {"label": f"{label} (log)", "values": exponents, "tickvals": decades, "ticktext": [f"1e{d}" for d in decades]}
    return {"label": label, "values": values.astype(float)}


def curve_band(band: pd.DataFrame, arm_order: list[str]) -> go.Figure:
    """Mean validation accuracy per student epoch, with a ± std band over seeds, one colour per arm."""
    figure = go.Figure()
    colours = _arm_colours(arm_order)
    for arm in arm_order:
        rows = band[band["arm"] == arm]
        colour, std = colours[arm], rows["std"].fillna(0)
        upper, lower = 100 * (rows["mean"] + std), 100 * (rows["mean"] - std)
        figure.add_scatter(
            x=pd.concat([rows["student_epoch"], rows["student_epoch"][::-1]]),
            y=pd.concat([upper, lower[::-1]]),
            fill="toself",
            fillcolor=colour,
            opacity=0.2,
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            legendgroup=arm,
        )
        figure.add_scatter(
            x=rows["student_epoch"],
            y=100 * rows["mean"],
            mode="lines",
            line={"color": colour},
            name=arm,
            legendgroup=arm,
            customdata=rows["n"],
            hovertemplate=arm + " epoch %{x}: %{y:.1f} % (n=%{customdata})<extra></extra>",
        )
    figure.update_xaxes(title="student epoch (epochs that train the student)")
    figure.update_yaxes(title="validation accuracy (%)")
    return _layout(figure)


def teacher_preservation(summary: pd.DataFrame, arms: list[str]) -> go.Figure:
    """Per arm (column, in `arms` order) and teacher (colour): mean val accuracy before (hollow) and after
    (filled) each A-phase."""
    figure = make_subplots(rows=1, cols=len(arms), subplot_titles=arms, shared_yaxes=True)
    for column, arm in enumerate(arms, start=1):
        for teacher, rows in summary[summary["arm"] == arm].groupby("teacher"):
            colour = PALETTE[int(teacher) % len(PALETTE)]
            for when, symbol in (("before", "circle-open"), ("after", "circle")):
                figure.add_scatter(
                    x=rows["stage"],
                    y=100 * rows[when],
                    mode="markers+lines",
                    name=f"teacher {teacher} {when}",
                    line={"color": colour, "dash": "dot" if when == "before" else "solid"},
                    marker={"symbol": symbol, "size": 9, "color": colour},
                    legendgroup=f"{teacher}{when}",
                    showlegend=column == 1,
                    row=1,
                    col=column,
                )
        figure.update_xaxes(title="stage (A-phase)", dtick=1, row=1, col=column)
    figure.update_yaxes(title="teacher val accuracy (%)", row=1, col=1)
    return _layout(figure)


def stage_costs(costs: pd.DataFrame, columns: list[str], labels: dict[str, str]) -> go.Figure:
    """One panel per cost: bars per (stage, phase), one colour per arm."""
    figure = make_subplots(rows=1, cols=len(columns), subplot_titles=[labels[c] for c in columns])
    colours = _arm_colours(list(dict.fromkeys(costs["arm"])))
    for column_index, column in enumerate(columns, start=1):
        for arm, rows in costs.groupby("arm", sort=False):
            x = [f"s{stage} {phase}" for stage, phase in zip(rows["stage"], rows["phase"])]
            figure.add_bar(
                x=x,
                y=rows[column],
                name=arm,
                marker_color=colours[arm],
                legendgroup=arm,
                showlegend=column_index == 1,
                row=1,
                col=column_index,
            )
    figure.update_xaxes(title="stage, phase")
    return _layout(figure, barmode="group")


def overlap_curve(curve: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for arm, rows in curve.groupby("arm", sort=False):
        figure.add_scatter(
            x=rows["overlap"],
            y=100 * rows["mean"],
            error_y=_error(rows["std"]),
            mode="lines+markers",
            name=arm,
            customdata=rows["n"],
            hovertemplate=arm + " at %{x} %: %{y:.1f} % (n=%{customdata})<extra></extra>",
        )
    figure.update_xaxes(title="classes shared by the teachers (%)", dtick=25)
    figure.update_yaxes(title="test accuracy at best-val epoch (%)")
    return _layout(figure)
