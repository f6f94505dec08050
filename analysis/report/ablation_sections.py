"""The ablation study's sections: the ladder table, the information plane by rung, CCCP
stability, teacher adaptation and partial-freezing efficiency."""

from __future__ import annotations

import pandas as pd

from analysis import cccp, freezing, tadapt
from analysis.ablation import ablation_table
from analysis.arms import ordered_arms
from analysis.info_plane import arms_without, info_plane_points
from analysis.report import component_figures, figures
from analysis.report.blocks import Block, FigureBlock, LeftOut, Section, Sweep, TableBlock, TextBlock, guarded
from analysis.report.component_sections import component_sections
from analysis.stats import MissingData, finished
from analysis.summary import COMPARED, comparison_cells, legend, margin_points, percent, readable_arm_table, signed_points

LAST_K = 5
COST_LABELS = {
    "epoch_time_s": "time per epoch (s)",
    "trainable_params": "trained params",
    "peak_memory_mb": "peak memory (MB)",
}


def ablation_sections(sweep: Sweep) -> list[Section]:
    prefix = f"{sweep.slug}-"
    return [
        Section(prefix + "ladder", f"{sweep.name}: ablation ladder", guarded("ablation table", lambda: _ladder(sweep))),
        Section(prefix + "info-plane", f"{sweep.name}: information plane", info_plane_blocks(sweep, colour_by="arm")),
        Section(
            prefix + "cccp",
            f"{sweep.name}: CCCP stability",
            guarded("objective per stage", lambda: _objective(sweep)) + guarded("learning curves", lambda: _cccp(sweep)),
        ),
        Section(
            prefix + "tadapt",
            f"{sweep.name}: teacher adaptation",
            guarded("teacher adaptation", lambda: _tadapt(sweep)),
        ),
        Section(
            prefix + "freezing", f"{sweep.name}: partial freezing", guarded("cost per stage", lambda: _freezing(sweep))
        ),
        *component_sections(sweep),
    ]


def _ladder(sweep: Sweep) -> list[Block]:
    table = ablation_table(sweep.trials, sweep.epochs, sweep.arm_order)
    if table.empty:
        raise MissingData("no finished trial yet")
    readable = readable_arm_table(table)
    for offset, (name, cells) in enumerate(comparison_cells(table, "gain", "− rung above").items()):
        readable.insert(4 + offset, name, cells)
    for column in [c for c in table.columns if c.startswith("teacher") and c.endswith("_test_acc_final")]:
        index = column.removeprefix("teacher").split("_")[0]
        readable[f"teacher {index} test acc, end (%)"] = [percent(value) for value in table[column]]
    readable["wall time (s)"] = [f"{value:.0f}" for value in table["wall_time_s"]]
    caption = (
        "Finished trials. '− rung above': this rung − the ladder rung listed above it; '− ce': this arm − ce. "
        f"{legend(margin_points(sweep.trials))}. Holm's family: every '− rung above' and '− ce' comparison. "
        "Teacher accuracy at the trial's last epoch (after any adaptation)."
    )
    title = "Test accuracy per arm, mean and 95 % interval over seeds"
    return [
        TableBlock("Per rung", readable, caption),
        FigureBlock(f"fig-{sweep.slug}-ladder", title, figures.arm_bars(table)),
    ]


def info_plane_blocks(sweep: Sweep, colour_by: str) -> list[Block]:
    def build() -> list[Block]:
        points = info_plane_points(sweep.epochs[sweep.epochs["trial_id"].isin(finished(sweep.trials)["trial_id"])])
        if points.empty:
            raise MissingData("no finished trial reported both i_xz and i_zy_z")
        order = ordered_arms(points["arm"], sweep.study, sweep.arm_order)
        figure = figures.info_plane(points, colour_by, order)
        caption = (
            f"{points['trial_id'].nunique()} finished trials, one point per epoch (A- and B-phase epochs alike), "
            "bounds on the validation split, both for the sampled code z (I(Z;Y) decoded from z drawn in the same "
            "pass as I(X;Z); the μ-decoded value is in the hover); ◆ = the trial's last epoch."
        )
        title = "I(Z;Y) against I(X;Z) per epoch"
        blocks: list[Block] = [FigureBlock(f"fig-{sweep.slug}-info-plane", title, figure, caption)]
        without = [arm for arm in arms_without(sweep.epochs, "i_xz") if arm in set(sweep.trials["arm"])]
        if without:
            blocks.append(LeftOut(f"paths of {', '.join(without)}", "these arms reported no i_xz"))
        return blocks

    return guarded("information plane", build)


def _cccp(sweep: Sweep) -> list[Block]:
    finished_ids = finished(sweep.trials)["trial_id"]
    curves = cccp.student_epoch_curves(sweep.epochs[sweep.epochs["trial_id"].isin(finished_ids)])
    band = cccp.curve_band(curves)
    measures = cccp.stability(curves, last_k=LAST_K)
    order = [arm for arm in (cccp.E2E_ARM, cccp.CCCP_ARM) if arm in set(band["arm"])]
    table = pd.DataFrame(
        {
            "arm": measures["arm"],
            "seeds": measures["n"],
            "k": measures["last_k"],
            "std of val acc, last k (pp)": [f"{100 * v:.2f}" for v in measures["tail_std_mean"]],
            "coefficient of variation, last k": [f"{v:.4f}" for v in measures["tail_cv_mean"]],
            "student epochs to 95 % of best": [f"{v:.1f}" for v in measures["epochs_to_95_mean"]],
        }
    )
    caption = (
        f"Per-seed measures, averaged over seeds. E2E is the ib rung, CCCP the cccp rung. The spread of the last {LAST_K} "
        "validation accuracies is noise-dominated on a small validation split; the objective per stage above is "
        "CCCP's own claim."
    )
    title = "Validation accuracy per student epoch, mean ± std over seeds"
    return [
        FigureBlock(f"fig-{sweep.slug}-cccp", title, figures.curve_band(band, order)),
        TableBlock("Learning-curve spread", table, caption),
    ]


