"""AE-KD, adaptive ensemble KD in gradient space (Du et al., NeurIPS 2020), as the CA-MKD authors run it.

Each batch, the teachers' KD losses L_k = tau^2 KL(p_k^tau || p_S^tau) (batch mean,
their `DistillKL`) are combined with weights alpha from a small multi-objective
problem on their gradients with respect to the student's logits:

    g_k = mean over the batch of dL_k / dz_S = mean_b tau (p_S - p_k)_b / B    [C]
    alpha = argmin || sum_k alpha_k g_k ||^2  s.t.  sum_k alpha_k = 1, 0 <= alpha_k <= C_tol

solved, as in Rorozhl/CA-MKD (helper/optimization.find_optimal_svm), as the dual of a
one-class SVM with the precomputed kernel G = [g_j . g_k] and nu = 1 / (C_tol K)
(clamped to [1/K, 1]): alpha = dual_coef / (K nu), libsvm's solution with tol 1e-6
(scikit-learn's OneClassSVM wraps the same libsvm). With `svm_norm` the g_k are
normalised first and alpha is divided by |g_k| and renormalised to sum 1 (their
`--svm_norm`, off by default). Then

    L = w_ce CE(z_S, y) + w_kd sum_k alpha_k L_k

with alpha a constant (no gradient). Their CIFAR-100 script: tau 4, w_ce 1, w_kd 1,
C_tol 0.6, no svm_norm. A teacher whose gradient is exactly 0 under svm_norm (student
equal to it) keeps norm 1 instead of dividing by 0.

Solving on the host costs one device-to-host read of the K x K Gram matrix per step
(the only baseline with one; tests/test_fast_paths.py counts it).

Two behaviours of the authors' solver are kept, not fixed: libsvm's tolerance is
absolute, so when the batch-mean gradients are small (norms below about 1e-3, as with
large batches) it stops short of the minimum; and under svm_norm the renormalised
weights may exceed C_tol.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from asib_sweeps.catalog.method_settings import AEKDSettings
from asib_sweeps.methods.base import DistillMethod, StepInput
from asib_sweeps.methods.functional import soft_kl

SVM_TOLERANCE = 1e-6
"""libsvm's stopping tolerance in the authors' find_optimal_svm."""


def min_norm_weights(gradients: Tensor, tolerance: float, *, normalise: bool) -> Tensor:
    """The teachers' weights [K] (float64, on the CPU) from their batch-mean logit gradients [K, C].

    One call per step; the K x K problem goes to libsvm on the CPU, as in the authors' code.
    """
    from sklearn.svm import OneClassSVM  # imported here: only AE-KD needs it, and --help must stay light

    vectors = gradients.detach().to(device="cpu", dtype=torch.float64)
    count = vectors.shape[0]
    norms = vectors.norm(dim=1, keepdim=True)
    norms = torch.where(norms > 0, norms, torch.ones_like(norms))
    if normalise:
        vectors = vectors / norms
    gram = (vectors @ vectors.T).numpy()
    nu = min(1.0, max(1.0 / count, 1.0 / (tolerance * count)))
    svm = OneClassSVM(kernel="precomputed", nu=nu, tol=SVM_TOLERANCE).fit(gram)
    weights = np.zeros(count)
    weights[svm.support_] = svm.dual_coef_[0] / (count * nu)
    if normalise:
        weights = weights / norms.squeeze(1).numpy()
        weights = weights / weights.sum()
    return torch.from_numpy(weights)


def kl_logit_gradient(teacher_logits: Tensor, student_logits: Tensor, tau: float) -> Tensor:
    """mean over the batch of d soft_kl / d z_S = tau (p_S^tau - p_T^tau) / B, per class [C].

    The exact gradient the authors read with a hook on the student's logits, written
    out so that it needs no second backward pass (and works under no_grad).
    """
    dtype = torch.promote_types(student_logits.dtype, torch.float32)
    p_s = F.softmax(student_logits.detach().to(dtype) / tau, dim=1)
    p_t = F.softmax(teacher_logits.to(dtype) / tau, dim=1)
    return (tau * (p_s - p_t) / student_logits.shape[0]).mean(dim=0)


class AdaptiveEnsembleKD(DistillMethod):
    name = "ae_kd"
    settings: AEKDSettings

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        s = self.settings
        student_logits = step.student.logits
        losses = [soft_kl(t.logits.detach(), student_logits, s.tau) for t in step.teachers]
        gradients = torch.stack([kl_logit_gradient(t.logits.detach(), student_logits, s.tau) for t in step.teachers])
        weights = min_norm_weights(gradients, s.tolerance, normalise=s.svm_norm).to(losses[0])
        return {
            "ce": s.w_ce * F.cross_entropy(student_logits, step.labels),
            "kd": s.w_kd * (weights * torch.stack(losses)).sum(),
        }
