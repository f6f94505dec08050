"""Does distillation help a weak student with few labels? ce vs kd vs asib over seeds, on digits.

The digits default (method.md section 10): teachers fine-tuned on the whole training
split, a deliberately small student (tiny_cnn) that sees a seeded 300-image subset.
Each arm runs over the same seeds and the same teachers; we print mean +- std of the
test accuracy at the best-validation epoch and of the final epoch, and the paired
difference to ce (same seed, same data).

    python benchmarks/method_accuracy.py [--seeds 5] [--arms ce kd avg_kd full]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from asib_sweeps.config import apply_overrides, default_config
from asib_sweeps.presets import PRESETS, apply_preset
from asib_sweeps.teachers import TeacherCache, fine_tune_teacher, teacher_key
from asib_sweeps.training import TrainingRun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--arms", nargs="+", default=["ce", "kd", "avg_kd", "baseline", "full"])
    args = parser.parse_args()
    base = default_config("digits")
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = TeacherCache(cache_dir)
        keys = [fine_tune_teacher(base, index, cache) for index in range(len(base.teachers))]
        teachers = [cache.load(key) for key in keys]
        for key in keys:
            print(f"teacher {key}: test acc {cache.metadata(key)['metrics']['test_acc_best_val']:.4f}")
        results: dict[str, list[tuple[float, float]]] = {arm: [] for arm in args.arms}
        for seed in range(args.seeds):
            for arm in args.arms:
                config = _arm_config(base, arm, seed)
                assert [teacher_key(config, i) for i in range(len(config.teachers))] == keys
                started = time.perf_counter()
                run = TrainingRun.create(config, teacher_states=teachers if config.method.name != "ce" else ())
                while not run.finished:
                    run.run_epoch()
                summary = run.summary()
                results[arm].append((summary["test_acc_best_val"], summary["test_acc_final"]))
                print(f"seed {seed} {arm:9s} best-val test {summary['test_acc_best_val']:.4f} "
                      f"final {summary['test_acc_final']:.4f} ({time.perf_counter() - started:.1f} s)")
    print(f"\n{args.seeds} seeds, student {base.student.arch}, {base.data.student_train_size} labels")
    print(f"{'arm':10s} {'best-val test acc':>22s} {'final test acc':>20s} {'paired diff vs ce':>20s}")
    reference = [best for best, _ in results.get("ce", [])]
    for arm, values in results.items():
        best = [b for b, _ in values]
        final = [f for _, f in values]
        line = f"{arm:10s} {_mean_std(best):>22s} {_mean_std(final):>20s}"
        if reference and arm != "ce":
            line += f" {_mean_std([b - r for b, r in zip(best, reference)]):>20s}"
        print(line)


def _arm_config(base, arm: str, seed: int):
    """A ladder rung by its preset, any other method by name."""
    config = apply_preset(base, arm) if arm in PRESETS else apply_overrides(base, [f"method.name={arm}"])
    return config.model_copy(update={"seed": seed})


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} +- {100 * spread:.2f}"


if __name__ == "__main__":
    main()
