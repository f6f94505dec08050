"""The KD baselines (method.md section 5): each loss checked against its definition.

Everything here runs on hand-made random outputs (no models, no data, no loop), so a
failure points at the loss itself. End-to-end training and resume are tested with the
training loop.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.config import RunConfig, apply_overrides, default_config
from asib_sweeps.methods.functional import seen_mask
from asib_sweeps.methods import create_method
from asib_sweeps.methods.at import attention_loss
from asib_sweeps.methods.base import DistillMethod, EpochPlan, MethodContext, StepInput
from asib_sweeps.methods.crd import ContrastiveRepresentationDistillation
from asib_sweeps.methods.dkd import decoupled_kl
from asib_sweeps.methods.fitnet import build_regressor
from asib_sweeps.methods.functional import mask_unseen_classes
from asib_sweeps.methods.stage_depth import paired_stages
from asib_sweeps.models.interface import ModelOutput, ZooModel


def seen_masks(config, num_classes):  # noqa: ANN001, ANN201 - the run's teacher masks, as training/build.py makes them
    return [
        seen_mask(spec.classes, num_classes, torch.device("cpu"), key=f"teachers.{k}.classes")
        for k, spec in enumerate(config.teachers)
    ]

BATCH, CLASSES = 6, 5


def run_config(method: str, *overrides: str) -> RunConfig:
    return apply_overrides(default_config("digits"), [f"method.name={method}", *overrides])


def output(logits: Tensor, features: list[Tensor] | None = None, pooled: Tensor | None = None) -> ModelOutput:
    return ModelOutput(
        logits=logits,
        features=features if features is not None else [],
        pooled=pooled if pooled is not None else torch.zeros(len(logits), 1),
    )


def step(
    student: ModelOutput,
    teachers: list[ModelOutput],
    labels: Tensor,
    *,
    epoch: int = 0,
    indices: Tensor | None = None,
) -> StepInput:
    return StepInput(
        student=student,
        teachers=teachers,
        labels=labels,
        indices=indices if indices is not None else torch.arange(len(labels)),
        plan=EpochPlan(epoch=epoch, stage=0, phase="joint"),
    )


def _stand_in_model() -> ZooModel:
    """A ZooModel for the context's model slots; the baselines size themselves from the probes."""
    return ZooModel(stem=nn.Identity(), stages=[nn.Identity()], classifier=nn.Linear(1, CLASSES))


def built(
    config: RunConfig,
    student_probe: ModelOutput,
    teacher_probes: list[ModelOutput],
    *,
    num_classes: int = CLASSES,
    train_labels: Tensor | None = None,
) -> DistillMethod:
    method = create_method(config)
    method.build(
        MethodContext(
            teacher_seen=seen_masks(config, num_classes),
            num_classes=num_classes,
            train_labels=train_labels if train_labels is not None else torch.arange(BATCH) % num_classes,
            student=_stand_in_model(),
            teachers=[_stand_in_model() for _ in teacher_probes],
            student_probe=student_probe,
            teacher_probes=teacher_probes,
        )
    )
    return method


def random_logits(*, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, CLASSES, generator=generator, dtype=dtype) * 3


LABELS = torch.tensor([0, 1, 2, 3, 4, 0])


# ---------------------------------------------------------------- kd / avg_kd


def test_kd_is_zero_for_equal_logits() -> None:
    method = create_method(run_config("kd"))
    logits = random_logits(seed=0)
    loss = method(step(output(logits), [output(logits.clone())], LABELS))["kd"]
    assert loss.abs().item() < 1e-12


@pytest.mark.parametrize("shifted", ["student", "teacher"])
def test_kd_is_invariant_to_a_per_row_constant(shifted: str) -> None:
    method = create_method(run_config("kd"))
    student, teacher = random_logits(seed=1), random_logits(seed=2)
    shift = torch.randn(BATCH, 1, dtype=torch.float64) * 10
    before = method(step(output(student), [output(teacher)], LABELS))["kd"]
    if shifted == "student":
        student = student + shift
    else:
        teacher = teacher + shift
    after = method(step(output(student), [output(teacher)], LABELS))["kd"]
    assert before.item() > 0.01
    torch.testing.assert_close(after, before)


