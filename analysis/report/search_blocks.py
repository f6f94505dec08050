"""The page's views of a multi-parameter search, for any table of trials with parameter
columns and a score (the beta study's Optuna search today, any tuning table tomorrow):
parallel coordinates and parameter importance, as Optuna Dashboard and W&B show them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis.param_search import param_importance, scored_rows
from analysis.report import figures
from analysis.report.blocks import Block, FigureBlock, guarded


Search = Callable[[], tuple[pd.DataFrame, list[str]]]
"""Builds the search's table and names its parameter columns (may raise MissingData)."""


def search_blocks(id_prefix: str, search: Search, score: str, score_meaning: str, title_prefix: str = "") -> list[Block]:
    """Parallel coordinates, then parameter importance, of the table `search()` returns;
    each left out with its reason when the search cannot support it (one parameter
    only, a missing column, fewer than two scored trials).

    `search` is called inside the guards, so tables too thin to build it say why as well.
    `title_prefix` tells apart several searches on one page (the tuning's arms).
    """

    def parallel() -> list[Block]:
        table, params = search()
        figure = figures.parallel_coordinates(scored_rows(table, params, score), params, score)
        caption = f"One line per trial through its parameters to {score} ({score_meaning}); drag along an axis to filter."
        return [FigureBlock(f"{id_prefix}-parallel-coordinates", f"{title_prefix}Parallel coordinates", figure, caption)]

    def importance() -> list[Block]:
        figure = figures.importance(param_importance(*search(), score))
        caption = (
            f"Optuna's fANOVA importance of each parameter to {score}, on a study rebuilt from the table; "
            "distributions span the observed values."
        )
        return [FigureBlock(f"{id_prefix}-importance", f"{title_prefix}Parameter importance", figure, caption)]

    return guarded(f"{title_prefix}parallel coordinates", parallel) + guarded(f"{title_prefix}parameter importance", importance)
