"""The new baselines against float64 reimplementations of their authors' code.

Each reference below is written out from the authors' public code, conventions
included (batch mean vs sum, division by the number of teachers, tau^2 factors,
epsilons, what is detached), independently of the method files: the method computes
on float64 inputs and must match the reference in value and in its gradient with
respect to the student's logits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from torch import Tensor

from asib_sweeps.config import ConfigError, apply_overrides, default_config
from asib_sweeps.methods.functional import seen_mask
from asib_sweeps.methods import create_method
from asib_sweeps.methods.ae_kd import min_norm_weights
from asib_sweeps.methods.functional import MASKED_LOGIT, standardize_logits
from asib_sweeps.teacher_cache import TeacherCache
from asib_sweeps.training import TrainingRun
from conftest import small_digits_config, teacher_states
from test_methods_baselines import LABELS, built, output, random_logits, run_config, step


def seen_masks(config, num_classes):  # noqa: ANN001, ANN201 - the run's teacher masks, as training/build.py makes them
    return [
        seen_mask(spec.classes, num_classes, torch.device("cpu"), key=f"teachers.{k}.classes")
        for k, spec in enumerate(config.teachers)
    ]

BATCH, CLASSES = 6, 5


def teachers(count: int, first_seed: int) -> list[Tensor]:
    return [random_logits(seed=first_seed + k) for k in range(count)]


def value_and_grad(loss_of: Callable[[Tensor], Tensor], student: Tensor) -> tuple[Tensor, Tensor]:
    logits = student.clone().requires_grad_()
    loss = loss_of(logits)
    (grad,) = torch.autograd.grad(loss, logits)
    return loss.detach(), grad


def method_terms(config, student: Tensor, teacher_logits: list[Tensor], *, epoch: int = 0):
    method = built(config, output(student.detach()), [output(t) for t in teacher_logits])

    def total(logits: Tensor) -> Tensor:
        return sum(method(step(output(logits), [output(t) for t in teacher_logits], LABELS, epoch=epoch)).values())

    return total


Loss = Callable[[Tensor], Tensor]


def assert_matches(method_loss: Loss, reference: Loss, student: Tensor) -> None:
    value, grad = value_and_grad(method_loss, student)
    expected_value, expected_grad = value_and_grad(reference, student)
    assert expected_value.dtype == torch.float64 and grad.abs().sum() > 0
    torch.testing.assert_close(value.double(), expected_value, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=1e-6, atol=1e-9)


def distill_kl(y_s: Tensor, y_t: Tensor, tau: float, *, is_ca: bool) -> Tensor:
    """Rorozhl/CA-MKD distiller_zoo/KD.py DistillKL."""
    p_s = F.log_softmax(y_s / tau, dim=1)
    p_t = F.softmax(y_t / tau, dim=1)
    if is_ca:
        return (F.kl_div(p_s, p_t, reduction="none") * tau**2).sum(-1)
    return F.kl_div(p_s, p_t, reduction="batchmean") * tau**2


# ---------------------------------------------------------------- kd from one teacher


def test_single_teacher_kd_and_avg_kd_differ_in_gradient_when_teachers_disagree() -> None:
    student, first, second = random_logits(seed=1), random_logits(seed=2), random_logits(seed=3)
    kd = method_terms(run_config("kd", "method.kd.teacher=0"), student, [first, second])
    avg = method_terms(run_config("avg_kd"), student, [first, second])
    _, kd_grad = value_and_grad(kd, student)
    _, avg_grad = value_and_grad(avg, student)
    assert (kd_grad - avg_grad).abs().max() > 1e-2
    # When the teachers agree, one teacher and their average are the same target.
    _, kd_same = value_and_grad(method_terms(run_config("kd", "method.kd.teacher=0"), student, [first, first]), student)
    _, avg_same = value_and_grad(method_terms(run_config("avg_kd"), student, [first, first]), student)
    torch.testing.assert_close(kd_same, avg_same)


@pytest.mark.parametrize(("accuracies", "chosen"), [([0.5, 0.9, 0.7], 1), ([0.8, 0.3, 0.8], 0)])
def test_kd_best_picks_the_most_accurate_teacher_earliest_on_ties(accuracies: list[float], chosen: int) -> None:
    config = apply_overrides(
        default_config("digits"),
        ["method.name=kd", "teachers=[{arch: tiny_resnet}, {arch: tiny_vgg}, {arch: tiny_cnn}]"],
    )
    method = create_method(config)
    from asib_sweeps.methods.base import MethodContext

    method.build(
        MethodContext(
            teacher_seen=seen_masks(config, CLASSES),
            num_classes=CLASSES,
            train_labels=LABELS,
            student=None,  # type: ignore[arg-type]
            teachers=[None] * 3,  # type: ignore[list-item]
            student_probe=output(random_logits(seed=4)),
            teacher_probes=[],
            teacher_val_accuracies=lambda: accuracies,
        )
    )
    assert method.chosen_teacher(3) == chosen


def test_kd_refuses_a_teacher_index_beyond_the_teachers() -> None:
    expected = r"method.kd.teacher must be 'best' or an index below .* \(2\).*got method.kd.teacher=2"
    with pytest.raises(ConfigError, match=expected):
        run_config("kd", "method.kd.teacher=2")
    with pytest.raises(ConfigError, match="method.kd.teacher"):
        run_config("kd", "method.kd.teacher=-1")


def test_kd_best_is_the_teacher_most_accurate_on_validation_in_a_real_run(teacher_cache: TeacherCache) -> None:
    run = TrainingRun.create(
        small_digits_config("method.name=kd", "epochs=1"),
        teacher_states=teacher_states(small_digits_config(), teacher_cache),
    )
    metrics = run.run_epoch()
    # The teachers see every class, so the evaluator's per-teacher val accuracy is over the whole split.
    accuracies = [metrics["teacher0_val_acc"], metrics["teacher1_val_acc"]]
    assert accuracies[0] != accuracies[1]
    assert metrics["kd_teacher"] == max(range(2), key=lambda k: (accuracies[k], -k))


@pytest.mark.parametrize("name", ["ca_mkd", "ebkd", "ae_kd"])
def test_multi_teacher_methods_refuse_a_single_teacher(name: str) -> None:
    with pytest.raises(ConfigError, match=f"method.name='{name}'.*at least 2.*got 1 teacher"):
        run_config(name, "teachers=[{arch: tiny_resnet}]")


# ---------------------------------------------------------------- CA-MKD / EBKD / AVER


def ca_mkd_reference(student: Tensor, teacher_logits: list[Tensor], tau: float) -> Tensor:
    """helper/loops.py, ensemble_method == 'CAMKD', with -r 1 -a 1."""
    loss_t = torch.stack([F.cross_entropy(t, LABELS, reduction="none") for t in teacher_logits], dim=0)
    attention = (1.0 - F.softmax(loss_t, dim=0)) / (len(teacher_logits) - 1)
    loss_div = torch.stack([distill_kl(student, t, tau, is_ca=True) for t in teacher_logits], dim=0)
    bsz = loss_div.shape[1]
    return F.cross_entropy(student, LABELS) + (attention * loss_div).sum() / (1.0 * bsz * len(teacher_logits))


def ebkd_reference(student: Tensor, teacher_logits: list[Tensor], tau: float) -> Tensor:
    """helper/loops.py, ensemble_method == 'EBKD', with -r 1 -a 1."""
    loss_div = torch.stack([distill_kl(student, t, tau, is_ca=True) for t in teacher_logits])
    entropy_list = []
    for t in teacher_logits:
        p = F.softmax(t, dim=1)
        entropy_list.append((-p * torch.log(p)).sum(1))
    entropy_sum = torch.stack(entropy_list, dim=0).sum(dim=0)
    weight = torch.stack([1.0 - e / entropy_sum for e in entropy_list])
    return F.cross_entropy(student, LABELS) + (weight * loss_div).sum() / (1.0 * BATCH * len(teacher_logits))


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize(("name", "reference"), [("ca_mkd", ca_mkd_reference), ("ebkd", ebkd_reference)])
def test_weighted_multi_teacher_losses_match_the_authors_loop(name: str, reference, count: int) -> None:
    tau = 3.0
    student, teacher_logits = random_logits(seed=10), teachers(count, 11)
    logit_part = ["method.ca_mkd.w_feat=0"] if name == "ca_mkd" else []
    method_loss = method_terms(run_config(name, f"method.{name}.tau={tau}", *logit_part), student, teacher_logits)
    assert_matches(method_loss, lambda s: reference(s, teacher_logits, tau), student)


def ca_mkd_feature_reference(student_map: Tensor, teacher_maps: list[Tensor], embeddings, heads) -> Tensor:
    """models/util.CalWeight (Embed with convs=False, the teacher's avgpool + fc) and distiller_zoo/CAMKD.py."""
    feat_s, s_h = student_map, student_map.shape[2]
    trans_list, out_list = [], []
    for embed, head, mid_feat_t in zip(embeddings, heads, teacher_maps):
        t_h = mid_feat_t.shape[2]
        if s_h >= t_h:
            feat_s = F.adaptive_avg_pool2d(feat_s, (t_h, t_h))
        else:
            feat_s = F.interpolate(feat_s, size=(t_h, t_h), mode="bilinear")
        conv, bn = embed[0], embed[1]
        convolved = F.conv2d(feat_s, conv.weight, conv.bias)
        trans = F.relu(F.batch_norm(convolved, None, None, bn.weight, bn.bias, training=True))
        trans_list.append(trans)
        pooled = F.avg_pool2d(trans, trans.shape[2]).flatten(1)
        out_list.append(F.linear(pooled, head.classifier.weight, head.classifier.bias))
    loss_t = torch.stack([F.cross_entropy(o, LABELS, reduction="none") for o in out_list], dim=0)
    weight = (1.0 - F.softmax(loss_t, dim=0)) / (len(teacher_maps) - 1)
    loss_st = torch.stack(
        [F.mse_loss(a, b, reduction="none").reshape(BATCH, -1).mean(-1) for a, b in zip(trans_list, teacher_maps)]
    )
    return (weight * loss_st).sum() / (1.0 * BATCH * len(teacher_maps))


def test_ca_mkd_feature_part_matches_the_authors_code() -> None:
    """Two teachers whose last maps are smaller (4x4) and equal (8x8) to the student's: both resize paths."""
    from asib_sweeps.methods.base import MethodContext
    from asib_sweeps.models.interface import ModelOutput, ZooModel

    generator = torch.Generator().manual_seed(90)
    shapes = [(3, 4, 4), (5, 8, 8)]
    identity = torch.nn.Identity
    heads = [
        ZooModel(stem=identity(), stages=[identity()], classifier=torch.nn.Linear(c, CLASSES)).double()
        for c, _, _ in shapes
    ]
    student_map = torch.randn(BATCH, 2, 8, 8, generator=generator, dtype=torch.float64)
    teacher_maps = [torch.randn(BATCH, *shape, generator=generator, dtype=torch.float64) for shape in shapes]
    teacher_logits = teachers(2, 91)
    student_logits = random_logits(seed=93)
    w_feat = 50.0
    config = run_config("ca_mkd", f"method.ca_mkd.w_feat={w_feat}")

    def teacher_outputs() -> list[ModelOutput]:
        pairs = zip(teacher_logits, teacher_maps)
        return [ModelOutput(logits=t, features=[m], pooled=m.mean((2, 3))) for t, m in pairs]

    method = create_method(config)
    method.build(
        MethodContext(
            teacher_seen=seen_masks(config, CLASSES), num_classes=CLASSES, train_labels=LABELS, student=heads[0], teachers=heads,
            student_probe=ModelOutput(logits=student_logits, features=[student_map], pooled=student_map.mean((2, 3))),
            teacher_probes=teacher_outputs(),
        )
    )
    method.double()

    def terms(student: Tensor, epoch: int) -> dict[str, Tensor]:
        student_output = ModelOutput(logits=student_logits, features=[student], pooled=student.mean((2, 3)))
        return method(step(student_output, teacher_outputs(), LABELS, epoch=epoch))

    value, grad = value_and_grad(lambda m: terms(m, epoch=1)["feat"], student_map)
    expected, expected_grad = value_and_grad(
        lambda m: w_feat * ca_mkd_feature_reference(m, teacher_maps, method.embeddings, heads), student_map
    )
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-6, atol=1e-9)
    assert grad.abs().sum() > 0
    # The embeddings are trained with the student, and the term waits for the second epoch.
    assert all(p.requires_grad for p in method.parameters()) and len(list(method.parameters())) == 8
    assert terms(student_map, epoch=0)["feat"].item() == 0.0