def test_kd_gradient_is_tau_times_probability_difference() -> None:
    tau, w_kd = 3.0, 0.7
    method = create_method(run_config("kd", f"method.kd.tau={tau}", f"method.kd.w_kd={w_kd}"))
    student = random_logits(seed=3).requires_grad_()
    teacher = random_logits(seed=4)
    method(step(output(student), [output(teacher)], LABELS))["kd"].backward()
    analytic = w_kd * tau * (F.softmax(student.detach() / tau, 1) - F.softmax(teacher / tau, 1)) / BATCH
    torch.testing.assert_close(student.grad, analytic)


def test_kd_terms_are_weighted_by_the_config() -> None:
    config = run_config("kd", "method.kd.w_ce=0.25", "method.kd.w_kd=0.0")
    student, teacher = random_logits(seed=5), random_logits(seed=6)
    terms = create_method(config)(step(output(student), [output(teacher)], LABELS))
    torch.testing.assert_close(terms["ce"], 0.25 * F.cross_entropy(student, LABELS))
    assert terms["kd"].item() == 0.0


def test_kd_with_two_teachers_distils_from_the_configured_one_only() -> None:
    student = output(random_logits(seed=7))
    first, second = output(random_logits(seed=8)), output(random_logits(seed=9))
    for index, teacher in enumerate((first, second)):
        method = create_method(run_config("kd", f"method.kd.teacher={index}"))
        both = method(step(student, [first, second], LABELS))["kd"]
        alone = create_method(run_config("kd"))(step(student, [teacher], LABELS))["kd"]
        torch.testing.assert_close(both, alone)
    assert not torch.allclose(
        create_method(run_config("kd", "method.kd.teacher=0"))(step(student, [first, second], LABELS))["kd"],
        create_method(run_config("kd", "method.kd.teacher=1"))(step(student, [first, second], LABELS))["kd"],
    )


def test_avg_kd_with_two_teachers_distils_the_averaged_distribution() -> None:
    config = run_config("avg_kd")
    tau, w_kd = config.method.avg_kd.tau, config.method.avg_kd.w_kd
    student, first, second = random_logits(seed=10), random_logits(seed=11), random_logits(seed=12)
    loss = create_method(config)(step(output(student), [output(first), output(second)], LABELS))["kd"]
    average = (F.softmax(first / tau, 1) + F.softmax(second / tau, 1)) / 2
    per_sample = (average * (average.log() - F.log_softmax(student / tau, 1))).sum(1)
    torch.testing.assert_close(loss, w_kd * tau**2 * per_sample.mean())
    # By convexity the KL to the mixture is below the mean of the per-teacher KLs.
    both = step(output(student), [output(first), output(second)], LABELS)
    kd = [create_method(run_config("kd", f"method.kd.teacher={k}"))(both)["kd"] for k in (0, 1)]
    assert loss.item() < (kd[0].item() + kd[1].item()) / 2


@pytest.mark.parametrize(
    "name", ["kd", "kd+ls", "avg_kd", "avg_kd+ls", "ca_mkd", "ebkd", "ae_kd", "dkd", "dkd+ls", "dist", "nkd"]
)
def test_logit_methods_stay_finite_with_masked_teacher_classes(name: str) -> None:
    method_name, _, switch = name.partition("+")
    extra = [f"method.{method_name}.logit_standardization=true"] if switch else []
    extra += {"kd": ["method.kd.teacher=1"], "ca_mkd": ["method.ca_mkd.w_feat=0"]}.get(method_name, [])
    config = run_config(method_name, *extra)
    method = built(config, output(random_logits(seed=13)), [output(random_logits(seed=14))] * 2)
    student = random_logits(seed=15, dtype=torch.float32).requires_grad_()
    first = mask_unseen_classes(random_logits(seed=16, dtype=torch.float32), torch.tensor([1, 1, 1, 0, 0]).bool())
    second = mask_unseen_classes(random_logits(seed=17, dtype=torch.float32), torch.tensor([0, 1, 1, 1, 1]).bool())
    loss = sum(method(step(output(student), [output(first), output(second)], LABELS, epoch=30)).values())
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(student.grad).all()
    assert student.grad.abs().sum() > 0


# ---------------------------------------------------------------- dkd


