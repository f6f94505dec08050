"""How much "dark knowledge" the student's KD target carries: ASIB's synergy vs the teachers' average.

For each seed, a `cccp` run trains up to its first B-phase (warm-up and first A-phase
done); then, over that epoch's training batches (the student's images), it prints the
mean probability the target gives the label, the mass on the other classes and the
entropy, for the synergy at temperature 1 and 4 and for the teachers' average at τ = 4.
A target that puts almost all its mass on the label makes the KD term a second CE.

    python benchmarks/target_sharpness.py [--seeds 100 101] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from digits_runs import CACHE, arm_config, ensure_teachers

TEMPERATURES = (1.0, 4.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ensure_teachers(args.overrides)
    for seed in args.seeds:
        print(f"seed {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in sharpness(args.overrides, seed).items()), flush=True)


def sharpness(overrides: list[str], seed: int) -> dict[str, float]:
    from asib_sweeps.methods.avg_kd import average_soft_targets
    from asib_sweeps.teacher_cache import TeacherCache, teacher_key
    from asib_sweeps.training import TrainingRun
    from asib_sweeps.training.phase import configure_phase

    config = arm_config("cccp", overrides, seed)
    cache = TeacherCache(CACHE)
    run = TrainingRun.create(config, teacher_states=[cache.load(teacher_key(config, i)) for i in range(len(config.teachers))])
    while run.plan[run.next_epoch].phase != "B":
        run.run_epoch()
    plan = run.plan[run.next_epoch]
    configure_phase(plan, run.method.trained_parts(plan.phase), student=run.student, teachers=run.teachers, method=run.method)
    sums: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for images, labels, _ in run.trainer._batches(plan):
            student, teachers = run.student(images), run.trainer.forward.teacher_outputs(images)
            _, synergy_logits = run.method._synergy_forward(student, teachers)
            targets = {f"synergy@{t:g}": F.softmax(synergy_logits / t, dim=1) for t in TEMPERATURES}
            targets["teachers_avg@4"] = average_soft_targets([out.logits for out in teachers], 4.0)
            for name, probs in targets.items():
                on_label = probs.gather(1, labels[:, None]).squeeze(1)
                entropy = -(probs * probs.clamp_min(1e-12).log()).sum(dim=1)
                for key, values in ((f"{name} label", on_label), (f"{name} entropy", entropy)):
                    sums[key] = sums.get(key, 0.0) + float(values.sum())
            count += labels.shape[0]
    return {key: total / count for key, total in sums.items()}


if __name__ == "__main__":
    main()
