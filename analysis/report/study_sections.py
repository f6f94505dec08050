"""The report's sections: the overview of every sweep, then each sweep's own, by its study."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.beta_study import best_beta, beta_points, beta_spread, search_table, trial_history
from analysis.overview import config_differences, errors, sweep_overview, teachers_used
from analysis.report import figures
from analysis.report.ablation_sections import ablation_sections, info_plane_blocks
from analysis.report.blocks import Block, FigureBlock, LeftOut, Section, Sweep, TableBlock, TextBlock, guarded
from analysis.report.reproduction_sections import reproduction_sections
from analysis.report.search_blocks import search_blocks
from analysis.sota import overlap_curve, sota_table
from analysis.stats import MissingData
from analysis.summary import OVERLAP_COLUMN, arm_table, compared_to, legend, margin_points, percent, readable_arm_table

def paired_caption(sweep: Sweep) -> str:
    """Finished trials; '− ref': this arm − ref; the statistics as summary.legend says, at the sweep's margin."""
    return f"Finished trials. '− ref': this arm − ref. {legend(margin_points(sweep.trials))}."
CONFIG_CAPTION = "As stored in each trial's config (the seed aside); a method reads only its own keys."


def report_sections(sweeps: Sequence[Sweep]) -> list[Section]:
    sections = [overview_section(sweeps)]
    for sweep in sweeps:
        sections.extend(SECTIONS.get(sweep.study, _arms_sections)(sweep))
    return sections


def overview_section(sweeps: Sequence[Sweep]) -> Section:
    blocks: list[Block] = [TableBlock("Sweeps found", sweep_overview({s.name: s.trials for s in sweeps}))]
    failed = pd.concat([errors(s.trials).assign(sweep=s.name) for s in sweeps], ignore_index=True)
    if failed.empty:
        blocks.append(TextBlock("No trial ended in ERROR."))
    else:
        blocks.append(TableBlock("ERROR trials", failed[["sweep", "trial_id", "arm", "seed", "message"]], wrap=True))
    distilled = [s for s in sweeps if s.study != "finetune"]
    for sweep in distilled:
        differences = config_differences(sweep.trials, sweep.arm_order)
        if not differences.empty:
            title = f"{sweep.name}: config keys that differ between trials"
            blocks.append(TableBlock(title, differences.reset_index(), CONFIG_CAPTION))
    teachers = (
        pd.concat([teachers_used(s.trials, s.epochs) for s in distilled], ignore_index=True) if distilled else None
    )
    if teachers is None or teachers[["val_acc", "test_acc"]].isna().all().all():
        blocks.append(LeftOut("teachers used", "no distillation trial reported teacher accuracies"))
    else:
        teachers = teachers.groupby(["key", "index"], as_index=False).agg(
            trials=("trials", "sum"), val_acc=("val_acc", "mean"), test_acc=("test_acc", "mean")
        )
        caption = (
            "Accuracy at the first epoch, before any adaptation: the fine-tuned weights from the cache (own classes)."
        )
        blocks.append(TableBlock("Teachers used", _percent_columns(teachers, ("val_acc", "test_acc")), caption))
    return Section("overview", "Overview", blocks)


