"""The ablation's component sections: how far T-Adapt moved the teachers, what partial freezing
saved over whole runs, and whether the synergy listens to the student's query."""

from __future__ import annotations

import pandas as pd

from analysis import components
from analysis.arms import ordered_arms
from analysis.report import component_figures
from analysis.report.blocks import Block, FigureBlock, LeftOut, Section, Sweep, TableBlock, guarded
from analysis.stats import finished

SAVING_LABELS = {
    "trainable_param_steps": "parameter updates",
    "frozen_param_steps": "updates held back by freezing",
    "a_phase_time_s": "A-phase training time (s)",
    "a_phase_saved_activation_mb": "A-phase saved activations (MiB)",
    "a_phase_peak_memory_mb": "A-phase peak memory (MB)",
}


def component_sections(sweep: Sweep) -> list[Section]:
    prefix = f"{sweep.slug}-"
    return [
        Section(prefix + "drift", f"{sweep.name}: teacher drift", guarded("teacher drift", lambda: _drift(sweep))),
        Section(
            prefix + "savings",
            f"{sweep.name}: freezing savings over the run",
            guarded("freezing savings", lambda: _savings(sweep)),
        ),
        Section(
            prefix + "query", f"{sweep.name}: query sensitivity", guarded("query sensitivity", lambda: _query(sweep))
        ),
    ]


def _finished_epochs(sweep: Sweep) -> pd.DataFrame:
    return sweep.epochs[sweep.epochs["trial_id"].isin(finished(sweep.trials)["trial_id"])]


def _drift(sweep: Sweep) -> list[Block]:
    by_stage = components.drift_by_stage(components.teacher_drift(_finished_epochs(sweep)))
    arms = ordered_arms(by_stage["arm"], sweep.study, sweep.arm_order)
    caption = (
        "Weight distance of the teachers to their fine-tuned weights θ⁰ at each stage's last report, and the KL "
        "of their validation outputs before against after each A-phase; mean over teachers and seeds. Fixed "
        "teachers report their distance once, at the run's end: exactly 0 when nothing moved them."
    )
    title = "How far T-Adapt moved the teachers, per stage"
    return [FigureBlock(f"fig-{sweep.slug}-drift", title, component_figures.teacher_drift(by_stage, arms), caption)]


def _savings(sweep: Sweep) -> list[Block]:
    savings = components.freezing_savings(sweep.trials)
    savings = savings.set_index("arm").loc[ordered_arms(savings["arm"], sweep.study, sweep.arm_order)].reset_index()
    columns = [column for column in components.SAVINGS if column in savings.columns]
    table = savings.copy()
    for column in columns:
        table[column] = [f"{value:,.4g}" for value in table[column]]
    table = table.rename(columns=SAVING_LABELS)
    caption = (
        "Means over finished trials. Updates are parameters × optimiser steps summed over the run. Saved "
        "activations: bytes autograd kept for backward in an epoch's first step (an estimate valid on CPU); "
        "peak memory is CUDA's on a GPU and the process's lifetime RSS on CPU."
    )
    figure = component_figures.freezing_savings(savings, columns, SAVING_LABELS)
    blocks: list[Block] = [
        FigureBlock(f"fig-{sweep.slug}-freezing-savings", "What partial freezing saved over whole runs", figure),
        TableBlock("Per arm, over the run", table, caption),
    ]
    return blocks + [LeftOut(SAVING_LABELS[c], "trials.parquet holds no values") for c in components.SAVINGS if c not in columns]


def _query(sweep: Sweep) -> list[Block]:
    table = components.query_sensitivity(_finished_epochs(sweep))
    arms = ordered_arms(table["arm"], sweep.study, sweep.arm_order)
    caption = (
        "On one fixed validation batch after each epoch: the synergy's output (at τ_syn) with each sample's own "
        "student features against another sample's (the batch rolled by one), and the entropy of its attention "
        "over the teachers (log K: uniform). Mean over seeds. Near 0 KL means the synergy ignores the student."
    )
    title = "Does the synergy listen to the student's query?"
    return [FigureBlock(f"fig-{sweep.slug}-query", title, component_figures.query_sensitivity(table, arms), caption)]
