"""Make docs/report.png, the README's picture of the report, from what the current defaults produce.

    python docs/make_report_png.py                      # run the studies, then draw the page
    python docs/make_report_png.py --results DIR        # draw the page of sweeps already in DIR

Without --results it runs, in a new folder (default results-readme/, which must not
exist, so no old sweep slips into the picture), the studies the README's picture shows,
at its defaults: `asib-sweep ablation` (the picture is the top of the page: the contents,
the overview and the ladder, which the ablation fills alone). Arguments after `--` go to
every asib-sweep, e.g. `-- --set epochs=2` for a quick look that is not the README's.

Then `asib-report DIR` writes DIR/report.html, headless Chromium (Debian's
/usr/bin/chromium, driven by playwright, which never downloads one) opens it at the
README's width, waits until every plotly figure is drawn, and the top of the page
becomes docs/report.png (quantised to 256 colours to keep the repository small).

So that the picture cannot go stale silently, the PNG carries a fingerprint of what
its sweeps ran (each study's resolved config and run options, from DIR/<study>/sweep.json)
and tests/test_readme_picture.py compares it with what the studies would run at
today's defaults: a changed default fails that test until this script is rerun. A code
change that moves the results without changing any default is not caught: rerun the
script after one too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
STUDIES = (("ablation",),)
"""What the README's picture shows, each study at its defaults (the top of the page is the ablation's)."""
WIDTH, HEIGHT = 960, 2050
DRAW_WAIT_MS = 1500
FINGERPRINT_KEY = "asib-sweeps:defaults-fingerprint"
"""The PNG text chunk that holds the fingerprint of the sweeps drawn."""
NOT_COMPARED = ("--teacher-cache",)
"""Recorded options that say where, not what: a path differs between machines."""


def fingerprint(records: list[dict[str, Any]]) -> str:
    """sha256 of the studies' sweep records (asib_sweeps.cli.sweep_record), paths left out."""
    kept = [
        {
            "study": record["study"],
            "config": record["config"],
            "options": {key: value for key, value in record["options"].items() if key not in NOT_COMPARED},
        }
        for record in sorted(records, key=lambda record: record["study"])
    ]
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def results_fingerprint(results: Path) -> str:
    """The fingerprint of the picture's studies that ran in `results` (a missing one makes
    it differ from today's defaults, as any other difference does)."""
    from asib_sweeps.cli.sweep_record import read_record

    records = [record for study in STUDIES if (record := read_record(results / study[0])) is not None]
    if not records:
        names = ", ".join(study[0] for study in STUDIES)
        raise SystemExit(f"{results} holds no sweep of {names} (none has a sweep.json in {results}/<study>/)")
    return fingerprint(records)


def defaults_fingerprint() -> str:
    """The fingerprint the picture's studies would have if run now at their defaults
    (the CLI's own parser, config layering and record; nothing runs)."""
    from asib_sweeps.cli.sweep import base_config, recorded_options, request_from_argv
    from asib_sweeps.cli.sweep_record import sweep_record
    from asib_sweeps.teacher_cache import TeacherCache
    from search_spaces import get_study

    records = []
    with tempfile.TemporaryDirectory() as results:
        for study in STUDIES:
            request, fail = request_from_argv([*study, "--results", results])
            config = base_config(request, fail)
            options = recorded_options(request, get_study(study[0]), TeacherCache(Path(results) / "teachers"))
            records.append(sweep_record(study=study[0], options=options, config=config))
    return fingerprint(records)


def picture_fingerprint(png: Path) -> str | None:
    from PIL import Image

    with Image.open(png) as image:
        return image.text.get(FINGERPRINT_KEY)


def sweep_commands(results: Path, extra: list[str]) -> list[list[str]]:
    """One asib-sweep per study of the picture, all into `results` (sharing its teacher cache)."""
    return [
        [sys.executable, "-m", "asib_sweeps.cli.sweep", *study, "--results", str(results), "--no-dashboard", *extra]
        for study in STUDIES
    ]


def run_studies(results: Path, extra: list[str]) -> None:
    if results.exists():
        raise SystemExit(f"{results} exists; give a new folder, or --results {results} to draw it as it is")
    for command in sweep_commands(results, extra):
        print("+", " ".join(command[2:]), flush=True)
        subprocess.run(command, cwd=REPO, check=True)


def render_page(results: Path) -> Path:
    page = results / "report.html"
    command = [sys.executable, "-m", "asib_sweeps.cli.report", str(results), "--out", str(page)]
    subprocess.run(command, cwd=REPO, check=True)
    return page


def screenshot(
    page: Path, out: Path, *, stamp: str, width: int = WIDTH, height: int = HEIGHT, chromium: Path = CHROMIUM
) -> None:
    """The top `height` pixels of the page at `width`, once every plotly figure is on it, as a
    256-colour PNG whose text chunk FINGERPRINT_KEY holds `stamp`."""
    from PIL import Image, PngImagePlugin
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.goto(page.resolve().as_uri(), wait_until="load")
            tab.wait_for_function(
                "() => [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('svg.main-svg'))"
            )
            tab.wait_for_timeout(DRAW_WAIT_MS)  # plotly finishes its layout after the first paint
            raw = out.with_suffix(".raw.png")
            tab.screenshot(path=str(raw), clip={"x": 0, "y": 0, "width": width, "height": height})
        finally:
            browser.close()
    info = PngImagePlugin.PngInfo()
    info.add_text(FINGERPRINT_KEY, stamp)
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=256).save(out, optimize=True, pnginfo=info)
    raw.unlink()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, extra = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="draw the sweeps already in this folder (run nothing)")
    parser.add_argument("--new-results", type=Path, default=REPO / "results-readme", help="where to run the studies")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "report.png", help="the PNG to write")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help=f"the browser (default {CHROMIUM})")
    args = parser.parse_args(own)
    if not args.chromium.is_file():
        parser.exit(2, f"make_report_png: --chromium {args.chromium} does not exist (apt-get install chromium)\n")
    if args.results is not None and extra:
        parser.exit(2, "make_report_png: arguments after -- go to asib-sweep; with --results nothing is run\n")
    results = args.results
    if results is None:
        results = args.new_results
        run_studies(results, extra)
    stamp = results_fingerprint(results)
    screenshot(render_page(results), args.out, stamp=stamp, chromium=args.chromium)
    same = "today's defaults" if stamp == defaults_fingerprint() else "NOT today's defaults (not for the README)"
    print(f"wrote {args.out} from {results}: its sweeps ran {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
