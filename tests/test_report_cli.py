"""asib-report's refusals and the page it builds from tables that lack data.

The tables here are written as Parquet by hand (with the schema metadata the writer
puts there), so each test controls exactly which columns exist.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from analysis.results import EPOCHS_FILE, TRIALS_FILE, write_table_atomically
from analysis.schema import SCHEMA_VERSION, SCHEMA_VERSION_METADATA_KEY
from asib_sweeps.cli import report


def write_tables(folder: Path, trials: pd.DataFrame, epochs: pd.DataFrame, version: int = SCHEMA_VERSION) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in ((trials, TRIALS_FILE), (epochs, EPOCHS_FILE)):
        table = pa.Table.from_pandas(frame.assign(schema_version=version), preserve_index=False)
        table = table.replace_schema_metadata({SCHEMA_VERSION_METADATA_KEY: str(version).encode()})
        write_table_atomically(table, folder / name)


def ablation_without_bounds() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two arms x two seeds, epochs with val/test accuracy but no i_xz, i_zy, teacher or cost metrics."""
    trials, epochs = [], []
    for seed in (0, 1):
        for arm, accuracy in (("ib", 0.6 + seed / 10), ("ce", 0.5)):
            trial_id = f"{arm}-{seed}"
            trials.append(
                {
                    "trial_id": trial_id, "study": "ablation", "arm": arm, "seed": seed, "beta": math.nan,
                    "status": "TERMINATED", "error": None, "test_acc_final": accuracy, "test_acc_best_val": accuracy,
                    "val_acc_best": accuracy, "wall_time_s": 3.0, "teacher_keys": ["t0"],
                }
            )  # fmt: skip
            epochs += [
                {"trial_id": trial_id, "study": "ablation", "arm": arm, "seed": seed, "epoch": epoch, "stage": 0,
                 "phase": "joint", "val_acc": accuracy, "test_acc": accuracy}
                for epoch in range(3)
            ]  # fmt: skip
    return pd.DataFrame(trials), pd.DataFrame(epochs)


def test_a_folder_without_results_fails_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path)]) == report.EXIT_NO_RESULTS
    assert f"no trials.parquet or tuning.parquet in or below {tmp_path}" in capsys.readouterr().err
    assert report.main([str(tmp_path / "missing")]) == report.EXIT_USAGE


def test_tables_of_another_schema_version_fail_naming_the_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trials, epochs = ablation_without_bounds()
    write_tables(tmp_path / "old" / "ablation", trials, epochs, version=SCHEMA_VERSION + 7)
    assert report.main([str(tmp_path / "old")]) == report.EXIT_NO_RESULTS
    error = capsys.readouterr().err
    assert f"schema_version={SCHEMA_VERSION + 7}" in error and f"this code reads schema_version={SCHEMA_VERSION}" in error
    assert not (tmp_path / "old" / "report.html").exists()


def test_figures_without_data_are_left_out_with_the_reason(tmp_path: Path) -> None:
    trials, epochs = ablation_without_bounds()
    write_tables(tmp_path / "ablation", trials, epochs)
    assert report.main([str(tmp_path)]) == report.EXIT_OK
    page = (tmp_path / "report.html").read_text()
    assert page.count("<script type='text/javascript'>") == 1  # plotly.js once, inline
    assert "<script src" not in page and "<link" not in page  # nothing loaded from elsewhere (the browser test watches)
    assert "Left out: information plane — epochs.parquet has no column i_xz" in page
    assert "Left out: objective per stage — epochs.parquet has no column joint_objective" in page
    assert "Left out: learning curves — epochs.parquet has no epochs of arm cccp" in page
    assert "Left out: teacher drift — epochs.parquet has no teacher&lt;k&gt;_drift_l2 column" in page
    assert "Left out: freezing savings — trials.parquet has no frozen_param_steps values" in page
    assert "Left out: query sensitivity — epochs.parquet has no column query_kl" in page
    assert "Left out: teacher adaptation — epochs.parquet has no teacher&lt;k&gt;_val_acc_before column" in page
    assert "Left out: cost per stage — epochs.parquet has no epochs of arm tadapt, full" in page
    assert "Left out: teachers used — no distillation trial reported teacher accuracies" in page
    assert "class='figure-link' href='#fig-ablation-ladder'" in page  # the one figure the tables support
    assert page.count("class='figure-link'") == 1
    assert "+15.0 ± 7.1 (n&lt;3: no CI)" in page  # ib − ce over the two seeds: 0.1 and 0.2; no interval at n = 2


