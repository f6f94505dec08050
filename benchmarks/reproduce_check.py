"""The reproduction path end to end on random CIFAR-shaped data and a random teacher in the published layout.

What `asib-sweep reproduce --config configs/cifar100/reproduce-resnet32x4-resnet8x4.yaml`
does, shrunk to minutes: the shipped config, a teacher file written as RepDistiller
wrote its own (random weights under the published key names, old non-zip format, on
CUDA the tensors saved from the GPU so their storages carry `cuda:0` tags, `accuracy`
recorded), fake CIFAR-100 files of random images, then the CLI itself: the teacher
imported and measured before any student trains, the ce, kd, crd and dkd trials on
Ray Tune, the results tables and the report with its ours-vs-published table.

It checks the path, not accuracy: the data and the teacher are random, so every
accuracy is near chance (the teacher's accuracy warning is expected). The figures are
wall times, and `teacher_as_measured` (1 when every distillation trial's first-epoch
teacher accuracy equals the one measured at import, i.e. the teacher was used as it is).

    python benchmarks/reproduce_check.py [--config FILE] [--train 5000] [--test 1000] [--epochs 2]
        [--gpus-per-trial 1] [--work DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private Ray on 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import torch
from bench_util import write_fake_cifar100, write_json

from analysis.results import read_results
from asib_sweeps.cli.report import main as report_main
from asib_sweeps.cli.sweep import main as sweep_main
from asib_sweeps.config import default_config
from asib_sweeps.config_files import layered_config, read_experiment_file
from asib_sweeps.models import create_model
from asib_sweeps.models.published import published_state_dict

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "cifar100" / "reproduce-resnet32x4-resnet8x4.yaml"


def write_published_teacher(arch: str, folder: Path, *, on_gpu: bool) -> Path:
    """A random `arch` for 100 classes as RepDistiller's `ckpt_epoch_240.pth`."""
    torch.manual_seed(0)
    state = published_state_dict(create_model(arch, 100).state_dict(), arch)
    if on_gpu:
        state = {key: value.cuda() for key, value in state.items()}
    path = folder / f"{arch}_vanilla" / "ckpt_epoch_240.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"epoch": 240, "model": state, "accuracy": torch.tensor(79.42), "optimizer": {"state": {}}}
    torch.save(content, path, _use_new_zipfile_serialization=False)
    return path


def teacher_arch(config: Path) -> str:
    return layered_config(default_config("cifar100"), read_experiment_file(config)).teachers[0].arch


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    on_gpu = args.gpus_per_trial > 0
    root = write_fake_cifar100(work / "data", train=args.train, test=args.test)
    checkpoint = write_published_teacher(teacher_arch(args.config), work / "save" / "models", on_gpu=on_gpu)
    results = work / "results"
    overrides = [
        f"teachers.0.checkpoint={checkpoint}",
        f"epochs={args.epochs}",
        f"method.dkd.warmup_epochs={min(args.epochs, 20)}",
        f"method.crd.negatives={min(16384, args.train // 2)}",
    ]
    argv = ["reproduce", "--config", str(args.config), "--data-root", str(root), "--results", str(results),
            "--seeds", "1", "--gpus-per-trial", str(args.gpus_per_trial), "--cpus-per-trial", "1",
            *(f"--set={item}" for item in overrides)]  # fmt: skip
    started = time.perf_counter()
    code = sweep_main(argv)
    sweep_s = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"reproduce_check: asib-sweep reproduce exited {code}")
    trials, epochs = read_results(results / "reproduce")
    key = trials.loc[trials["arm"] != "ce", "teacher_keys"].iloc[0][0]
    measured = json.loads((results / "teachers" / key / "teacher.json").read_text())["metrics"]
    distilled = trials.loc[trials["arm"] != "ce", "trial_id"]
    first = epochs[(epochs["epoch"] == 0) & epochs["trial_id"].isin(distilled)]
    as_measured = bool((first["teacher0_test_acc"] - measured["test_acc"]).abs().max() < 1e-9)
    if report_main([str(results / "reproduce")]) != 0:
        raise SystemExit("reproduce_check: asib-report failed")
    page = (results / "reproduce" / "report.html").read_text()
    return {"trials": trials, "measured": measured, "sweep_s": sweep_s, "as_measured": as_measured,
            "report_has_table": "published numbers reproduced" in page}  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the reproduce-*.yaml to run")
    parser.add_argument("--train", type=int, default=5000, help="fake training images (all of them train)")
    parser.add_argument("--test", type=int, default=1000, help="fake test images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--gpus-per-trial", type=float, default=1.0, help="0: CPU trials (the code path only)")
    parser.add_argument("--work", type=Path, help="keep the data, teacher file and results here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reproduce-check-")))
        work.mkdir(parents=True, exist_ok=True)
        outcome = run(args, work)
    trials = outcome["trials"]
    done = trials[trials["status"] == "TERMINATED"]
    figures = {
        "sweep_s": outcome["sweep_s"],
        "trials_finished": float(len(done)),
        "teacher_as_measured": float(outcome["as_measured"]),
        "report_table": float(outcome["report_has_table"]),
        **{f"{row.arm}.wall_s": float(row.wall_time_s) for row in done.itertuples()},
    }
    accuracies = {row.arm: {"last": row.test_acc_final, "best": row.test_acc_best_val} for row in done.itertuples()}
    print(f"reproduce check: {len(done)}/{len(trials)} trials finished in {outcome['sweep_s']:.1f} s; teacher used "
          f"as measured: {outcome['as_measured']}; report table: {outcome['report_has_table']}")  # fmt: skip
    payload = {"benchmark": "reproduce", "config": str(args.config), "train": args.train, "test": args.test,
               "epochs": args.epochs, "gpus_per_trial": args.gpus_per_trial, "teacher": outcome["measured"],
               "accuracies_random_data": accuracies, "figures": figures}  # fmt: skip
    write_json(args.json, payload)
    if len(done) != len(trials) or not outcome["as_measured"] or not outcome["report_has_table"]:
        raise SystemExit("reproduce_check: the path did not complete as expected (see above)")


if __name__ == "__main__":
    main()
