"""asib-report: the studies' figures and tables, from the Parquet results, in one offline HTML page.

    asib-report DIR [--out FILE] [--png DIR] [--text]

Every folder at or below DIR holding a trials.parquet is one sweep; every one holding a
tuning.parquet (asib-sweep tune) adds its tuning ledger. The page (default
DIR/report.html) embeds plotly.js and makes no network request, so it opens on a cluster
without internet. `--text` prints the console summary the sweep prints at its end (and
writes the page only when --out is given too).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and plotly are imported once there is something to report, not for --help
    import pandas as pd

    from analysis.report.blocks import Sweep

EXIT_OK, EXIT_NO_RESULTS, EXIT_USAGE, EXIT_PNG = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asib-report",
        description="Report on sweep results: trials.parquet and epochs.parquet in DIR or any folder below it. "
        f"Exit codes: {EXIT_NO_RESULTS} no or unreadable results, {EXIT_USAGE} bad arguments, "
        f"{EXIT_PNG} page written but PNG export failed.",
    )
    parser.add_argument("results", type=Path, metavar="DIR", help="results directory of one or more sweeps")
    parser.add_argument("--out", type=Path, metavar="FILE", help="HTML file to write (default: DIR/report.html)")
    parser.add_argument("--png", type=Path, metavar="DIR", help="also write every figure as DIR/<figure>.png (kaleido)")
    parser.add_argument("--text", action="store_true", help="print the per-arm summary of each sweep")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.results.is_dir():
        print(f"asib-report: DIR must be a directory; got {args.results}", file=sys.stderr)
        return EXIT_USAGE
    from analysis.report.page import render_page
    from analysis.report.png import PngExportError, write_pngs
    from analysis.report.study_sections import report_sections
    from analysis.report.tuning_sections import tuning_section
    from analysis.summary import summary_text
    from analysis.tuning import LEDGER_FILE, ledger_text

    sweeps = load_sweeps(args.results)
    ledgers = load_ledgers(args.results)
    if not sweeps and not ledgers:
        print(f"asib-report: no trials.parquet or {LEDGER_FILE} in or below {args.results} could be read", file=sys.stderr)
        return EXIT_NO_RESULTS
    if args.text:
        for sweep in sweeps:
            print(f"{sweep.name} ({sweep.study}): {summary_text(sweep.trials, sweep.arm_order)}\n")
        for name, ledger in ledgers.items():
            print(f"{name} (tuning ledger):\n{ledger_text(ledger)}\n")
        if args.out is None and args.png is None:
            return EXIT_OK
    sections = report_sections(sweeps) + [tuning_section(name, ledger) for name, ledger in ledgers.items()]
    out = args.out or args.results / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page(sections, root=args.results), encoding="utf-8")
    figures = [figure for section in sections for figure in section.figures()]
    print(f"wrote {out}: {len(sweeps)} sweep(s), {len(figures)} figures")
    if args.png is not None:
        try:
            paths = write_pngs(figures, args.png)
        except PngExportError as error:
            print(f"asib-report: --png: {error}; the HTML page was written", file=sys.stderr)
            return EXIT_PNG
        print(f"wrote {len(paths)} PNGs to {args.png}")
    return EXIT_OK


def load_sweeps(root: Path) -> list[Sweep]:
    """Every readable sweep at or below root, named by its path below root (root's own name for root itself).

    A sweep whose tables (or sweep.json) cannot be read is named on stderr and left out; the others are reported.
    """
    from analysis.arm_order import recorded_arm_order
    from analysis.report.blocks import Sweep
    from analysis.results import IncompatibleResultsError, find_result_dirs, read_results

    sweeps = []
    for folder in find_result_dirs(root):
        try:
            trials, epochs = read_results(folder)
            arm_order = recorded_arm_order(folder)
        except (FileNotFoundError, IncompatibleResultsError, ValueError) as error:
            print(f"asib-report: left out {folder}: {error}", file=sys.stderr)
            continue
        name = folder.relative_to(root).as_posix() if folder != root else root.resolve().name
        sweeps.append(Sweep(name=name, path=folder, trials=trials, epochs=epochs, arm_order=arm_order))
    return sweeps


def load_ledgers(root: Path) -> dict[str, pd.DataFrame]:
    """Every readable tuning ledger at or below root, by its folder's path below root; an unreadable
    one is named on stderr and left out, as an unreadable sweep is."""
    from analysis.report.tuning_sections import find_ledgers
    from analysis.tuning import read_ledger

    ledgers = {}
    for folder in find_ledgers(root):
        try:
            ledger = read_ledger(folder)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            print(f"asib-report: left out the tuning ledger of {folder}: {error}", file=sys.stderr)
            continue
        ledgers[folder.relative_to(root).as_posix() if folder != root else root.resolve().name] = ledger
    return ledgers


if __name__ == "__main__":
    sys.exit(main())
