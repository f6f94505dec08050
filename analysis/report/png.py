"""--png: every figure of the page as a PNG, through kaleido (which drives a local Chrome or Chromium).

kaleido finds the browser on PATH (`chromium` included) or at $BROWSER_PATH; when it
finds none, the export fails as a whole with a message saying so, and the HTML page is
unaffected.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import plotly.io as pio

from analysis.report.blocks import FigureBlock

WIDTH, SCALE = 1100, 1


class PngExportError(RuntimeError):
    """kaleido could not write the figures (most often: no Chrome or Chromium found)."""


def write_pngs(figures: Sequence[FigureBlock], out_dir: Path) -> list[Path]:
    """<out_dir>/<figure id>.png for each figure, in one kaleido session."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{block.id}.png" for block in figures]
    try:
        pio.write_images([block.figure for block in figures], paths, width=WIDTH, scale=SCALE)
    except (RuntimeError, ValueError, OSError) as error:
        first_line = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise PngExportError(
            f"kaleido could not write PNGs ({first_line.strip()}); it needs Chrome or Chromium on PATH "
            "or at $BROWSER_PATH (e.g. apt-get install chromium)"
        ) from error
    return paths
