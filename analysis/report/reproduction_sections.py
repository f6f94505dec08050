"""The reproduction study's section: ours against the published CIFAR-100 numbers."""

from __future__ import annotations

from analysis.report.blocks import Block, Section, Sweep, TableBlock, guarded
from analysis.reproduction import PUBLISHED_TEACHERS, readable_reproduction_table, reproduction_table

CAPTION = (
    "Top-1 test accuracy (%), mean over seeds of finished trials. last: the final epoch; best: the best epoch, "
    "chosen on the test set as the published code did (data.val_fraction 0). Difference: ours − published in "
    "the column of the published number's own selection (CRD's table: last; DKD's: best), with the 95 % "
    "t-interval of our mean over seeds (the published value taken as exact). Published teachers: "
    + ", ".join(f"{arch} {value:.2f}" for arch, value in PUBLISHED_TEACHERS.items())
    + "; ours are in the overview's 'Teachers used'."
)


def reproduction_sections(sweep: Sweep) -> list[Section]:
    def build() -> list[Block]:
        table = readable_reproduction_table(reproduction_table(sweep.trials))
        return [TableBlock("Ours and published", table, CAPTION)]

    title = f"{sweep.name}: published numbers reproduced"
    return [Section(f"{sweep.slug}-reproduce", title, guarded("reproduction", build))]
