"""ASIB: the IB-MBM bottleneck, the epoch plan, the loss terms per phase and where gradients go."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.config import RunConfig, apply_overrides, default_config
from asib_sweeps.methods.functional import seen_mask
from asib_sweeps.methods import create_method
from asib_sweeps.methods.asib import EVAL_NOISE_SEED, ASIB
from asib_sweeps.methods.base import EpochPlan, MethodContext, StepInput
from asib_sweeps.methods.functional import mask_unseen_classes
from asib_sweeps.methods.ib_mbm import IBMBM, gaussian_kl
from asib_sweeps.models import ZooModel, create_model
from asib_sweeps.presets import apply_preset


def seen_masks(config, num_classes):  # noqa: ANN001, ANN201 - the run's teacher masks, as training/build.py makes them
    return [
        seen_mask(spec.classes, num_classes, torch.device("cpu"), key=f"teachers.{k}.classes")
        for k, spec in enumerate(config.teachers)
    ]

NUM_CLASSES = 10
IMAGES = 8


# ---------------------------------------------------------------- IB-MBM


def _mbm(teacher_dims: list[int], *, stochastic: bool = True, clip: float = 6.0) -> IBMBM:
    torch.manual_seed(0)
    return IBMBM(teacher_dims=teacher_dims, student_dim=5, dim=8, heads=2, logvar_clip=clip, stochastic=stochastic)


def test_gaussian_kl_is_zero_exactly_at_the_standard_normal() -> None:
    mu, sigma = torch.zeros(3, 4), torch.ones(3, 4)
    assert torch.equal(gaussian_kl(mu, sigma), torch.zeros(3))
    for changed_mu, changed_sigma in [(mu + 0.1, sigma), (mu, sigma * 1.5), (mu, sigma * 0.5), (mu - 2, sigma * 3)]:
        assert (gaussian_kl(changed_mu, changed_sigma) > 0).all()
    # Matches torch.distributions' KL for a diagonal Gaussian.
    m, s = torch.randn(2, 4), torch.rand(2, 4) + 0.2
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(m, s), torch.distributions.Normal(torch.zeros_like(m), torch.ones_like(s))
    ).sum(1)
    torch.testing.assert_close(gaussian_kl(m, s), reference)


@pytest.mark.parametrize("teacher_dims", [[12, 20], [12, 20, 7]])
def test_mbm_shapes_for_two_and_three_teachers(teacher_dims: list[int]) -> None:
    mbm = _mbm(teacher_dims)
    code = mbm(torch.randn(6, 5), [torch.randn(6, d) for d in teacher_dims])
    assert code.z.shape == code.mu.shape == code.sigma.shape == (6, 8)
    with pytest.raises(ValueError, match=f"expected {len(teacher_dims)} teacher features, got 1"):
        mbm(torch.randn(6, 5), [torch.randn(6, teacher_dims[0])])


def test_mbm_samples_in_training_and_uses_mu_in_eval() -> None:
    mbm = _mbm([12, 20])
    student, teachers = torch.randn(6, 5), [torch.randn(6, 12), torch.randn(6, 20)]
    mbm.train()
    first, second = mbm(student, teachers), mbm(student, teachers)
    assert not torch.equal(first.z, second.z)
    torch.testing.assert_close(first.mu, second.mu)
    assert not torch.equal(first.z, first.mu)
    mbm.eval()
    third, fourth = mbm(student, teachers), mbm(student, teachers)
    assert torch.equal(third.z, fourth.z) and torch.equal(third.z, third.mu)
    torch.testing.assert_close(third.mu, first.mu)  # no dropout in the MBM: mu is the same path


def test_mbm_never_samples_when_not_stochastic() -> None:
    mbm = _mbm([12, 20], stochastic=False).train()
    code = mbm(torch.randn(6, 5), [torch.randn(6, 12), torch.randn(6, 20)])
    assert torch.equal(code.z, code.mu)


def test_logvar_is_clipped() -> None:
    mbm = _mbm([12, 20], clip=2.0).eval()
    inputs = (torch.randn(6, 5), [torch.randn(6, 12), torch.randn(6, 20)])
    with torch.no_grad():
        mbm.logvar_proj.weight.zero_()
        mbm.logvar_proj.bias.fill_(50.0)
        torch.testing.assert_close(mbm(*inputs).sigma, torch.full((6, 8), math.exp(1.0)))
        mbm.logvar_proj.bias.fill_(-50.0)
        torch.testing.assert_close(mbm(*inputs).sigma, torch.full((6, 8), math.exp(-1.0)))
        mbm.logvar_proj.bias.fill_(0.5)
        torch.testing.assert_close(mbm(*inputs).sigma, torch.full((6, 8), math.exp(0.25)))


def test_logvar_init_sets_where_sigma_starts_and_none_keeps_pytorch_init() -> None:
    inputs = (torch.randn(64, 5), [torch.randn(64, 12), torch.randn(64, 20)])
    torch.manual_seed(0)
    low = IBMBM(teacher_dims=[12, 20], student_dim=5, dim=8, heads=2, logvar_clip=6.0, stochastic=True, logvar_init=-4.0)
    default = _mbm([12, 20])
    assert torch.equal(low.logvar_proj.bias, torch.full((8,), -4.0))
    assert default.logvar_proj.bias.unique().numel() == 8  # PyTorch's random bias, not a constant
    # Everything else is initialised from the same random stream as without the knob.
    assert torch.equal(low.logvar_proj.weight, default.logvar_proj.weight)
    assert torch.equal(low.mu_proj.weight, default.mu_proj.weight)
    with torch.no_grad():
        low_sigma, default_sigma = low.eval()(*inputs).sigma, default.eval()(*inputs).sigma
    # log sigma^2 = bias + W s with LayerNorm'd s: centred on the bias.
    assert abs(float(low_sigma.log().mul(2).mean()) + 4.0) < 0.3
    assert abs(float(default_sigma.log().mul(2).mean())) < 0.5


def test_logvar_init_changes_what_the_synergy_fits() -> None:
    """One warm-up step from the same weights: the smaller noise gives a different loss and update."""
    outcomes = []
    for overrides in (("method.asib.logvar_init=null",), ("method.asib.logvar_init=-4",)):
        built = build(asib_config("ib", *overrides))
        plan = first_plan(built.method, "joint")
        torch.manual_seed(1)
        terms = step(built, plan, student_grad=False)
        backward(terms)
        outcomes.append((terms["syn_ce"].detach(), built.method.synergy["mbm"].mu_proj.weight.grad.clone()))
    (ce_default, grad_default), (ce_low, grad_low) = outcomes
    assert not torch.isclose(ce_default, ce_low)
    assert not torch.allclose(grad_default, grad_low)


def test_logvar_init_outside_the_clip_is_refused() -> None:
    with pytest.raises(ValueError, match=r"logvar_init must lie strictly inside \+-logvar_clip.*logvar_init=-6.0"):
        asib_config("full", "method.asib.logvar_init=-6")


# ---------------------------------------------------------------- a built method on tiny models


BARE_PLAN = (
    "method.asib.synergy_warmup_steps=0",
    "method.asib.a_phase_budget=minimum",
    "method.asib.a_min_steps=0",
    "method.asib.a_epochs=1",
)
"""No warm-up and one A-epoch per stage, so plans are short enough to spell out (tests of
the warm-up and the A-phase budget set their own)."""


def asib_config(preset: str = "full", *overrides: str) -> RunConfig:
    base = apply_overrides(
        default_config("digits"),
        ["epochs=4", "method.asib.stages=2", "method.asib.mbm_dim=16", "method.asib.mbm_heads=2", *BARE_PLAN],
    )
    return apply_overrides(apply_preset(base, preset), list(overrides))


@dataclass
class Built:
    method: ASIB
    student: ZooModel
    teachers: list[ZooModel]
    images: Tensor
    labels: Tensor


def build(config: RunConfig, *, train_labels: Tensor | None = None) -> Built:
    torch.manual_seed(0)
    student = create_model(config.student.arch, NUM_CLASSES)
    teachers = [create_model(spec.arch, NUM_CLASSES).eval() for spec in config.teachers]
    images = torch.randn(IMAGES, 3, 32, 32)
    labels = torch.arange(IMAGES) % NUM_CLASSES
    with torch.no_grad():
        student_probe = student.eval()(images[:2])
        teacher_probes = [t(images[:2]) for t in teachers]
    method = create_method(config)
    assert isinstance(method, ASIB)
    method.build(
        MethodContext(
            teacher_seen=seen_masks(config, NUM_CLASSES),
            num_classes=NUM_CLASSES,
            train_labels=train_labels if train_labels is not None else torch.arange(50) % NUM_CLASSES,
            student=student,
            teachers=teachers,
            student_probe=student_probe,
            teacher_probes=teacher_probes,
        )
    )
    return Built(method, student, teachers, images, labels)


def step(built: Built, plan: EpochPlan, *, student_grad: bool, teacher_grad: bool = False) -> dict[str, Tensor]:
    """One step as the loop makes it: forward passes with grad only where asked, masked teacher logits."""
    with torch.set_grad_enabled(student_grad):
        student_out = built.student(built.images)
    teacher_outs = []
    for seen, teacher in zip(built.method.teacher_seen, built.teachers, strict=True):
        with torch.set_grad_enabled(teacher_grad):
            out = teacher(built.images)
        out.logits = mask_unseen_classes(out.logits, seen)  # the method's [K, C] masks (all True: every class)
        teacher_outs.append(out)
    return built.method(
        StepInput(
            student=student_out, teachers=teacher_outs, labels=built.labels, indices=torch.arange(IMAGES), plan=plan
        )
    )


def first_plan(method: ASIB, phase: str) -> EpochPlan:
    return next(p for p in method.plan(4) if p.phase == phase)


def backward(terms: dict[str, Tensor]) -> None:
    torch.stack(list(terms.values())).sum().backward()


def grads(module: nn.Module) -> list[Tensor | None]:
    return [p.grad for p in module.parameters()]


def test_registered_under_its_name() -> None:
    assert isinstance(create_method(asib_config()), ASIB)


def test_plan_e2e_is_joint_epochs_in_one_stage() -> None:
    method = build(asib_config("ib")).method
    plans = method.plan(4)
    assert [(p.epoch, p.stage, p.phase) for p in plans] == [(e, 0, "joint") for e in range(4)]
    assert all(p.teacher_freeze_level == -1 and p.student_freeze_level == -1 for p in plans)


def test_plan_cccp_alternates_a_and_b_with_the_e2e_student_epochs() -> None:
    method = build(asib_config("full", "method.asib.a_epochs=2", "method.asib.pf_start_level=1")).method
    plans = method.plan(4)
    assert [(p.epoch, p.stage, p.phase) for p in plans] == [
        (0, 0, "A"), (1, 0, "A"), (2, 0, "B"), (3, 0, "B"),
        (4, 1, "A"), (5, 1, "A"), (6, 1, "B"), (7, 1, "B"),
    ]  # fmt: skip
    assert sum(p.phase == "B" for p in plans) == 4
    assert [p.teacher_freeze_level for p in plans] == [1] * 4 + [0] * 4
    assert all(p.student_freeze_level == -1 for p in plans)  # the student is not pretrained
    with pytest.raises(ValueError, match="epochs must be a multiple of method.asib.stages under CCCP; got epochs=5"):
        method.plan(5)


def test_plan_freezes_a_pretrained_student_on_the_same_schedule(tmp_path) -> None:
    weights = tmp_path / "student.pt"
    torch.save(create_model("tiny_cnn", NUM_CLASSES).state_dict(), weights)
    plans = build(asib_config("full", f"student.pretrained_path={weights}")).method.plan(4)
    assert [p.student_freeze_level for p in plans] == [3, 3, 3, 2, 2, 2]
    assert [p.teacher_freeze_level for p in plans] == [3, 3, 3, 2, 2, 2]
    no_pf = build(asib_config("tadapt", f"student.pretrained_path={weights}")).method.plan(4)
    assert all(p.student_freeze_level == -1 and p.teacher_freeze_level == -1 for p in no_pf)


def test_plan_carries_the_batchnorm_setting() -> None:
    assert not any(p.frozen_bn_trains for p in build(asib_config("full")).method.plan(4))  # default: fully frozen
    assert all(
        p.frozen_bn_trains for p in build(asib_config("full", "method.asib.pf_train_bn=true")).method.plan(4)
    )


def test_warmup_steps_become_whole_synergy_epochs_before_the_student_trains() -> None:
    # 50 training labels in batches of 64 -> 1 step per epoch; batches of 16 -> 4 steps.
    for preset, student_phase in (("ib", "joint"), ("cccp", "A")):
        plans = build(asib_config(preset, "method.asib.synergy_warmup_steps=3")).method.plan(4)
        assert [p.phase for p in plans[:4]] == ["W", "W", "W", student_phase]
    small_batches = build(asib_config("ib", "method.asib.synergy_warmup_steps=5", "data.batch_size=16")).method
    assert small_batches.steps_per_epoch == 4
    assert [p.phase for p in small_batches.plan(4)] == ["W", "W"] + ["joint"] * 4  # ceil(5 / 4) = 2


def test_a_min_steps_lengthens_every_a_phase_and_student_epochs_stay_equal() -> None:
    method = build(asib_config("cccp", "method.asib.a_min_steps=3", "data.batch_size=16")).method  # 4 steps/epoch
    assert [p.phase for p in method.plan(4)] == ["A", "B", "B", "A", "B", "B"]
    method = build(asib_config("cccp", "method.asib.a_min_steps=9", "data.batch_size=16")).method  # ceil(9/4) = 3
    assert [p.phase for p in method.plan(4)] == ["A", "A", "A", "B", "B"] * 2
    for preset in ("baseline", "ib", "cccp", "tadapt", "full"):
        plans = build(asib_config(preset, "method.asib.a_min_steps=9", "method.asib.synergy_warmup_steps=7")).method
        assert sum(p.phase in ("joint", "B") for p in plans.plan(4)) == 4, preset


def test_e2e_a_phase_budget_gives_a_phases_the_epochs_of_the_b_phases() -> None:
    """The default budget: A-phases share `epochs` like the B-phases, whatever a_epochs and a_min_steps say."""
    for overrides in ((), ("method.asib.a_epochs=3", "method.asib.a_min_steps=50")):
        plans = build(asib_config("cccp", "method.asib.a_phase_budget=e2e", *overrides)).method.plan(4)
        assert [p.phase for p in plans] == ["A", "A", "B", "B"] * 2
        e2e = build(asib_config("ib", "method.asib.a_phase_budget=e2e", *overrides)).method.plan(4)
        synergy_epochs = [p.synergy_epoch for p in plans if p.phase == "A"]
        assert synergy_epochs == [p.synergy_epoch for p in e2e] == [1, 2, 3, 4]


def test_trained_parts_per_phase() -> None:
    cccp, tadapt = build(asib_config("cccp")).method, build(asib_config("tadapt")).method
    assert cccp.trained_parts("joint") == {"student", "synergy"}
    assert cccp.trained_parts("A") == cccp.trained_parts("W") == tadapt.trained_parts("W") == {"synergy"}
    assert tadapt.trained_parts("A") == {"synergy", "teachers"}
    assert cccp.trained_parts("B") == tadapt.trained_parts("B") == {"student"}
    groups = cccp.parameter_groups()
    assert set(groups) == {"synergy"}
    assert {id(p) for p in groups["synergy"]} == {id(p) for p in cccp.parameters()}


def test_beta_warms_up_over_the_epochs_in_which_it_acts() -> None:
    method = build(
        asib_config("full", "method.asib.beta=0.01", "method.asib.beta_warmup_epochs=2", "method.asib.a_epochs=1")
    ).method
    plans = method.plan(4)  # A B B A B B: beta acts in the two A-epochs only
    assert [p.phase for p in plans] == ["A", "B", "B", "A", "B", "B"]
    assert [method.beta_for(p) for p in plans] == pytest.approx([0.005, 0.0, 0.0, 0.01, 0.0, 0.0])
    e2e = build(asib_config("ib", "method.asib.beta=0.01", "method.asib.beta_warmup_epochs=4")).method
    assert [e2e.beta_for(p) for p in e2e.plan(4)] == pytest.approx([0.0025, 0.005, 0.0075, 0.01])
    no_warmup = build(asib_config("full", "method.asib.beta=0.01", "method.asib.beta_warmup_epochs=0")).method
    assert no_warmup.beta_for(no_warmup.plan(4)[0]) == 0.01
    baseline = build(asib_config("baseline", "method.asib.beta=0.01")).method
    assert all(baseline.beta_for(p) == 0.0 for p in baseline.plan(4))
    assert method.on_epoch_end(plans[0], [])["beta"] == pytest.approx(0.005)


def test_ib_term_is_beta_times_the_kl() -> None:
    built = build(asib_config("ib", "method.asib.beta=0.5", "method.asib.beta_warmup_epochs=2"))
    built.method.eval()  # z = mu, so the KL below is the one the term used
    terms = step(built, EpochPlan(epoch=0, stage=0, phase="joint", synergy_epoch=1), student_grad=False)
    with torch.no_grad():
        student_out = built.student(built.images)
        code = built.method.synergy["mbm"](student_out.pooled, [t(built.images).pooled for t in built.teachers])
    torch.testing.assert_close(terms["ib_kl"], 0.25 * gaussian_kl(code.mu, code.sigma).mean())


PULL = "method.asib.synergy_student_weight=0.5"


@pytest.mark.parametrize(
    ("preset", "overrides", "phase", "expected"),
    [
        ("baseline", [], "joint", {"syn_ce", "stu_ce", "stu_kd"}),
        ("baseline", [PULL], "joint", {"syn_ce", "syn_student_kl", "stu_ce", "stu_kd"}),
        ("ib", [PULL], "joint", {"syn_ce", "ib_kl", "syn_student_kl", "stu_ce", "stu_kd"}),
        ("ib", ["method.asib.synergy_warmup_steps=1"], "W", {"syn_ce", "ib_kl"}),
        ("cccp", [PULL], "A", {"syn_ce", "ib_kl", "syn_student_kl"}),
        ("cccp", [], "B", {"stu_ce", "stu_kd"}),
        ("cccp", ["method.asib.cccp_prox=0.1"], "A", {"syn_ce", "ib_kl", "cccp_prox"}),
        ("cccp", ["method.asib.w_feat=1.0"], "B", {"stu_ce", "stu_kd", "stu_feat"}),
        ("tadapt", [PULL], "A", {"syn_ce", "ib_kl", "syn_student_kl", "teacher_ce", "l2sp"}),
        ("tadapt", ["method.asib.l2sp_weight=0"], "A", {"syn_ce", "ib_kl", "teacher_ce"}),
        ("full", ["method.asib.synergy_warmup_steps=1"], "W", {"syn_ce", "ib_kl"}),
        ("full", [], "A", {"syn_ce", "ib_kl", "teacher_ce", "l2sp"}),
        ("full", [], "B", {"stu_ce", "stu_kd"}),
    ],
)
def test_terms_per_phase(preset: str, overrides: list[str], phase: str, expected: set[str]) -> None:
    built = build(asib_config(preset, *overrides))
    built.method.train(phase != "B")
    terms = step(built, first_plan(built.method, phase), student_grad=phase != "A", teacher_grad=phase == "A")
    assert set(terms) == expected
    assert all(t.dim() == 0 and torch.isfinite(t) for t in terms.values())


def test_phase_b_gives_no_gradient_to_the_synergy() -> None:
    built = build(asib_config("full", "method.asib.w_feat=1.0"))
    built.method.eval()
    terms = step(built, first_plan(built.method, "B"), student_grad=True)
    assert "stu_feat" in terms
    assert all(p.requires_grad for p in built.method.parameters())  # even so, nothing may reach them
    backward(terms)
    assert all(g is None for g in grads(built.method))
    assert all(g is not None for g in grads(built.student))


def test_feature_term_reaches_the_student_through_the_query_adapter() -> None:
    built = build(asib_config("cccp", "method.asib.w_feat=1.0"))
    built.method.eval()
    terms = step(built, first_plan(built.method, "B"), student_grad=True)
    terms["stu_feat"].backward()
    assert built.student.classifier.weight.grad is None  # the head is not on the feature path
    assert built.student.stages[-1].parameters().__next__().grad is not None


def test_phase_a_gives_no_gradient_to_the_student_even_if_its_outputs_carry_one() -> None:
    built = build(asib_config("cccp"))
    built.method.train()
    terms = step(built, first_plan(built.method, "A"), student_grad=True)
    backward(terms)
    assert all(g is None for g in grads(built.student))
    assert all(g is not None for g in grads(built.method.synergy))


def test_joint_trains_student_and_synergy_each_from_its_own_loss() -> None:
    built = build(asib_config("ib"))
    built.method.train()
    plan = first_plan(built.method, "joint")
    terms = step(built, plan, student_grad=True)
    backward({k: v for k, v in terms.items() if k.startswith("stu_")})
    assert all(g is not None for g in grads(built.student))
    assert all(g is None for g in grads(built.method))
    built.student.zero_grad(set_to_none=True)
    terms = step(built, plan, student_grad=True)
    backward({k: v for k, v in terms.items() if not k.startswith("stu_")})
    assert all(g is None for g in grads(built.student))
    assert all(g is not None for g in grads(built.method))


def test_tadapt_trains_the_teachers_through_ce_and_their_adapters() -> None:
    built = build(asib_config("tadapt"))
    built.method.train()
    terms = step(built, first_plan(built.method, "A"), student_grad=False, teacher_grad=True)
    backward({"syn_ce": terms["syn_ce"]})
    for teacher in built.teachers:  # L_syn alone reaches the backbone, not the classifier
        assert teacher.classifier.weight.grad is None
        assert teacher.stages[-1].parameters().__next__().grad is not None
    backward(
        {"teacher_ce": step(built, first_plan(built.method, "A"), student_grad=False, teacher_grad=True)["teacher_ce"]}
    )
    assert all(t.classifier.weight.grad is not None for t in built.teachers)


def test_teacher_ce_uses_only_samples_of_classes_the_teacher_saw() -> None:
    built = build(asib_config("tadapt", "teachers.0.classes=[0, 1, 2, 3, 4]"))
    built.method.train()
    terms = step(built, first_plan(built.method, "A"), student_grad=False, teacher_grad=True)
    with torch.no_grad():
        logits = [t(built.images).logits for t in built.teachers]
    keep = built.labels < 5
    seen = torch.zeros(NUM_CLASSES, dtype=torch.bool)
    seen[:5] = True
    expected = F.cross_entropy(mask_unseen_classes(logits[0], seen)[keep], built.labels[keep]) + F.cross_entropy(
        logits[1], built.labels
    )
    torch.testing.assert_close(terms["teacher_ce"], expected)
    built.labels = torch.full((IMAGES,), 7)  # no sample the first teacher saw: its CE contributes 0, not NaN
    terms = step(built, first_plan(built.method, "A"), student_grad=False, teacher_grad=True)
    torch.testing.assert_close(terms["teacher_ce"], F.cross_entropy(logits[1], built.labels))


def test_l2sp_pulls_towards_the_weights_at_build_and_is_checkpointed() -> None:
    built = build(asib_config("tadapt", "method.asib.l2sp_weight=0.5"))
    plan = first_plan(built.method, "A")
    assert step(built, plan, student_grad=False, teacher_grad=True)["l2sp"].item() == 0.0
    weight = built.teachers[1].classifier.weight
    with torch.no_grad():
        weight.add_(0.1)
    terms = step(built, plan, student_grad=False, teacher_grad=True)
    torch.testing.assert_close(terms["l2sp"], torch.tensor(0.5 * 0.01 * weight.numel()))
    terms["l2sp"].backward()
    torch.testing.assert_close(weight.grad, torch.full_like(weight, 0.5 * 2 * 0.1))
    state = built.method.state_dict()
    assert "teacher_anchors.1.classifier__weight" in state
    assert torch.equal(state["teacher_anchors.1.classifier__weight"] + 0.1, weight.detach())


def test_cccp_prox_anchors_at_each_stage_start() -> None:
    built = build(asib_config("cccp", "method.asib.cccp_prox=2.0"))
    method = built.method
    plans = method.plan(4)
    stage0_a, stage0_b, stage1_a = plans[0], plans[1], plans[3]
    assert (stage0_b.phase, stage1_a.phase, stage1_a.stage) == ("B", "A", 1)
    method.on_epoch_start(stage0_a)
    assert step(built, stage0_a, student_grad=False)["cccp_prox"].item() == 0.0
    bias = method.synergy["head"][-1].bias
    with torch.no_grad():
        bias.add_(0.5)
    method.on_epoch_start(stage0_b)  # a B-epoch, and the same stage: the anchor stays
    torch.testing.assert_close(
        step(built, stage0_a, student_grad=False)["cccp_prox"], torch.tensor(0.5 * 2.0 * 0.25 * bias.numel())
    )
    method.on_epoch_start(stage1_a)  # the next stage anchors at the weights the last one ended with
    assert step(built, stage1_a, student_grad=False)["cccp_prox"].item() == 0.0
    assert int(method.state_dict()["prox_anchor_stage"]) == 1


def test_sampling_happens_iff_use_ib_and_training() -> None:
    for preset, samples in [("baseline", False), ("ib", True)]:
        built = build(asib_config(preset))
        plan = first_plan(built.method, "joint")
        for training in (True, False):
            built.method.train(training)
            first = step(built, plan, student_grad=False)["syn_ce"]
            second = step(built, plan, student_grad=False)["syn_ce"]
            assert (not torch.equal(first, second)) == (samples and training), (preset, training)


def test_eval_terms_are_per_sample_and_use_mu() -> None:
    built = build(asib_config("full"), train_labels=torch.arange(40) % 4)  # 4 balanced classes: H(Y) = log 4
    method = built.method.eval()
    with torch.no_grad():
        student_out = built.student(built.images)
        teacher_outs = [t(built.images) for t in built.teachers]
    terms = method.eval_terms(student_out, teacher_outs, built.labels)
    assert set(terms) == {"synergy_acc", "i_xz", "i_zy", "i_zy_z"}
    assert all(v.shape == (IMAGES,) for v in terms.values())
    code = method.synergy["mbm"](student_out.pooled, [t.pooled for t in teacher_outs])
    logits = method.synergy["head"](code.mu)
    torch.testing.assert_close(terms["synergy_acc"], (logits.argmax(1) == built.labels).float())
    torch.testing.assert_close(terms["i_xz"], gaussian_kl(code.mu, code.sigma))
    torch.testing.assert_close(terms["i_zy"], math.log(4) - F.cross_entropy(logits, built.labels, reduction="none"))
    method.train()  # z = mu whatever the mode: the eval path never samples
    torch.testing.assert_close(method.eval_terms(student_out, teacher_outs, built.labels)["i_zy"], terms["i_zy"])


def test_i_zy_z_decodes_the_sampled_code_with_noise_of_its_own() -> None:
    """The I(Z;Y) bound beside I(X;Z) decodes z ~ q(z|x) (the variable I(X;Z) bounds), not mu,
    and draws its noise without touching the global random stream; each epoch draws the same noise."""
    built = build(asib_config("full", "method.asib.logvar_init=2.0"), train_labels=torch.arange(40) % 4)
    method = built.method.eval()
    with torch.no_grad():
        student_out = built.student(built.images)
        teacher_outs = [t(built.images) for t in built.teachers]
    state = torch.get_rng_state()
    terms = method.eval_terms(student_out, teacher_outs, built.labels)
    assert torch.equal(torch.get_rng_state(), state)
    code = method.synergy["mbm"](student_out.pooled, [t.pooled for t in teacher_outs])
    noise = torch.randn(code.mu.shape, generator=torch.Generator().manual_seed(EVAL_NOISE_SEED))
    sampled = method.synergy["head"](code.mu + code.sigma * noise)
    expected = math.log(4) - F.cross_entropy(sampled, built.labels, reduction="none")
    torch.testing.assert_close(terms["i_zy_z"], expected)
    assert not torch.allclose(terms["i_zy_z"], terms["i_zy"])  # sigma ~ e: the sample is not mu
    method.on_epoch_start(first_plan(method, "A"))  # the next epoch's evaluation draws the same noise
    method.eval()
    torch.testing.assert_close(method.eval_terms(student_out, teacher_outs, built.labels)["i_zy_z"], expected)


def test_eval_terms_omit_i_xz_without_a_bottleneck() -> None:
    built = build(asib_config("baseline"))
    with torch.no_grad():
        out = built.method.eval_terms(
            built.student(built.images), [t(built.images) for t in built.teachers], built.labels
        )
    assert set(out) == {"synergy_acc", "i_zy"}


def test_teacher_classes_outside_the_label_range_are_an_error() -> None:
    with pytest.raises(ValueError, match=r"teachers.0.classes must lie in 0..9; got \[12\]"):
        build(asib_config("full", "teachers.0.classes=[1, 12]"))


# ---------------------------------------------------------------- docs/method.md's revisions


def test_gate_opens_and_closes_at_its_threshold() -> None:
    built = build(asib_config("cccp", PULL, "method.asib.synergy_gate_acc=0.8"))
    method, plan = built.method.train(), first_plan(built.method, "A")
    assert "syn_student_kl" not in step(built, plan, student_grad=False)  # closed until an evaluation opens it
    method.on_evaluated(plan, {"synergy_acc": 0.79})
    assert "syn_student_kl" not in step(built, plan, student_grad=False)
    assert method.on_epoch_end(plan, [])["synergy_pull_on"] == 0.0
    method.on_evaluated(plan, {"synergy_acc": 0.8})
    assert "syn_student_kl" in step(built, plan, student_grad=False)
    assert method.on_epoch_end(plan, [])["synergy_pull_on"] == 1.0
    assert bool(method.state_dict()["pull_gate_open"])  # a resumed run keeps the gate's state
    method.on_evaluated(plan, {"synergy_acc": 0.5})
    assert "syn_student_kl" not in step(built, plan, student_grad=False)
    always = build(asib_config("cccp", PULL)).method
    assert always.on_epoch_end(plan, [])["synergy_pull_on"] == 1.0  # threshold 0: always open


def eval_synergy_logits(built: Built) -> Tensor:
    """The synergy's logits on the built batch at z = mu (eval mode), computed outside the method's step."""
    with torch.no_grad():
        code = built.method.synergy["mbm"](
            built.student(built.images).pooled, [t(built.images).pooled for t in built.teachers]
        )
        return built.method.synergy["head"](code.mu)


def test_pull_is_weighted_kl_at_tau_syn_toward_the_detached_student() -> None:
    built = build(asib_config("cccp", "method.asib.synergy_student_weight=0.3", "method.asib.tau_syn=2.0"))
    built.method.eval()
    plan = first_plan(built.method, "A")
    terms = step(built, plan, student_grad=True)
    with torch.no_grad():
        student_logits = built.student(built.images).logits
    synergy_logits = eval_synergy_logits(built)
    expected = 0.3 * 4.0 * F.kl_div(
        F.log_softmax(synergy_logits / 2, 1), F.log_softmax(student_logits / 2, 1), reduction="batchmean", log_target=True
    )
    torch.testing.assert_close(terms["syn_student_kl"], expected)


def test_synergy_teacher_term_is_weighted_kl_from_the_teachers_average_at_tau_syn() -> None:
    built = build(asib_config("cccp", "method.asib.synergy_teacher_weight=0.7", "method.asib.tau_syn=2.0"))
    built.method.eval()
    plan = first_plan(built.method, "A")
    terms = step(built, plan, student_grad=False)
    with torch.no_grad():
        teacher_logits = [t(built.images).logits for t in built.teachers]
    synergy_logits = eval_synergy_logits(built)
    average = sum(F.softmax(logits / 2, 1) for logits in teacher_logits) / len(teacher_logits)
    expected = 0.7 * 4.0 * F.kl_div(F.log_softmax(synergy_logits / 2, 1), average, reduction="batchmean")
    torch.testing.assert_close(terms["syn_teacher_kl"], expected)
    terms["syn_teacher_kl"].backward()  # it trains the synergy's head
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in built.method.synergy["head"].parameters())
    assert "syn_teacher_kl" not in step(build(asib_config("cccp")), plan, student_grad=False)  # 0: off
    assert "syn_teacher_kl" not in step(built, first_plan(built.method, "B"), student_grad=True)  # L_syn's term only


def _student_kd(*overrides: str) -> Tensor:
    built = build(asib_config("cccp", *overrides))
    built.method.eval()
    return step(built, first_plan(built.method, "B"), student_grad=True)["stu_kd"]


def test_tau_syn_and_the_weights_change_the_student_loss() -> None:
    base = _student_kd()
    assert not torch.allclose(base, _student_kd("method.asib.tau_syn=1.0"))
    torch.testing.assert_close(_student_kd("method.asib.w_kd=0.25"), 0.25 * base)


def test_student_target_policies() -> None:
    method = build(asib_config("cccp", "method.asib.tau_syn=1.0")).method
    labels = torch.tensor([0, 1])
    synergy = torch.tensor([[4.0, 0.0, 0.0], [4.0, 0.0, 0.0]])  # right on sample 0, wrong on sample 1
    teachers = [torch.tensor([[0.0, 0.0, 0.0], [0.0, 3.0, 0.0]]), torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])]
    only_synergy = method.student_target(synergy, teachers, labels)
    torch.testing.assert_close(only_synergy, F.softmax(synergy, 1))
    auto = build(asib_config("cccp", "method.asib.target_policy=auto", "method.asib.tau_syn=1.0")).method
    target = auto.student_target(synergy, teachers, labels)
    average = (F.softmax(teachers[0], 1) + F.softmax(teachers[1], 1)) / 2
    torch.testing.assert_close(target[0], F.softmax(synergy, 1)[0])  # the synergy is better here
    torch.testing.assert_close(target[1], average[1])  # and worse here: the teachers' average
    torch.testing.assert_close(target.sum(1), torch.ones(2))