def test_dkd_parts_decompose_the_kl_per_sample() -> None:
    tau = 4.0
    student, teacher = random_logits(seed=20), random_logits(seed=21)
    parts = decoupled_kl(student, teacher, LABELS, tau)
    kl = F.kl_div(F.log_softmax(student / tau, 1), F.log_softmax(teacher / tau, 1), reduction="none", log_target=True)
    torch.testing.assert_close(parts.tckd + (1 - parts.teacher_target_prob) * parts.nckd, kl.sum(1))
    torch.testing.assert_close(parts.teacher_target_prob, F.softmax(teacher / tau, 1)[range(BATCH), LABELS])
    assert (parts.tckd > 0).all() and (parts.nckd > 0).all()


def test_dkd_nckd_ignores_the_students_target_logit() -> None:
    student, teacher = random_logits(seed=22), random_logits(seed=23)
    moved = student.clone()
    moved[range(BATCH), LABELS] += 5.0
    before, after = decoupled_kl(student, teacher, LABELS, 4.0), decoupled_kl(moved, teacher, LABELS, 4.0)
    torch.testing.assert_close(after.nckd, before.nckd)
    assert not torch.allclose(after.tckd, before.tckd)


def test_dkd_loss_matches_the_reference_formulation_and_warms_up() -> None:
    """Zhao et al.'s code (mdistiller's dkd_loss), written out independently, at epoch >= warmup."""
    config = run_config("dkd", "method.dkd.alpha=1.5", "method.dkd.beta=6.0", "method.dkd.tau=2.0")
    alpha, beta, tau, warmup = 1.5, 6.0, 2.0, config.method.dkd.warmup_epochs
    student, teacher = random_logits(seed=24), random_logits(seed=25)
    method = built(config, output(student), [output(teacher)])

    target = F.one_hot(LABELS, CLASSES).bool()
    p_s, p_t = F.softmax(student / tau, 1), F.softmax(teacher / tau, 1)
    binary_s = torch.stack([p_s[target], p_s[~target].view(BATCH, -1).sum(1)], 1)
    binary_t = torch.stack([p_t[target], p_t[~target].view(BATCH, -1).sum(1)], 1)
    tckd = F.kl_div(binary_s.log(), binary_t, reduction="sum") / BATCH
    nckd = F.kl_div(
        F.log_softmax(student / tau - 1000 * target, 1), F.softmax(teacher / tau - 1000 * target, 1), reduction="sum"
    ) / BATCH
    reference = tau**2 * (alpha * tckd + beta * nckd)

    terms = method(step(output(student), [output(teacher)], LABELS, epoch=warmup - 1))
    torch.testing.assert_close(terms["dkd"].double(), reference.double(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(terms["ce"], F.cross_entropy(student, LABELS))
    first_epoch = method(step(output(student), [output(teacher)], LABELS, epoch=0))["dkd"]
    torch.testing.assert_close(first_epoch * warmup, terms["dkd"])
    late = method(step(output(student), [output(teacher)], LABELS, epoch=5 * warmup))["dkd"]
    torch.testing.assert_close(late, terms["dkd"])


def test_dkd_refuses_fewer_than_three_classes() -> None:
    logits = torch.randn(BATCH, 2)
    with pytest.raises(ValueError, match="num_classes >= 3.*got num_classes=2"):
        built(run_config("dkd"), output(logits), [output(logits)], num_classes=2)


# ---------------------------------------------------------------- at


def feature_maps(seed: int, shapes: list[tuple[int, int, int]]) -> list[Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(BATCH, *shape, generator=generator, dtype=torch.float64) for shape in shapes]


def test_at_is_zero_for_identical_features() -> None:
    features = feature_maps(30, [(4, 8, 8), (8, 4, 4)])
    student = output(random_logits(seed=31), features)
    teacher = output(random_logits(seed=32), [f.clone() for f in features])
    assert create_method(run_config("at"))(step(student, [teacher], LABELS))["at"].item() < 1e-12


def test_at_term_follows_its_definition() -> None:
    """mean (A(F_S) - A(F_T))^2, A(F) = normalise(flatten(mean_c F^2)), the 8x8 energy pooled to 4x4."""
    student_map, teacher_map = feature_maps(29, [(4, 8, 8), (16, 4, 4)])

    def attention(energy: Tensor) -> Tensor:
        flat = energy.flatten(1)
        return flat / flat.norm(dim=1, keepdim=True)

    student_energy = F.avg_pool2d(student_map.pow(2).mean(1, keepdim=True), 2)
    expected = (attention(student_energy) - attention(teacher_map.pow(2).mean(1))).pow(2).mean()
    torch.testing.assert_close(attention_loss(student_map, teacher_map), expected)


@pytest.mark.parametrize("change", ["rescale", "negate", "permute_channels"])
def test_at_is_invariant_to_scale_sign_and_channel_order(change: str) -> None:
    method = create_method(run_config("at"))
    student = output(random_logits(seed=33), feature_maps(34, [(4, 8, 8), (8, 4, 4)]))
    teacher_features = feature_maps(35, [(6, 8, 8), (12, 4, 4)])
    if change == "rescale":
        changed = [f * 3.7 for f in teacher_features]
    elif change == "negate":  # attention is activation energy: signs do not matter
        changed = [-f for f in teacher_features]
    else:
        changed = [f[:, torch.randperm(f.shape[1])] for f in teacher_features]
    before = method(step(student, [output(random_logits(seed=36), teacher_features)], LABELS))["at"]
    after = method(step(student, [output(random_logits(seed=36), changed)], LABELS))["at"]
    assert before.item() > 1e-3
    torch.testing.assert_close(after, before)


def test_at_pools_the_larger_map_across_channel_counts() -> None:
    """A teacher map that is the student's, channel-duplicated and 2x upsampled, has the same attention."""
    student_map = feature_maps(37, [(4, 8, 8)])[0]
    teacher_map = F.interpolate(torch.cat([student_map, student_map], 1), scale_factor=2, mode="nearest")
    assert attention_loss(student_map, teacher_map).item() < 1e-12
    assert attention_loss(teacher_map, student_map).item() < 1e-12
    other = feature_maps(38, [(16, 16, 16)])[0]
    assert attention_loss(student_map, other).item() > 1e-4


def test_at_pairs_stages_by_relative_depth_across_counts() -> None:
    method = create_method(run_config("at", "method.at.weight=1000"))
    student_features = [f.requires_grad_() for f in feature_maps(39, [(4, 16, 16), (8, 8, 8), (16, 4, 4)])]
    teacher_features = feature_maps(40, [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4)])
    student = output(random_logits(seed=41), student_features)
    terms = method(step(student, [output(random_logits(seed=42), teacher_features)], LABELS))
    expected = sum(attention_loss(student_features[i], teacher_features[j]) for i, j in [(0, 1), (1, 2), (2, 3)])
    torch.testing.assert_close(terms["at"], 1000.0 * expected)
    terms["at"].backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in student_features)


