"""The studies, one module each; `STUDIES` maps a study's name to its description.

A study module is data: which trials it runs (arm, seed, the config of each) and, for
studies that are not plain grids, its Tune search algorithm and scheduler.
"""

from __future__ import annotations

from search_spaces import ablation, beta, finetune, overlap, reproduce, sota, tuning
from search_spaces.study import Study, StudyOptions, Trial, TunePlan

STUDIES: dict[str, Study] = {
    study.name: study
    for study in (
        finetune.STUDY, ablation.STUDY, beta.STUDY, sota.STUDY, overlap.STUDY, reproduce.STUDY, tuning.STUDY
    )
}


def get_study(name: str) -> Study:
    if name not in STUDIES:
        raise ValueError(f"study must be one of {', '.join(STUDIES)}; got study={name!r}")
    return STUDIES[name]


__all__ = ["STUDIES", "Study", "StudyOptions", "Trial", "TunePlan", "get_study"]