def test_ca_mkd_silences_a_teacher_that_never_saw_the_label() -> None:
    from asib_sweeps.methods.ca_mkd import confidence_weights

    first = random_logits(seed=20, dtype=torch.float32)
    blind = random_logits(seed=21, dtype=torch.float32)
    blind[:, 0] = MASKED_LOGIT  # never saw class 0: samples 0 and 5 have label 0
    weights = confidence_weights([first, blind], LABELS)
    torch.testing.assert_close(weights.sum(dim=0), torch.ones(BATCH))
    assert weights[1, 0].item() == 0.0 and weights[1, 5].item() == 0.0
    assert (weights[1, 1:5] > 0).all()


# ---------------------------------------------------------------- AE-KD


def find_optimal_svm_reference(grads: Tensor, nu: float, is_norm: bool) -> Tensor:
    """helper/optimization.py find_optimal_svm, with grads [K, B, C]."""
    from sklearn.svm import OneClassSVM

    m = grads.shape[0]
    vec_mean = grads.reshape(m, grads.shape[1], -1).mean(dim=1)
    vec_norm = vec_mean.norm(dim=1, keepdim=True)
    if is_norm:
        vec_mean = vec_mean * (1 / vec_norm)
    gram = (vec_mean @ vec_mean.T).numpy()
    nu = 1 / m if nu == -1 else (1.0 if nu > 1 else max(nu, 1 / m))
    svm = OneClassSVM(kernel="precomputed", nu=nu, tol=1e-6).fit(gram)
    ret = np.zeros(m)
    ret[svm.support_] = svm.dual_coef_ / (m * nu)
    if is_norm:
        ret = ret * (1 / vec_norm.squeeze().numpy())
        ret = ret / ret.sum()
    return torch.from_numpy(ret)


