"""asib-sweep eval CHECKPOINT: accuracy and calibration of a saved student or teacher.

The model and its data come from what the checkpoint stores (asib_sweeps.saved_models):
the same data set, class subset and seeded splits the run used, so `--split test` of
a trial's final checkpoint gives the test accuracy the trial recorded. A file that is
corrupt, foreign, or whose model does not fit the data is an error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asib_sweeps.cli.input_checks import Fail

if TYPE_CHECKING:  # torch and the rest only when a checkpoint is evaluated, not for `--help`
    from asib_sweeps.evaluation import Evaluation
    from asib_sweeps.saved_models import SavedModel

SPLITS = ("test", "val")
DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?"
WORST_SHOWN = 3


def add_parser(subparsers: Any) -> None:
    summary = "evaluate a saved student or teacher checkpoint: top-1/top-5, per-class accuracy, ECE"
    sub = subparsers.add_parser("eval", help=summary, description=__doc__.split("\n\n")[1])
    sub.add_argument("checkpoint", type=Path, help="a trial's run_state.pt, a teacher's weights.pt, or their folder")
    sub.add_argument("--split", choices=SPLITS, default="test", help="split to evaluate on (default: test)")
    sub.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    sub.add_argument(
        "--data-root", type=Path, help="where the data set lives here, if not where the run read it (data.root)"
    )
    sub.add_argument(
        "--device", type=_device, default="auto", help="auto (a GPU if there is one), cpu, cuda or cuda:N (default: auto)"
    )


def _device(value: str) -> str:
    if not re.fullmatch(DEVICE_PATTERN, value):
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N; got {value!r}")
    return value


def run(args: argparse.Namespace, fail: Fail) -> int:
    from asib_sweeps.config import ConfigError
    from asib_sweeps.data import DataError
    from asib_sweeps.saved_models import open_saved_model
    from asib_sweeps.training.checkpoint import CheckpointError
    from asib_sweeps.training.device import resolve_device

    try:
        saved = open_saved_model(args.checkpoint)
        device = resolve_device(args.device)
        result = evaluate(saved, split=args.split, data_root=args.data_root, device=device)
    except (CheckpointError, ConfigError, DataError, ValueError) as error:
        fail(str(error))
    report = describe(saved, args.split, result)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def evaluate(saved: SavedModel, *, split: str, data_root: Path | None, device: Any) -> Evaluation:
    """Load the run's data (at data_root, if given), rebuild the model, load its weights, evaluate."""
    from asib_sweeps.data import load_data
    from asib_sweeps.evaluation import evaluate_model
    from asib_sweeps.models import create_model
    from asib_sweeps.training.checkpoint import CheckpointError

    data_config = saved.data.model_copy(update={"download": False})
    if data_root is not None:
        data_config = data_config.model_copy(update={"root": str(data_root)})
    bundle = load_data(data_config).to(device)
    model = create_model(saved.arch, bundle.num_classes)
    try:
        model.load_state_dict(saved.weights)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        raise CheckpointError(
            f"{saved.path}: its {saved.arch} weights do not fit {data_config.dataset} with {bundle.num_classes} "
            f"classes (another data set or class count?): {first}"
        ) from error
    chosen = bundle.test if split == "test" else bundle.val
    return evaluate_model(model.to(device), bundle, chosen, batch_size=saved.eval_batch_size)


def describe(saved: SavedModel, split: str, result: Evaluation) -> dict[str, Any]:
    per_class = result.per_class
    worst = sorted(per_class, key=lambda c: (per_class[c], c))[:WORST_SHOWN]
    return {
        "checkpoint": str(saved.path),
        "kind": saved.kind,
        "arch": saved.arch,
        "dataset": saved.data.dataset,
        "split": split,
        **result.as_dict(),
        "per_class_summary": {
            "classes": len(per_class),
            "mean": sum(per_class.values()) / len(per_class),
            "min": min(per_class.values()),
            "max": max(per_class.values()),
            "worst": worst,
        },
        "recorded": saved.recorded,
    }


def format_report(report: dict[str, Any]) -> str:
    summary = report["per_class_summary"]
    worst = ", ".join(f"{c} ({report['per_class'][c]:.4f})" for c in summary["worst"])
    lines = [
        f"{report['checkpoint']}: {report['kind']} {report['arch']} on {report['dataset']} {report['split']} "
        f"({report['images']} images)",
        f"top-1 accuracy  {report['top1']:.4f}",
        f"top-5 accuracy  {report['top5']:.4f}",
        f"ECE (15 bins)   {report['ece']:.4f}",
        f"per-class accuracy over {summary['classes']} classes: mean {summary['mean']:.4f}, "
        f"min {summary['min']:.4f}, max {summary['max']:.4f}; worst classes: {worst}",
    ]
    if report["recorded"]:
        recorded = ", ".join(f"{key} {value}" for key, value in report["recorded"].items())
        lines.append(f"recorded by the run: {recorded}")
    return "\n".join(lines)