def test_a_corrupt_sweep_is_named_and_left_out_and_the_others_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trials, epochs = ablation_without_bounds()
    write_tables(tmp_path / "good", trials, epochs)
    write_tables(tmp_path / "bad", trials, epochs)
    (tmp_path / "bad" / TRIALS_FILE).write_bytes(b"PAR1 truncated")
    assert report.main([str(tmp_path)]) == report.EXIT_OK
    err = capsys.readouterr().err
    assert f"left out {tmp_path / 'bad'}" in err and f"{tmp_path / 'bad' / TRIALS_FILE} is not a readable" in err
    assert "href='#fig-good-ladder'" in (tmp_path / "report.html").read_text()
    assert status_lines(tmp_path / "bad")[2].startswith("trials: unknown, the tables cannot be read:")


def status_lines(sweep_dir: Path) -> list[str]:
    import contextlib
    import io

    from asib_sweeps.cli.sweep import main as sweep_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert sweep_main(["status", str(sweep_dir)]) == 0
    return out.getvalue().splitlines()


def test_report_ids_are_unique_for_names_that_differ_only_in_punctuation_or_script() -> None:
    from analysis.report.blocks import Sweep

    names = ["abl_1", "abl-1", "abl 1", "abl/1", "étude", "étude-2", "研究", "研究2", "ablation"]
    slugs = [Sweep(name=name, path=Path(name), trials=pd.DataFrame(), epochs=pd.DataFrame()).slug for name in names]
    assert len(set(slugs)) == len(names)
    assert slugs[1] == "abl-1" and slugs[-1] == "ablation"  # plain names keep their readable ids
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", slug) for slug in slugs)


def test_arms_are_shown_in_the_order_the_sweep_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sweep.json's `arms` (asib_sweeps/cli/sweep_record.py) orders the console and the report's tables;
    without it (an older sweep) the study's own order (ib before ce) applies."""
    trials, epochs = ablation_without_bounds()
    write_tables(tmp_path / "old", trials, epochs)
    write_tables(tmp_path / "new", trials, epochs)
    (tmp_path / "new" / "sweep.json").write_text(json.dumps({"format": "asib-sweeps/sweep-record-v1", "arms": ["ce", "ib"]}))
    assert report.main([str(tmp_path), "--text"]) == report.EXIT_OK
    text = capsys.readouterr().out
    new, old = text[text.index("new (ablation)") : text.index("old (ablation)")], text[text.index("old (ablation)") :]
    assert new.index("\nce ") < new.index("\nib ")
    assert old.index("\nib ") < old.index("\nce ")
    assert report.main([str(tmp_path)]) == report.EXIT_OK
    page = (tmp_path / "report.html").read_text()
    new_page = page[page.index("id='new-ladder'") : page.index("id='old-ladder'")]
    old_page = page[page.index("id='old-ladder'") :]
    assert new_page.index("<td>ce</td>") < new_page.index("<td>ib</td>")
    assert old_page.index("<td>ib</td>") < old_page.index("<td>ce</td>")


def test_a_sweep_record_with_bad_arms_is_named_and_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trials, epochs = ablation_without_bounds()
    write_tables(tmp_path / "bad", trials, epochs)
    (tmp_path / "bad" / "sweep.json").write_text(json.dumps({"arms": "ce ib"}))
    assert report.main([str(tmp_path)]) == report.EXIT_NO_RESULTS
    assert "`arms` must be a list of arm names; got 'ce ib'" in capsys.readouterr().err