def _objective(sweep: Sweep) -> list[Block]:
    finished_ids = finished(sweep.trials)["trial_id"]
    stages = cccp.objective_stages(sweep.epochs[sweep.epochs["trial_id"].isin(finished_ids)])
    summary = cccp.objective_summary(stages)
    table = pd.DataFrame(
        {
            "arm": summary["arm"],
            "trials": summary["trials"],
            "stage transitions": summary["transitions"],
            "mean decrease per stage": [f"{v:.4g}" for v in summary["mean_decrease"]],
            "share of stages that decreased it": [f"{v:.0%}" for v in summary["monotone_fraction"]],
        }
    )
    caption = (
        "Joint objective L_syn + L_stu (full β, eval mode) on one fixed validation batch, at each stage's end "
        "against the previous end (the first against the synergy warm-up's end). CCCP claims every stage decreases it."
    )
    figure = component_figures.objective_per_stage(stages, ordered_arms(stages["arm"], sweep.study, sweep.arm_order))
    return [
        FigureBlock(f"fig-{sweep.slug}-objective", "The joint objective at each stage's end", figure),
        TableBlock("Does each stage decrease the objective?", table, caption),
    ]


def _tadapt(sweep: Sweep) -> list[Block]:
    finished_ids = finished(sweep.trials)["trial_id"]
    preservation = tadapt.teacher_preservation(sweep.epochs[sweep.epochs["trial_id"].isin(finished_ids)])
    summary = preservation.groupby(["arm", "stage", "teacher"], sort=True)[["before", "after", "change"]].mean()
    summary = summary.reset_index()
    cells = [
        f"{percent(b)} → {percent(a)} ({100 * (a - b):+.1f} pp)" for b, a in zip(summary["before"], summary["after"])
    ]
    table = summary.assign(cell=cells).pivot(index=["arm", "stage"], columns="teacher", values="cell")
    table = table.rename(columns=lambda teacher: f"teacher {teacher}: before → after (%)").reset_index()
    table.columns.name = None
    table["arm"] = pd.Categorical(table["arm"], ordered_arms(table["arm"], "ablation", sweep.arm_order), ordered=True)
    table = table.sort_values(["arm", "stage"]).astype({"arm": str})
    figure = figures.teacher_preservation(summary, ordered_arms(summary["arm"], "ablation", sweep.arm_order))
    caption = "Before: at the A-phase's first epoch, before it trains; after: at its last epoch."
    blocks: list[Block] = [
        FigureBlock(f"fig-{sweep.slug}-tadapt", "Teacher validation accuracy before and after each A-phase", figure),
        TableBlock("Per A-phase, mean over seeds", table, caption),
    ]
    try:
        gain = tadapt.student_gain(sweep.trials)
        difference = signed_points(gain.mean, gain.std, gain.p)
        text = f"Student {COMPARED}, tadapt − cccp, paired over {gain.pairs} seeds: {difference}."
        blocks.append(TextBlock(text))
    except MissingData as missing:
        blocks.append(LeftOut("student gain of tadapt over cccp", str(missing)))
    return blocks


def _freezing(sweep: Sweep) -> list[Block]:
    finished_ids = finished(sweep.trials)["trial_id"]
    costs = freezing.stage_costs(sweep.epochs[sweep.epochs["trial_id"].isin(finished_ids)])
    usable = [column for column in freezing.COSTS if column in costs.columns]
    _, reasons = freezing.usable_costs(sweep.epochs)
    table = costs.copy()
    for column in usable:
        style = "{:.3g}" if column == "epoch_time_s" else "{:,.0f}"
        table[column] = [style.format(v) for v in table[column]]
    table = table.pivot(index=["stage", "phase"], columns="arm", values=usable)
    table.columns = [f"{COST_LABELS[cost]}, {arm}" for cost, arm in table.columns.to_flat_index()]
    table = table.reset_index()
    figure = figures.stage_costs(costs, usable, COST_LABELS)
    blocks: list[Block] = [
        FigureBlock(f"fig-{sweep.slug}-freezing", "Cost per stage and phase, full against tadapt", figure),
        TableBlock("Per stage and phase, over finished trials", table, _freezing_caption(usable)),
    ]
    return blocks + [LeftOut("a cost panel", reason) for reason in reasons]


def _freezing_caption(usable: list[str]) -> str:
    text = "Means over epochs and seeds; peak memory is the highest reported."
    if "peak_memory_mb" in usable:
        text += (
            " Peak memory is CUDA's peak allocation on a GPU; on CPU it is the worker's lifetime peak RSS "
            "(shared by trials a reused worker ran before), so compare it on GPU runs only."
        )
    return text
