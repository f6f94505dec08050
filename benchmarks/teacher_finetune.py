"""A digits teacher (tiny model) fine-tuned with the default recipe: accuracy and wall time.

Target (issue 2): >= 95 % test accuracy in under a minute on 2 CPU cores.

    python benchmarks/teacher_finetune.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from asib_sweeps.config import default_config
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.teachers import fine_tune_teacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    base = default_config("digits")
    print(f"recipe: {base.teacher_recipe.epochs} epochs, {base.teacher_recipe.optim.name} lr {base.teacher_recipe.optim.lr}")
    for index, spec in enumerate(base.teachers):
        for seed in args.seeds:
            teachers = [t.model_copy(update={"seed": seed}) if i == index else t for i, t in enumerate(base.teachers)]
            config = base.model_copy(update={"teachers": teachers})
            with tempfile.TemporaryDirectory() as cache_dir:
                cache = TeacherCache(cache_dir)
                started = time.perf_counter()
                key = fine_tune_teacher(config, index, cache)
                elapsed = time.perf_counter() - started
                metrics = cache.metadata(key)["metrics"]
            print(
                f"{spec.arch:12s} seed {seed}: test acc (best-val epoch) {metrics['test_acc_best_val']:.4f}, "
                f"final {metrics['test_acc_final']:.4f}, {elapsed:.1f} s"
            )


if __name__ == "__main__":
    main()
