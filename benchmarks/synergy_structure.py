"""What the synergy's target is made of: how far it is from the teachers' average, and whether the student's query moves it.

For each seed, an ASIB run (default rung `cccp`) trains; at the start of its first
student epoch and of its last one, over that epoch's training batches (the student's
images), at τ = 4:

- `KL(avg||syn)`: the teachers' average against the synergy, the two candidate targets;
- `KL(t0||t1)`: one teacher against the other, the spread the ensemble already has;
- `nl` versions of both: the same on the non-label classes only (renormalised), the
  "dark knowledge" part of a target;
- `query KL` and `query flips`: the synergy with the student's pooled features shuffled
  across the batch against the synergy with the right ones, i.e. how much the synergy's
  output depends on the student it is meant to adapt to (0: not at all).

    python benchmarks/synergy_structure.py [--arm cccp] [--seeds 100 101] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from digits_runs import CACHE, arm_config, ensure_teachers
from torch import Tensor

if TYPE_CHECKING:
    from asib_sweeps.training import TrainingRun

TAU = 4.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", default="cccp", help="an ASIB rung (presets.py)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ensure_teachers(args.overrides)
    for seed in args.seeds:
        for moment, stats in structure(args.arm, args.overrides, seed).items():
            print(f"seed {seed} {moment}: " + "  ".join(f"{k} {v:.4f}" for k, v in stats.items()), flush=True)


def structure(arm: str, overrides: list[str], seed: int) -> dict[str, dict[str, float]]:
    """The statistics at the first and the last student epoch of one run."""
    from asib_sweeps.teacher_cache import TeacherCache, teacher_key
    from asib_sweeps.training import TrainingRun

    config = arm_config(arm, overrides, seed)
    cache = TeacherCache(CACHE)
    run = TrainingRun.create(config, teacher_states=[cache.load(teacher_key(config, i)) for i in range(len(config.teachers))])
    student_epochs = [plan.epoch for plan in run.plan if plan.phase in ("B", "joint")]
    out = {}
    while not run.finished:
        if run.next_epoch in (student_epochs[0], student_epochs[-1]):
            moment = "first student epoch" if run.next_epoch == student_epochs[0] else "last student epoch"
            out[moment] = _epoch_statistics(run)
        run.run_epoch()
    return out


def _epoch_statistics(run: TrainingRun) -> dict[str, float]:
    from asib_sweeps.training.phase import configure_phase

    plan = run.plan[run.next_epoch]
    configure_phase(plan, run.method.trained_parts(plan.phase), student=run.student, teachers=run.teachers, method=run.method)
    run.method.eval()  # the target as the student's B-phase sees it (z = mu)
    sums: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for images, labels, _ in run.trainer._batches(plan):
            student, teachers = run.student(images), run.trainer.forward.teacher_outputs(images)
            shuffled = dataclasses.replace(student, pooled=student.pooled.roll(1, dims=0))
            synergy = run.method._synergy_forward(student, teachers)[1]
            synergy_shuffled = run.method._synergy_forward(shuffled, teachers)[1]
            p_syn, p_shuffled = F.softmax(synergy / TAU, 1), F.softmax(synergy_shuffled / TAU, 1)
            p0, p1 = (F.softmax(t.logits / TAU, 1) for t in teachers[:2])
            p_avg = torch.stack([F.softmax(t.logits / TAU, 1) for t in teachers]).mean(0)
            values = {
                "KL(avg||syn)": _kl(p_avg, p_syn),
                "KL(t0||t1)": _kl(p0, p1),
                "nl KL(avg||syn)": _kl(_non_label(p_avg, labels), _non_label(p_syn, labels)),
                "nl KL(t0||t1)": _kl(_non_label(p0, labels), _non_label(p1, labels)),
                "query KL": _kl(p_syn, p_shuffled),
                "query flips": (synergy.argmax(1) != synergy_shuffled.argmax(1)).float(),
            }
            for key, per_sample in values.items():
                sums[key] = sums.get(key, 0.0) + float(per_sample.sum())
            count += labels.shape[0]
    return {key: total / count for key, total in sums.items()}


def _kl(p: Tensor, q: Tensor) -> Tensor:
    return (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(1)


def _non_label(probs: Tensor, labels: Tensor) -> Tensor:
    """The distribution over the classes other than the label, renormalised."""
    keep = torch.ones_like(probs, dtype=torch.bool).scatter_(1, labels[:, None], False)
    rest = probs[keep].view(probs.shape[0], -1)
    return rest / rest.sum(1, keepdim=True)


if __name__ == "__main__":
    main()
