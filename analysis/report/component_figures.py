"""Figures of what the ladder's components changed (analysis/components.py, analysis/cccp.py): thin
plotly drawings of tidy tables, one colour per arm, in the order the page gives."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.report.figures import _arm_colours, _layout


def _lines(
    figure: go.Figure, table: pd.DataFrame, x: str, columns: list[str], arms: list[str], hover: str = ".3g"
) -> go.Figure:
    """One panel per column, one line per arm (legend once)."""
    colours = _arm_colours(arms)
    for index, column in enumerate(columns, start=1):
        for arm in arms:
            rows = table[table["arm"] == arm]
            if rows.empty or rows[column].isna().all():
                continue
            figure.add_scatter(
                x=rows[x],
                y=rows[column],
                mode="lines+markers",
                name=arm,
                line={"color": colours[arm]},
                legendgroup=arm,
                showlegend=index == 1,
                customdata=rows["n"],
                hovertemplate=f"{arm} {x} %{{x}}: %{{y:{hover}}} (n=%{{customdata}})<extra></extra>",
                row=1,
                col=index,
            )
    return figure


def teacher_drift(by_stage: pd.DataFrame, arms: list[str]) -> go.Figure:
    """Weight distance to theta^0 and output KL over the phase, per stage, mean over teachers and seeds."""
    titles = ("‖θ − θ⁰‖ at the stage's end", "KL(before ‖ after) over the A-phase")
    figure = _lines(make_subplots(rows=1, cols=2, subplot_titles=titles), by_stage, "stage", ["drift_l2", "drift_kl"], arms)
    figure.update_xaxes(title="stage", dtick=1)
    figure.update_yaxes(title="L2 distance", row=1, col=1)
    figure.update_yaxes(title="nats", row=1, col=2)
    return _layout(figure)


def freezing_savings(savings: pd.DataFrame, columns: list[str], labels: dict[str, str]) -> go.Figure:
    """One panel per measure, one bar per arm (mean over finished trials)."""
    figure = make_subplots(rows=1, cols=len(columns), subplot_titles=[labels[c] for c in columns])
    colours = _arm_colours(list(savings["arm"]))
    for index, column in enumerate(columns, start=1):
        figure.add_bar(
            x=savings["arm"],
            y=savings[column],
            marker_color=[colours[arm] for arm in savings["arm"]],
            customdata=savings["n"],
            hovertemplate="%{x}: %{y:.4g} (n=%{customdata})<extra></extra>",
            showlegend=False,
            row=1,
            col=index,
        )
    return _layout(figure)


def objective_per_stage(stages: pd.DataFrame, arms: list[str]) -> go.Figure:
    """The joint objective at each stage's end (the warm-up's end first), mean over trials."""
    table = stages.groupby(["arm", "stage"], as_index=False).agg(n=("trial_id", "size"), objective=("objective", "mean"))
    figure = _lines(make_subplots(rows=1, cols=1), table, "stage", ["objective"], arms)
    ticks = sorted(table["stage"].unique())
    figure.update_xaxes(title="end of stage", tickvals=ticks, ticktext=["warm-up" if s < 0 else str(s) for s in ticks])
    figure.update_yaxes(title="joint objective, fixed val batch")
    return _layout(figure)


def query_sensitivity(table: pd.DataFrame, arms: list[str]) -> go.Figure:
    """Per epoch: the synergy's KL when the queries are shuffled, and its attention entropy."""
    columns = [c for c in ("query_kl", "attention_entropy") if c in table.columns]
    titles = {"query_kl": "KL(p_syn ‖ p_syn, queries shuffled)", "attention_entropy": "attention entropy (nats)"}
    figure = make_subplots(rows=1, cols=len(columns), subplot_titles=[titles[c] for c in columns])
    figure = _lines(figure, table, "epoch", columns, arms, hover=".3g")
    figure.update_xaxes(title="epoch")
    return _layout(figure)