def ae_kd_reference(
    student: Tensor, teacher_logits: list[Tensor], tau: float, tolerance: float, is_norm: bool
) -> Tensor:
    """helper/loops.py, ensemble_method == 'AEKD' (gradients by a hook on the student's logits), -r 1 -a 1."""
    grads: list[Tensor] = []
    probe = student.detach().clone().requires_grad_()
    probe.register_hook(lambda grad: grads.append(grad.detach().clone()))
    for t in teacher_logits:
        distill_kl(probe, t, tau, is_ca=False).backward()
    scale = find_optimal_svm_reference(torch.stack(grads), 1 / (tolerance * len(teacher_logits)), is_norm)
    losses = torch.stack([distill_kl(student, t, tau, is_ca=False) for t in teacher_logits])
    return F.cross_entropy(student, LABELS) + torch.dot(scale, losses)


@pytest.mark.parametrize(
    ("count", "tolerance", "svm_norm"), [(2, 0.6, False), (3, 0.6, False), (3, 0.45, True), (3, 2.0, False)]
)
def test_ae_kd_matches_the_authors_loop(count: int, tolerance: float, svm_norm: bool) -> None:
    tau = 4.0
    student, teacher_logits = random_logits(seed=40), teachers(count, 41)
    switches = [f"method.ae_kd.tolerance={tolerance}", f"method.ae_kd.svm_norm={str(svm_norm).lower()}"]
    config = run_config("ae_kd", *switches)
    method_loss = method_terms(config, student, teacher_logits)
    assert_matches(method_loss, lambda s: ae_kd_reference(s, teacher_logits, tau, tolerance, svm_norm), student)


