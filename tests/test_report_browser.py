"""asib-report over real sweeps, checked in headless Chromium: every figure it lists is drawn,
nothing is logged as an error, and the page requests nothing but itself.

The sweeps are real `asib-sweep` runs (tiny digits ablation and beta study, each in its own
process session, ended by id); they run once per test session, the beta sweep beside the
ablation's trials once the ablation cached the teachers both use. Chromium is Debian's
/usr/bin/chromium, which .ci/run installs; playwright drives it and never downloads one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.results import read_results

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
TINY = [
    "--set", "epochs=2", "--set", "method.asib.stages=2", "--set", "teacher_recipe.epochs=2",
    "--set", "data.student_train_size=200", "--no-dashboard",
    "--set", "method.asib.synergy_warmup_steps=8", "--set", "method.asib.a_min_steps=8",
]  # fmt: skip
STUDIES = {"ablation": ["--seeds", "2"], "beta": ["--samples", "2", "--seeds", "2"]}
SWEEP_TIMEOUT_S = 600
"""Both sweeps together (each took 420 s at most when they ran one after the other)."""
needs_chromium = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} absent (.ci/run installs chromium)")


def start_in_own_session(command: list[str], log: Path) -> subprocess.Popen:
    """Start a CLI in a new process session, its output into `log` (a file: nobody reads a pipe while it runs)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    with open(log, "w") as out:
        return subprocess.Popen(
            command, cwd=REPO, env=env, text=True, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def finish(process: subprocess.Popen, log: Path, *, deadline: float) -> str:
    """Its output once it ended with code 0; past `deadline` (monotonic), end its whole session (Ray's workers too)."""
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError(f"{' '.join(process.args)} ran past its time:\n{log.read_text()[-3000:]}") from None
    output = log.read_text()
    assert process.returncode == 0, output[-3000:]
    return output


@pytest.fixture(scope="session")
def real_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """results/ablation and results/beta from real tiny sweeps (teachers shared), and each sweep's output.

    The beta sweep starts once the ablation's own experiment has started, i.e. once the
    ablation fine-tuned and cached the teachers both studies use (same seeds, same keys),
    and runs beside the ablation's trials on its own private Ray: the two start-ups and
    the two sets of trials overlap instead of following each other.
    """
    results = tmp_path_factory.mktemp("report-results")
    logs = tmp_path_factory.mktemp("report-sweep-logs")
    commands = {
        study: [sys.executable, "-m", "asib_sweeps.cli.sweep", study, *options, "--results", str(results), *TINY]
        for study, options in STUDIES.items()
    }
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    processes = {"ablation": start_in_own_session(commands["ablation"], logs / "ablation.log")}
    try:
        teachers_done = results / "ablation" / "tune" / "ablation"  # Tune's folder of the study's own trials
        while not teachers_done.is_dir() and processes["ablation"].poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        processes["beta"] = start_in_own_session(commands["beta"], logs / "beta.log")
        outputs = {study: finish(processes[study], logs / f"{study}.log", deadline=deadline) for study in STUDIES}
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert "teachers: 0 to fine-tune, 4 cached in" in outputs["beta"]  # the ablation's teachers, not its own
    return results, outputs


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "asib_sweeps.cli.report", *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_sweep_ends_with_the_compact_arm_table(real_results: tuple[Path, dict[str, str]]) -> None:
    results, outputs = real_results
    lines = outputs["ablation"].splitlines()
    header = next(
        index for index, line in enumerate(lines) if line.startswith("arm ") and "test acc @ best val" in line
    )
    arms = [line.split()[0] for line in lines[header + 1 : header + 8]]
    assert arms == ["baseline", "ib", "cccp", "tadapt", "full", "ce", "avg_kd"]
    assert all(line.split()[1] == "2" for line in lines[header + 1 : header + 8])  # n: two seeds each
    assert "NaN" not in "\n".join(lines[header : header + 9])
    text = report(str(results), "--text")
    assert text.returncode == 0 and "ablation (ablation): 14 trials (TERMINATED 14)" in text.stdout


@needs_chromium
def test_the_page_draws_every_listed_figure_without_errors_or_network(
    real_results: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    results, _ = real_results
    page_path = tmp_path / "report.html"
    completed = report(str(results), "--out", str(page_path))
    assert completed.returncode == 0, completed.stderr
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            requests: list[str] = []
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_timeout(1000)
            listed = page.eval_on_selector_all("a.figure-link", "links => links.map(a => a.hash.slice(1))")
            drawn = page.evaluate(DRAWN_JS, listed)
            ids = page.eval_on_selector_all("[id]", "elements => elements.map(e => e.id)")
            plots = page.eval_on_selector_all(".js-plotly-plot", "plots => plots.length")
            text = page.inner_text("body")
        finally:
            browser.close()
    assert problems == []
    assert requests == [page_path.as_uri()]
    assert len(ids) == len(set(ids))
    expected = {"fig-ablation-ladder", "fig-ablation-info-plane", "fig-ablation-cccp", "fig-ablation-tadapt",
                "fig-ablation-freezing", "fig-ablation-drift", "fig-ablation-freezing-savings",
                "fig-ablation-objective", "fig-ablation-query", "fig-beta-beta-sensitivity", "fig-beta-history",
                "fig-beta-info-plane"}  # fmt: skip
    assert expected <= set(listed) and plots == len(listed)
    assert drawn == {figure: True for figure in listed}
    for view in ("parallel coordinates", "parameter importance"):  # the beta study searches beta alone
        assert f"Left out: {view} — needs two or more searched parameters; this study searched method.asib.beta" in text
    assert "paths of avg_kd, baseline, ce" in text  # the rungs without a bottleneck, said, not drawn


DRAWN_JS = """ids => Object.fromEntries(ids.map(id => {
    // A trace's x / y is an array, or a typed-array spec whose decoded values are in _inputArray.
    const count = v => v == null ? 0 : (v.length !== undefined ? v.length : (v._inputArray || []).length || 0);
    const element = document.getElementById(id);
    const traces = element && element.classList.contains('js-plotly-plot') ? element.data : [];
    const withPoints = traces.filter(t => count(t.x) > 0 || count(t.y) > 0).length;
    const marks = element ? element.querySelectorAll('svg.main-svg .point, svg.main-svg .js-line').length : 0;
    return [id, withPoints > 0 && marks > 0];
}))"""


@needs_chromium
def test_png_export_writes_every_figure(real_results: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    results, _ = real_results
    completed = report(str(results / "beta"), "--out", str(tmp_path / "beta.html"), "--png", str(tmp_path / "png"))
    assert completed.returncode == 0, completed.stderr
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.name for p in pngs] == [
        "fig-beta-beta-sensitivity.png",
        "fig-beta-history.png",
        "fig-beta-info-plane.png",
    ]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_png_export_without_a_browser_says_so_and_keeps_the_page(
    real_results: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    results, _ = real_results
    env = {**os.environ, "BROWSER_PATH": str(tmp_path / "no-such-chrome")}  # kaleido's own override
    completed = subprocess.run(
        [sys.executable, "-m", "asib_sweeps.cli.report", str(results / "beta"), "--out", str(tmp_path / "b.html"),
         "--png", str(tmp_path / "png")],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert completed.returncode == 3
    assert "needs Chrome or Chromium" in completed.stderr and "the HTML page was written" in completed.stderr
    assert (tmp_path / "b.html").is_file() and not list((tmp_path / "png").glob("*.png"))
    trials, _ = read_results(results / "beta")
    assert len(trials) == 4  # 2 proposals x 2 seeds


@needs_chromium
def test_the_readme_picture_script_draws_a_results_folder_and_stamps_what_it_ran(
    real_results: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    import importlib.util

    from PIL import Image

    results, _ = real_results
    out = tmp_path / "report.png"
    command = [sys.executable, str(REPO / "docs" / "make_report_png.py"), "--results", str(results), "--out", str(out)]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    spec = importlib.util.spec_from_file_location("make_report_png", REPO / "docs" / "make_report_png.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with Image.open(out) as image:
        assert image.size == (script.WIDTH, script.HEIGHT) and image.mode == "P"
        colours = len(image.getcolors(256) or [])
    assert colours > 8  # a drawn page (text, plots), not a blank one
    stamp = script.picture_fingerprint(out)
    assert stamp == script.results_fingerprint(results)
    assert stamp != script.defaults_fingerprint()  # tiny sweeps, no sota: not the README's picture
    assert "NOT today's defaults" in completed.stdout
    assert (results / "report.html").is_file()
