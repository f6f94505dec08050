"""The README's picture of the report (docs/report.png) shows what today's defaults produce.

docs/make_report_png.py stamps the PNG with a fingerprint of the sweeps it drew (each
study's resolved config and run options); this test recomputes the fingerprint those
studies would have at today's defaults. A changed default fails it until the picture is
made again with `python docs/make_report_png.py`. (Its drawing is tested on real tiny
sweeps in tests/test_report_browser.py.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_report_png():
    spec = importlib.util.spec_from_file_location("make_report_png", REPO / "docs" / "make_report_png.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_picture_was_made_from_todays_defaults():
    script = make_report_png()
    stamp = script.picture_fingerprint(REPO / "docs" / "report.png")
    assert stamp == script.defaults_fingerprint(), (
        "docs/report.png was not made from today's defaults (or predates its fingerprint): "
        "run `python docs/make_report_png.py` and commit docs/report.png"
    )
