"""asib-sweep eval without Ray: the figures of a saved run, and the files it refuses (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from asib_sweeps.cli.sweep import main
from asib_sweeps.config import build_config, default_config
from asib_sweeps.evaluation import expected_calibration_error
from asib_sweeps.models import create_model
from asib_sweeps.training import TrainingRun, save_checkpoint


@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory) -> tuple[Path, dict]:
    """A one-epoch ce run of the digits student, saved as the trainables save it."""
    data = default_config("digits").model_dump()
    config = build_config({**data, "method": {**data["method"], "name": "ce"}, "teachers": [], "epochs": 1})
    run = TrainingRun.create(config)
    metrics = run.run_epoch()
    path = tmp_path_factory.mktemp("trial") / "checkpoint_000000" / "run_state.pt"
    save_checkpoint(run.state_dict(), path)
    return path, metrics


def eval_json(capsys, *args: str) -> dict:
    assert main(["eval", *args, "--json", "--device", "cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_of_a_run_checkpoint_gives_the_runs_own_accuracies(capsys, run_checkpoint):
    path, metrics = run_checkpoint
    test = eval_json(capsys, str(path.parent))  # the checkpoint folder works as well as the file
    assert test["top1"] == pytest.approx(metrics["test_acc"], abs=1e-12)
    assert test["recorded"]["test_acc"] == metrics["test_acc"]
    assert test["images"] == 540 and len(test["per_class"]) == 10
    assert test["top1"] <= test["top5"] <= 1 and 0 <= test["ece"] <= 1
    val = eval_json(capsys, str(path), "--split", "val")
    assert val["top1"] == pytest.approx(metrics["val_acc"], abs=1e-12)


def test_eval_prints_a_readable_summary(capsys, run_checkpoint):
    assert main(["eval", str(run_checkpoint[0]), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "top-1 accuracy" in out and "top-5 accuracy" in out and "ECE (15 bins)" in out
    assert "per-class accuracy over 10 classes" in out


def test_ece_is_the_count_weighted_gap_between_accuracy_and_confidence():
    counts, confidence, correct = torch.tensor([2.0, 0, 2]), torch.tensor([1.0, 0, 1.8]), torch.tensor([0.0, 0, 2])
    assert expected_calibration_error(counts, confidence, correct) == pytest.approx((1.0 + 0.2) / 4)


def write_teacher_entry(folder: Path, classes: int, spec: dict | None) -> Path:
    save_checkpoint(create_model("tiny_cnn", classes).state_dict(), folder / "weights.pt")
    if spec is not None:
        (folder / "teacher.json").write_text(json.dumps({"spec": spec, "metrics": {}}))
    return folder


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "x.pt").write_bytes(b"not a checkpoint") and d / "x.pt", "is corrupt or not loadable"),
        (lambda d: torch.save({"weight": torch.ones(2)}, d / "x.pt") or d / "x.pt", "is not an asib-sweeps checkpoint"),
        (lambda d: d / "missing.pt", "does not exist"),
        (lambda d: d, "holds neither run_state.pt nor weights.pt"),
        (lambda d: write_teacher_entry(d, 10, None), "without the teacher.json"),
        (
            lambda d: write_teacher_entry(d, 5, {"arch": "tiny_cnn", "data": {"dataset": "digits"}}),
            "do not fit digits with 10 classes",
        ),
        (
            lambda d: write_teacher_entry(d, 10, {"arch": "no_such_net", "data": {"dataset": "digits"}}),
            "arch must be one of",
        ),
    ],
)
def test_a_corrupt_foreign_or_mismatched_file_exits_2_saying_why(capsys, tmp_path, make, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(make(tmp_path)), "--device", "cpu"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_device_is_refused_by_the_parser(capsys, run_checkpoint):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(run_checkpoint[0]), "--device", "tpu"])
    assert exit_info.value.code == 2
    assert "--device" in capsys.readouterr().err