@pytest.mark.parametrize(
    ("student_count", "teacher_count", "pairs"),
    [
        (3, 3, [(0, 0), (1, 1), (2, 2)]),
        (3, 4, [(0, 1), (1, 2), (2, 3)]),
        (2, 4, [(0, 1), (1, 3)]),
        (4, 2, [(1, 0), (3, 1)]),
    ],
)
def test_stage_pairs_match_relative_depth(student_count: int, teacher_count: int, pairs: list[tuple[int, int]]) -> None:
    assert paired_stages(student_count, teacher_count) == pairs


# ---------------------------------------------------------------- fitnet


@pytest.mark.parametrize(
    ("student_shape", "teacher_shape", "resizing"),
    [
        ((4, 16, 16), (12, 8, 8), nn.Conv2d),  # student larger: one stride-2 conv
        ((4, 16, 16), (12, 4, 4), nn.Conv2d),  # much larger: repeated
        ((4, 7, 7), (12, 4, 4), nn.Conv2d),  # odd size: ceil halving
        ((4, 4, 4), (12, 8, 8), nn.ConvTranspose2d),  # student smaller
        ((4, 4, 4), (12, 16, 16), nn.ConvTranspose2d),
        ((4, 8, 8), (12, 8, 8), nn.Conv2d),  # equal sizes
        ((4, 8, 16), (12, 8, 8), nn.Conv2d),  # one dimension only
    ],
)
def test_fitnet_regressor_outputs_the_teachers_shape(
    student_shape: tuple[int, int, int], teacher_shape: tuple[int, int, int], resizing: type[nn.Module]
) -> None:
    regressor = build_regressor(student_shape, teacher_shape)
    assert type(regressor[0]) is resizing
    assert isinstance(regressor[1], nn.BatchNorm2d) and isinstance(regressor[2], nn.ReLU)
    assert regressor(torch.randn(2, *student_shape)).shape == (2, *teacher_shape)