def _percent_columns(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return table.assign(**{c: [percent(v) for v in table[c]] for c in columns}).rename(
        columns={c: f"{c.replace('_', ' ')} (%)" for c in columns}
    )


def beta_sections(sweep: Sweep) -> list[Section]:
    prefix = f"{sweep.slug}-"
    return [
        Section(prefix + "beta", f"{sweep.name}: β sensitivity", guarded("β sensitivity", lambda: _beta(sweep))),
        Section(prefix + "search", f"{sweep.name}: Optuna search", _search(sweep)),
        Section(prefix + "info-plane", f"{sweep.name}: information plane", info_plane_blocks(sweep, colour_by="beta")),
    ]


def _beta(sweep: Sweep) -> list[Block]:
    points = beta_points(sweep.trials, sweep.epochs)
    spread = beta_spread(points)
    best = best_beta(points)
    text = (
        f"Best β on validation: {best['beta']:.3g} (val acc {percent(best['val_acc_best'])} %, "
        f"test acc at that epoch {percent(best['test_acc_best_val'])} %), over {len(points)} finished trials "
        f"at {len(spread)} distinct β ({spread['n'].min()}–{spread['n'].max()} seeds each)."
    )
    blocks: list[Block] = [
        TextBlock(text),
        FigureBlock(
            f"fig-{sweep.slug}-beta-sensitivity",
            "Accuracy and I(X;Z) against β",
            figures.beta_sensitivity(points, spread, best),
            "Grey: each seed's trial; line: the mean per β, with its 95 % t confidence interval as a band.",
        ),
    ]
    if (spread["n"] < 2).all():
        blocks.append(LeftOut("per-β confidence band", "every β ran once (one seed): no interval to draw"))
    if "i_xz_final" not in points.columns:
        blocks.append(LeftOut("I(X;Z) against β", "epochs.parquet has no column i_xz"))
    return blocks


def _search(sweep: Sweep) -> list[Block]:
    history = guarded(
        "search history",
        lambda: [
            FigureBlock(
                f"fig-{sweep.slug}-history",
                "Search history",
                figures.trial_history(trial_history(sweep.trials, sweep.epochs)),
                "Objective per proposed β: the mean over its seeds of each trial's last val_acc, what Optuna was told.",
            )
        ],
    )
    views = search_blocks(
        f"fig-{sweep.slug}",
        lambda: search_table(sweep.trials, sweep.epochs),
        "objective",
        "each trial's last val_acc, the value Tune reports to Optuna",
    )
    return history + views


def sota_sections(sweep: Sweep) -> list[Section]:
    def build() -> list[Block]:
        table = sota_table(sweep.trials, sweep.arm_order)
        if table.empty:
            raise MissingData("no finished trial yet")
        return [
            TableBlock("Methods", readable_arm_table(table, references=compared_to("sota")), paired_caption(sweep)),
            FigureBlock(
                f"fig-{sweep.slug}-sota", "Test accuracy per method, mean ± std over seeds", figures.arm_bars(table)
            ),
        ]

    return [Section(f"{sweep.slug}-sota", f"{sweep.name}: methods compared", guarded("SOTA table", build))]


def overlap_sections(sweep: Sweep) -> list[Section]:
    def build() -> list[Block]:
        curve = overlap_curve(sweep.trials)
        if curve.empty:
            raise MissingData("no finished trial of an overlap arm yet")
        blocks: list[Block] = [
            FigureBlock(f"fig-{sweep.slug}-overlap", "Accuracy against class overlap", figures.overlap_curve(curve))
        ]
        for overlap, group in sweep.trials.groupby(OVERLAP_COLUMN, sort=True):
            table = arm_table(group, references=compared_to("overlap"), study="overlap", arm_order=sweep.arm_order)
            if not table.empty:
                blocks.append(
                    TableBlock(f"{overlap} % shared classes", readable_arm_table(table, compared_to("overlap")), paired_caption(sweep))
                )
        return blocks

    return [Section(f"{sweep.slug}-overlap", f"{sweep.name}: class overlap", guarded("overlap curve", build))]


def finetune_sections(sweep: Sweep) -> list[Section]:
    done = sweep.trials[sweep.trials["status"] == "TERMINATED"]
    if "param.teacher_key" not in done.columns or done.empty:
        blocks: list[Block] = [LeftOut("fine-tuned teachers", "no finished fine-tuning trial with a teacher_key")]
    else:
        table = done[["param.teacher_key", "arm", "val_acc_best", "test_acc_best_val", "epochs_done"]].rename(
            columns={"param.teacher_key": "key", "arm": "arch"}
        )
        blocks = [TableBlock("Teachers fine-tuned", _percent_columns(table, ("val_acc_best", "test_acc_best_val")))]
    return [Section(f"{sweep.slug}-finetune", f"{sweep.name}: teacher fine-tuning", blocks)]


def _arms_sections(sweep: Sweep) -> list[Section]:
    def build() -> list[Block]:
        table = arm_table(sweep.trials, arm_order=sweep.arm_order)
        if table.empty:
            raise MissingData("no finished trial yet")
        return [TableBlock("Per arm", readable_arm_table(table), paired_caption(sweep))]

    return [Section(f"{sweep.slug}-arms", f"{sweep.name}: study {sweep.study}", guarded("arm table", build))]


SECTIONS = {
    "ablation": ablation_sections,
    "beta": beta_sections,
    "sota": sota_sections,
    "overlap": overlap_sections,
    "finetune": finetune_sections,
    "reproduce": reproduction_sections,
}