def test_ae_kd_weights_solve_the_bounded_min_norm_problem() -> None:
    """Independently of libsvm: min |sum_k a_k g_k|^2 on the simplex with a_k <= C, by SLSQP."""
    generator = torch.Generator().manual_seed(50)
    gradients = torch.randn(3, 7, generator=generator, dtype=torch.float64)
    gradients[2] = gradients[0] * 0.9 + 0.1  # two teachers nearly agree
    tolerance = 0.6
    weights = min_norm_weights(gradients, tolerance, normalise=False).numpy()
    gram = (gradients @ gradients.T).numpy()
    solution = minimize(
        lambda a: a @ gram @ a,
        np.full(3, 1 / 3),
        jac=lambda a: 2 * gram @ a,
        bounds=[(0, tolerance)] * 3,
        constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1}],
        method="SLSQP",
        options={"ftol": 1e-14},
    )
    assert weights.sum() == pytest.approx(1.0, abs=1e-6)
    assert weights.max() <= tolerance + 1e-6
    assert weights @ gram @ weights == pytest.approx(solution.fun, rel=1e-3, abs=1e-9)
    np.testing.assert_allclose(weights, solution.x, atol=2e-3)


# ---------------------------------------------------------------- DIST


def dist_reference(student: Tensor, teacher_logits: list[Tensor], tau: float, beta: float, gamma: float) -> Tensor:
    """hunto/image_classification_sota lib/models/losses/dist_kd.py DIST, with ori 1 / kd 2 (dist_cifar.yaml)."""

    def cosine_similarity(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)

    def pearson_correlation(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
        return cosine_similarity(a - a.mean(1).unsqueeze(1), b - b.mean(1).unsqueeze(1), eps)

    def inter_class_relation(y_s: Tensor, y_t: Tensor) -> Tensor:
        return 1 - pearson_correlation(y_s, y_t).mean()

    def intra_class_relation(y_s: Tensor, y_t: Tensor) -> Tensor:
        return inter_class_relation(y_s.transpose(0, 1), y_t.transpose(0, 1))

    per_teacher = []
    for z_t in teacher_logits:
        y_s, y_t = (student / tau).softmax(dim=1), (z_t / tau).softmax(dim=1)
        inter, intra = inter_class_relation(y_s, y_t), intra_class_relation(y_s, y_t)
        per_teacher.append(beta * tau**2 * inter + gamma * tau**2 * intra)
    return F.cross_entropy(student, LABELS) * 1.0 + torch.stack(per_teacher).mean() * 2.0


@pytest.mark.parametrize("count", [1, 2])
def test_dist_matches_the_authors_loss(count: int) -> None:
    student, teacher_logits = random_logits(seed=60), teachers(count, 61)
    config = run_config("dist", "method.dist.beta=1.5", "method.dist.gamma=0.5")
    def reference(s: Tensor) -> Tensor:
        return dist_reference(s, teacher_logits, 4.0, 1.5, 0.5)

    assert_matches(method_terms(config, student, teacher_logits), reference, student)


# ---------------------------------------------------------------- NKD


def nkd_reference(student: Tensor, teacher_logits: list[Tensor], temp: float, gamma: float) -> Tensor:
    """yzd-v/cls_KD NKDLoss, plus the student's own CE (weight 1 in their distiller)."""
    per_teacher = []
    for logit_t in teacher_logits:
        label = LABELS.view(len(LABELS), 1)
        n = student.shape[0]
        s_t = torch.gather(F.log_softmax(student, dim=1), 1, label)
        t_t = torch.gather(F.softmax(logit_t, dim=1), 1, label).detach()
        loss_t = -(t_t * s_t).mean()
        mask = torch.ones_like(student).scatter_(1, label, 0).bool()
        s_rest = F.log_softmax(student[mask].reshape(n, -1) / temp, dim=1)
        t_rest = F.softmax(logit_t[mask].reshape(n, -1) / temp, dim=1)
        loss_non = -gamma * temp**2 * (t_rest * s_rest).sum(dim=1).mean()
        per_teacher.append(loss_t + loss_non)
    return F.cross_entropy(student, LABELS) + torch.stack(per_teacher).mean()


@pytest.mark.parametrize("count", [1, 2])
def test_nkd_matches_the_authors_loss(count: int) -> None:
    student, teacher_logits = random_logits(seed=70), teachers(count, 71)
    config = run_config("nkd", "method.nkd.tau=2.0", "method.nkd.gamma=1.5")
    def reference(s: Tensor) -> Tensor:
        return nkd_reference(s, teacher_logits, 2.0, 1.5)

    assert_matches(method_terms(config, student, teacher_logits), reference, student)


# ---------------------------------------------------------------- logit standardisation


def normalize_reference(logit: Tensor) -> Tensor:
    """sunshangquan/logit-standardization-KD mdistiller/distillers/KD.py normalize."""
    return (logit - logit.mean(dim=-1, keepdims=True)) / (1e-7 + logit.std(dim=-1, keepdims=True))


def test_kd_with_logit_standardization_matches_the_authors_kd_loss() -> None:
    tau, w_ce, w_kd = 2.0, 0.1, 9.0
    student, teacher = random_logits(seed=80), random_logits(seed=81)
    config = run_config(
        "kd",
        "method.kd.logit_standardization=true",
        f"method.kd.tau={tau}",
        f"method.kd.w_ce={w_ce}",
        f"method.kd.w_kd={w_kd}",
    )

    def reference(s: Tensor) -> Tensor:
        log_pred_student = F.log_softmax(normalize_reference(s) / tau, dim=1)
        pred_teacher = F.softmax(normalize_reference(teacher) / tau, dim=1)
        loss_kd = F.kl_div(log_pred_student, pred_teacher, reduction="none").sum(1).mean() * tau**2
        return w_ce * F.cross_entropy(s, LABELS) + w_kd * loss_kd

    assert_matches(method_terms(config, student, [teacher]), reference, student)


def test_dkd_with_logit_standardization_matches_the_authors_dkd_loss() -> None:
    tau, alpha, beta = 2.0, 9.0, 72.0
    student, teacher = random_logits(seed=82), random_logits(seed=83)
    config = run_config(
        "dkd",
        "method.dkd.logit_standardization=true",
        f"method.dkd.tau={tau}",
        f"method.dkd.alpha={alpha}",
        f"method.dkd.beta={beta}",
    )
    warmup = config.method.dkd.warmup_epochs

    def reference(s: Tensor) -> Tensor:
        z_s, z_t = normalize_reference(s), normalize_reference(teacher)
        gt = F.one_hot(LABELS, CLASSES).bool()
        p_s, p_t = F.softmax(z_s / tau, dim=1), F.softmax(z_t / tau, dim=1)
        cat_s = torch.stack([(p_s * gt).sum(1), (p_s * ~gt).sum(1)], dim=1)
        cat_t = torch.stack([(p_t * gt).sum(1), (p_t * ~gt).sum(1)], dim=1)
        tckd = F.kl_div(torch.log(cat_s), cat_t, reduction="sum") * tau**2 / BATCH
        nckd = F.kl_div(
            F.log_softmax(z_s / tau - 1000.0 * gt, dim=1), F.softmax(z_t / tau - 1000.0 * gt, dim=1), reduction="sum"
        ) * tau**2 / BATCH
        return F.cross_entropy(s, LABELS) + alpha * tckd + beta * nckd

    assert_matches(method_terms(config, student, [teacher], epoch=warmup), reference, student)


def test_avg_kd_with_logit_standardization_standardises_every_teacher() -> None:
    tau = 2.0
    student, teacher_logits = random_logits(seed=84), teachers(2, 85)
    config = run_config("avg_kd", "method.avg_kd.logit_standardization=true", f"method.avg_kd.tau={tau}")
    w_ce, w_kd = config.method.avg_kd.w_ce, config.method.avg_kd.w_kd

    def reference(s: Tensor) -> Tensor:
        target = torch.stack([F.softmax(normalize_reference(t) / tau, dim=1) for t in teacher_logits]).mean(0)
        log_s = F.log_softmax(normalize_reference(s) / tau, dim=1)
        return w_ce * F.cross_entropy(s, LABELS) + w_kd * tau**2 * (target * (target.log() - log_s)).sum(1).mean()

    assert_matches(method_terms(config, student, teacher_logits), reference, student)


def test_standardisation_leaves_masked_classes_out_and_masked() -> None:
    logits = random_logits(seed=86)
    seen = torch.tensor([True, False, True, True, False])
    standardised = standardize_logits(logits.masked_fill(~seen, MASKED_LOGIT))
    torch.testing.assert_close(standardised[:, seen], normalize_reference(logits[:, seen]))
    assert (standardised[:, ~seen] == MASKED_LOGIT).all()