@pytest.mark.parametrize(
    ("student_shape", "teacher_shape", "message"),
    [((4, 12, 12), (8, 5, 5), "not a power of 2"), ((4, 16, 4), (8, 8, 8), "one spatial size is larger")],
)
def test_fitnet_regressor_rejects_unreachable_sizes(
    student_shape: tuple[int, int, int], teacher_shape: tuple[int, int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_regressor(student_shape, teacher_shape)


def test_fitnet_hints_the_middle_stage_and_trains_its_regressors() -> None:
    config = run_config("fitnet")
    student_features = [f.float().requires_grad_() for f in feature_maps(50, [(4, 16, 16), (8, 8, 8), (16, 4, 4)])]
    teacher_features = [f.float() for f in feature_maps(51, [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4)])]
    student = output(random_logits(seed=52).float(), student_features)
    teachers = [output(random_logits(seed=53).float(), teacher_features) for _ in range(2)]
    method = built(config, student, teachers)
    assert len(method.regressors) == 2
    # The student's stage 1 of 3 ends at depth 2/3, inside the teacher's stage 2 of 4.
    assert method.student_stage == 1 and method.teacher_stages == [2, 2]
    assert method.regressors[0](student_features[1]).shape == teacher_features[2].shape
    own = method.parameter_groups()["student"]
    assert {id(p) for p in own} == {id(p) for p in method.regressors.parameters()}
    assert any(key.startswith("regressors.1.") for key in method.state_dict())

    terms = method(step(student, teachers, LABELS))
    per_teacher = [F.mse_loss(regressor(student_features[1]), teacher_features[2]) for regressor in method.regressors]
    torch.testing.assert_close(terms["fitnet"], config.method.fitnet.weight * (per_teacher[0] + per_teacher[1]) / 2)
    terms["fitnet"].backward()
    assert student_features[1].grad.abs().sum() > 0 and student_features[0].grad is None
    assert all(p.grad is not None for p in own)


def test_fitnet_stage_out_of_range_is_an_error() -> None:
    features = [f.float() for f in feature_maps(54, [(4, 8, 8), (8, 4, 4)])]
    probe = output(random_logits(seed=55).float(), features)
    with pytest.raises(ValueError, match="method.fitnet.stage must be in 0..1.*got method.fitnet.stage=2"):
        built(run_config("fitnet", "method.fitnet.stage=2"), probe, [probe])


# ---------------------------------------------------------------- crd

CRD_LABELS = torch.arange(40) % 4  # 10 samples per class: 30 other-class samples per anchor


def crd_method(*overrides: str) -> ContrastiveRepresentationDistillation:
    student = output(torch.zeros(2, CLASSES), pooled=torch.zeros(2, 8))
    teachers = [output(torch.zeros(2, CLASSES), pooled=torch.zeros(2, dim)) for dim in (12, 16)]
    method = built(run_config("crd", "method.crd.feat_dim=16", *overrides), student, teachers, train_labels=CRD_LABELS)
    assert isinstance(method, ContrastiveRepresentationDistillation)
    return method


def crd_step(seed: int, indices: Tensor) -> StepInput:
    generator = torch.Generator().manual_seed(seed)
    labels = CRD_LABELS[indices]
    batch = len(indices)
    outputs = [
        output(torch.randn(batch, CLASSES, generator=generator), pooled=torch.randn(batch, dim, generator=generator))
        for dim in (8, 12, 16)
    ]
    outputs[0].pooled.requires_grad_()
    student, *teachers = outputs
    return step(student, teachers, labels, indices=indices)


def banks(method: ContrastiveRepresentationDistillation) -> list[Tensor]:
    return [bank.rows for pair in method.pairs for bank in (pair.student_bank, pair.teacher_bank)]


def test_crd_negatives_come_from_other_classes_only() -> None:
    torch.manual_seed(0)
    method = crd_method()
    assert method.negative_count == 30  # fewer than the configured 16384: all that any anchor has
    labels = CRD_LABELS[:8]
    negatives = method.sample_negatives(labels)
    assert negatives.shape == (8, 30)
    assert (CRD_LABELS[negatives] != labels[:, None]).all()
    assert all(len(set(row.tolist())) == 30 for row in negatives)
    assert crd_method("method.crd.negatives=7").sample_negatives(labels).shape == (8, 7)


def test_crd_memory_rows_stay_unit_norm_and_receive_no_gradient() -> None:
    torch.manual_seed(0)
    method = crd_method()
    before = [rows.clone() for rows in banks(method)]
    indices = torch.tensor([0, 5, 9, 22, 31])
    for seed in range(3):
        data = crd_step(seed, indices)
        loss = method(data)["crd"]
        loss.backward()
        assert data.student.pooled.grad.abs().sum() > 0
    for old, rows in zip(before, banks(method)):
        torch.testing.assert_close(rows.norm(dim=1), torch.ones(len(CRD_LABELS)))
        assert not rows.requires_grad and rows.grad is None
        untouched = torch.ones(len(CRD_LABELS), dtype=torch.bool)
        untouched[indices] = False
        assert torch.equal(rows[untouched], old[untouched]) and not torch.allclose(rows[indices], old[indices])
    parameter_names = {name for name, _ in method.named_parameters()}
    assert parameter_names and not any("bank" in name for name in parameter_names)
    state = method.state_dict()
    assert "pairs.0.student_bank.rows" in state and "pairs.1.teacher_bank.normaliser" in state
    assert all(p.grad is not None for p in method.parameter_groups()["student"])


def test_crd_normaliser_is_fixed_after_the_first_batch() -> None:
    torch.manual_seed(0)
    method = crd_method()
    normalisers = [bank.normaliser for pair in method.pairs for bank in (pair.student_bank, pair.teacher_bank)]
    method(crd_step(0, torch.tensor([0, 1, 2, 3])))
    first = [z.clone() for z in normalisers]
    assert all(z.item() > 0 for z in first)
    for seed in (1, 2):
        method(crd_step(seed, torch.tensor([10, 17, 26, 35])))
    torch.testing.assert_close(normalisers, first)
    other = crd_method()
    other(crd_step(3, torch.tensor([4, 8, 12, 16])))
    assert other.pairs[0].student_bank.normaliser.item() != first[0].item()  # estimated, not a constant


def test_crd_loss_and_memory_update_follow_repdistiller() -> None:
    """The authors' formulation written out: gathered bank rows, bmm, exp(./T)/Z, NCE, momentum rows."""
    torch.manual_seed(0)
    method = crd_method("method.crd.negatives=9", "method.crd.momentum=0.3")  # asymmetric, unlike the 0.5 default
    settings, data_size = method.settings, len(CRD_LABELS)
    data = crd_step(4, torch.tensor([3, 14, 25, 36]))
    old = [[bank.rows.clone() for bank in (pair.student_bank, pair.teacher_bank)] for pair in method.pairs]
    torch.manual_seed(1)
    candidates = torch.cat([data.indices[:, None], method.sample_negatives(data.labels)], 1)
    torch.manual_seed(1)
    terms = method(data)

    def nce(anchor: Tensor, bank_rows: Tensor) -> Tensor:
        scores = torch.exp(torch.bmm(bank_rows[candidates], anchor[:, :, None]).squeeze(2) / settings.temperature)
        probs = scores / (scores.mean() * data_size)  # first batch: Z estimated from these scores
        noise = settings.negatives / data_size
        log_positive = torch.log(probs[:, 0] / (probs[:, 0] + noise + 1e-7))
        log_negatives = torch.log(noise / (probs[:, 1:] + noise + 1e-7))
        return -(log_positive.sum() + log_negatives.sum()) / len(anchor)

    expected = []
    for pair, teacher, (student_rows, teacher_rows) in zip(method.pairs, data.teachers, old):
        student = F.normalize(pair.student_head.linear(data.student.pooled), dim=1)
        teacher_embedding = F.normalize(pair.teacher_head.linear(teacher.pooled), dim=1)
        expected.append(nce(student, teacher_rows) + nce(teacher_embedding, student_rows))
        moved = F.normalize(0.3 * student_rows[data.indices] + 0.7 * student.detach(), dim=1)
        torch.testing.assert_close(pair.student_bank.rows[data.indices], moved)
    torch.testing.assert_close(terms["crd"], settings.weight * (expected[0] + expected[1]) / 2)
    torch.testing.assert_close(terms["ce"], F.cross_entropy(data.student.logits, data.labels))
