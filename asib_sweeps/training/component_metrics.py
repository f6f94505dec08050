"""What each ablation component changed, measured by the loop (docs/results.md, "component" columns).

The ablation credits components with accuracy; these readings say how much each one
actually changed, so a rung whose component did nothing can be seen as such:

- T-Adapt: how far the teachers moved from their fine-tuned weights theta^0 (L2 in
  weight space) and how much their validation outputs moved over an adapting phase
  (KL of before against after). Teachers that never train report 0 at the run's end,
  measured, not assumed.
- Partial freezing: the parameters of the epoch's trained parts that freezing held
  fixed, and an estimate of activation memory that works on CPU as well as on GPU:
  the bytes of the distinct tensors autograd saved for backward in one step
  (`saved_tensors_hooks`), parameters excluded. Frozen prefixes run without autograd,
  so they save nothing; that is where freezing saves memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.freezing import trainable_parameter_count
from asib_sweeps.methods.base import DistillMethod, Part
from asib_sweeps.models import ZooModel


class TeacherAnchors:
    """The teachers' weights as built (theta^0), kept on the CPU so no accelerator memory is spent on them.

    Built before any checkpoint is loaded, i.e. from the cached fine-tuned weights, so
    a resumed run still measures its distance to theta^0.
    """

    def __init__(self, teachers: Sequence[ZooModel]) -> None:
        self._anchors = [
            {name: p.detach().to("cpu", copy=True) for name, p in teacher.named_parameters()} for teacher in teachers
        ]

    @torch.no_grad()
    def distances(self, teachers: Sequence[ZooModel]) -> list[float]:
        """||theta_k - theta_k^0||_2 over all of teacher k's parameters, per teacher."""
        out = []
        for anchor, teacher in zip(self._anchors, teachers, strict=True):
            squared = sum(
                float((p.detach().cpu().double() - anchor[name].double()).square().sum())
                for name, p in teacher.named_parameters()
            )
            out.append(squared**0.5)
        return out


def output_drift_kl(before: Tensor, after: Tensor) -> float:
    """Mean over samples of KL(p_before || p_after) at temperature 1, in nats.

    Both are one teacher's masked logits [N, C] on the same samples; masked classes have
    probability 0 on both sides and contribute 0 (xlogy).
    """
    log_before = F.log_softmax(before.double(), dim=1)
    log_after = F.log_softmax(after.double(), dim=1)
    p_before = log_before.exp()
    per_sample = (torch.xlogy(p_before, p_before) - p_before * log_after).sum(dim=1)
    return float(per_sample.mean())


def frozen_count(
    parts: frozenset[Part], *, student: ZooModel, teachers: list[ZooModel], method: DistillMethod
) -> int:
    """Parameters of the parts that train this epoch that freezing holds fixed (after `configure_phase`)."""
    modules: list[nn.Module] = [*([student] if "student" in parts else []), *(teachers if "teachers" in parts else [])]
    total = sum(p.numel() for module in modules for p in module.parameters())
    return total - trainable_parameter_count(modules)


class SavedActivations:
    """Counts the bytes of the distinct non-parameter tensors autograd saves for backward.

    Several saved tensors share one storage (views, a tensor saved by two ops); each
    storage is counted once. Parameter storages (a weight saved by its matmul) are left
    out: they exist whether or not autograd runs.
    """

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self._parameter_storages = {
            p.untyped_storage().data_ptr() for module in modules for p in module.parameters()
        }
        self._counted: set[int] = set()
        self.bytes = 0

    def _pack(self, tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in self._parameter_storages and pointer not in self._counted:
            self._counted.add(pointer)
            self.bytes += storage.nbytes()
        return tensor

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        with torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor):
            yield

    @property
    def megabytes(self) -> float:
        return self.bytes / 2**20
