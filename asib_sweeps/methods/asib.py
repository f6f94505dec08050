"""ASIB: distil K teachers into a student through a learned synergy (docs/method.md).

The synergy (adapters, IB-MBM, head) reads the student's and the teachers' pooled
features and is fitted with L_syn; the student is distilled from the synergy with
L_stu at the synergy's own temperature tau_syn. The four ablation switches each
change what trains:

- use_ib: the bottleneck samples z and L_IB (weight beta_n) is added; off: z = mu, beta = 0.
- use_cccp: `plan` alternates A-phases (L_syn over the synergy) and B-phases (L_stu over
  the student) in `stages` stages instead of joint epochs (L_stu + L_syn).
- use_tadapt: the teachers train in A-phases on their own CE plus L_syn, held near
  their fine-tuned weights by L2-SP.
- use_pf: the plan's freeze levels follow progressive unfreezing (the loop applies them
  with `asib_sweeps.freezing`).

Every mode starts with a synergy warm-up (phase W: L_syn over the synergy alone) of
`synergy_warmup_steps` optimiser steps, so the student never learns from an unfitted
synergy; under CCCP the A-phases share `epochs` epochs (a_phase_budget `e2e`: the synergy
then trains exactly as many steps, on the same LR schedule, as under E2E). These synergy
epochs come on top of the `epochs` student epochs, which every rung shares.

`stages`, `a_phase_budget`, `a_epochs`, `a_min_steps` and `cccp_prox` describe the CCCP
mode and are read only when use_cccp is on (a study shares one config across the rungs,
E2E ones included); `a_epochs` and `a_min_steps` only under a_phase_budget `minimum`.

Gradient isolation is done here, not left to the loop: inside L_syn the student's
feature and logits are detached ("student held fixed"), inside L_stu the synergy's
outputs are detached, and in B-phases the synergy runs without autograd altogether.
"""

from __future__ import annotations

import math


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asib_sweeps.methods.asib_diagnostics import attention_entropy, query_sensitivity
from asib_sweeps.methods.asib_parts import WeightSnapshot, label_entropy, seen_class_masks
from asib_sweeps.methods.asib_plan import SYNERGY_PHASES, asib_plan
from asib_sweeps.catalog.asib_settings import ASIBSettings
from asib_sweeps.methods.avg_kd import average_soft_targets
from asib_sweeps.config_section import MethodSettings
from asib_sweeps.methods.base import DistillMethod, EpochPlan, MethodContext, MethodSetup, Part, PartOptimizer, Phase, StepInput
from asib_sweeps.methods.functional import soft_kl, soft_kl_to_probs
from asib_sweeps.methods.ib_mbm import IBMBM, BottleneckCode, gaussian_kl, synergy_head
from asib_sweeps.models.interface import ModelOutput, ZooModel

EVAL_NOISE_SEED = 0
"""Seed of the noise that samples z for i_zy_z at evaluation (the same draws every epoch)."""


class ASIB(DistillMethod):
    name = "asib"
    settings: ASIBSettings

    synergy: nn.ModuleDict
    """{"mbm": IBMBM, "head": synergy head}; created in build from the probe shapes."""

    def __init__(self, settings: MethodSettings | None, setup: MethodSetup) -> None:
        super().__init__(settings, setup)
        self.steps_per_epoch = 0
        """Optimiser steps in one epoch over the student's split; set in build."""
        self.teacher_anchors: nn.ModuleList | None = None
        self.prox_anchor: WeightSnapshot | None = None
        self._teachers: list[ZooModel] = []  # plain list: referenced for L2-SP, not owned
        self._eval_generator: torch.Generator | None = None
        # The pull's gate, decided by the last evaluation; a buffer, so a resumed run keeps it.
        self.register_buffer("pull_gate_open", torch.tensor(self.settings.synergy_gate_acc <= 0))
        self._read_gate()

    # ---------------------------------------------------------------- setup

    def build(self, context: MethodContext) -> None:
        """Create the synergy; under T-Adapt snapshot the teachers, which must hold their fine-tuned weights now."""
        s = self.settings
        if len(context.teachers) != self.setup.teachers:
            raise ValueError(f"context has {len(context.teachers)} teachers but the run has {self.setup.teachers}")
        self.steps_per_epoch = math.ceil(len(context.train_labels) / self.setup.batch_size)
        self.synergy = nn.ModuleDict(
            {
                "mbm": IBMBM(
                    teacher_dims=[probe.pooled.shape[1] for probe in context.teacher_probes],
                    student_dim=context.student_probe.pooled.shape[1],
                    dim=s.mbm_dim,
                    heads=s.mbm_heads,
                    logvar_clip=s.logvar_clip,
                    stochastic=s.use_ib,
                    logvar_init=s.logvar_init,
                    query_in_values=s.query_in_values,
                ),
                "head": synergy_head(s.mbm_dim, context.num_classes, s.synergy_dropout),
            }
        )
        self.register_buffer(
            "label_entropy", label_entropy(context.train_labels, context.num_classes), persistent=False
        )
        self.register_buffer("teacher_seen", seen_class_masks(context.teacher_seen, context.num_classes), persistent=False)
        if s.use_tadapt:
            self._teachers = list(context.teachers)
            self.teacher_anchors = nn.ModuleList(WeightSnapshot(t) for t in context.teachers)
        if s.use_cccp and s.cccp_prox > 0:
            self.prox_anchor = WeightSnapshot(self.synergy)
            self.register_buffer("prox_anchor_stage", torch.tensor(-1))

    # ---------------------------------------------------------------- schedule

    def beta_for(self, plan: EpochPlan) -> float:
        """beta_n = beta * min(1, n / beta_warmup_epochs), n the 1-based count of synergy epochs so far.

        beta acts only where L_syn trains (phases W, A, joint), so the warm-up counts
        those epochs and is never spent in B-phases; n = 1 in the first of them, and 0
        warm-up epochs means full beta from the start. use_ib off means beta = 0.
        """
        s = self.settings
        if not s.use_ib or plan.phase not in SYNERGY_PHASES:
            return 0.0
        if s.beta_warmup_epochs == 0:
            return s.beta
        return s.beta * min(1.0, plan.synergy_epoch / s.beta_warmup_epochs)

    def plan(self, epochs: int) -> list[EpochPlan]:
        if self.steps_per_epoch <= 0:
            raise RuntimeError("build() must run before the plan: it sets steps_per_epoch")
        return asib_plan(
            self.settings, epochs, steps_per_epoch=self.steps_per_epoch, student_pretrained=self.setup.student_pretrained
        )

    def trained_parts(self, phase: Phase) -> frozenset[Part]:
        parts: dict[str, set[Part]] = {"joint": {"student", "synergy"}, "W": {"synergy"}, "B": {"student"}}
        parts["A"] = {"synergy", "teachers"} if self.settings.use_tadapt else {"synergy"}
        if phase not in parts:
            raise ValueError(f"phase must be one of W, A, B, joint; got phase={phase!r}")
        return frozenset(parts[phase])

    def parameter_groups(self) -> dict[Part, list[nn.Parameter]]:
        """All synergy parameters, whatever their requires_grad is at the moment of asking."""
        return {"synergy": list(self.synergy.parameters())}

    def part_optimizer(self, part: Part) -> PartOptimizer:
        """The synergy at `synergy_lr`; adapting teachers at a small constant rate, with
        L2-SP (a loss term) instead of weight decay."""
        if part == "synergy":
            return PartOptimizer(lr=self.settings.synergy_lr)
        if part == "teachers":
            return PartOptimizer(lr=self.settings.teacher_lr, weight_decay=0.0, constant_lr=True)
        return PartOptimizer()

    def on_epoch_start(self, plan: EpochPlan) -> None:
        """B-phases hold the synergy fixed (eval mode: z = mu, no dropout), so it acts as a teacher.

        At each stage's first A-epoch, the proximal term is anchored at the synergy's
        current weights: those the previous stage ended with (B-phases leave the synergy
        unchanged); in stage 0 the weights after the warm-up.
        """
        self.train(plan.phase != "B")
        self._eval_generator = None  # the next evaluation reseeds its noise
        self._read_gate()  # after a restore, the buffer came from the checkpoint
        if self.prox_anchor is not None and plan.phase == "A" and int(self.prox_anchor_stage) != plan.stage:
            self.prox_anchor.copy_from(self.synergy)
            self.prox_anchor_stage.fill_(plan.stage)

    def on_epoch_end(self, plan: EpochPlan, teachers: list[ZooModel]) -> dict[str, float]:
        """The epoch's beta and whether the synergy's pull toward the student acted in it."""
        return {"beta": self.beta_for(plan), "synergy_pull_on": float(self._pull_on)}

    def on_evaluated(self, plan: EpochPlan, metrics: dict[str, float]) -> None:
        """Open the pull's gate once the synergy's validation accuracy reaches `synergy_gate_acc`; close it below."""
        threshold = self.settings.synergy_gate_acc
        if threshold > 0 and "synergy_acc" in metrics:
            self.pull_gate_open.fill_(metrics["synergy_acc"] >= threshold)
            self._read_gate()

    def _read_gate(self) -> None:
        """Whether the pull acts, as a Python bool read where the gate can change (build, restore,
        evaluation), never per step: reading a device buffer in the step would wait on the device."""
        self._pull_on = self.settings.synergy_student_weight > 0 and bool(self.pull_gate_open)

    # ---------------------------------------------------------------- losses

    def forward(self, step: StepInput) -> dict[str, Tensor]:
        """The loss terms of the step's phase, already weighted: W/A -> L_syn, B -> L_stu, joint -> both."""
        phase = step.plan.phase
        if phase not in ("joint", "W", "A", "B"):
            raise ValueError(f"phase must be one of W, A, B, joint; got phase={phase!r}")
        terms: dict[str, Tensor] = {}
        if phase == "B":
            with torch.no_grad():
                code, synergy_logits = self._synergy_forward(step.student, step.teachers)
        else:
            code, synergy_logits = self._synergy_forward(step.student, step.teachers)
            terms.update(self._synergy_terms(step, code, synergy_logits))
        if phase in ("B", "joint"):
            terms.update(self._student_terms(step, code, synergy_logits))
        return terms

    def _synergy_forward(self, student: ModelOutput, teachers: list[ModelOutput]) -> tuple[BottleneckCode, Tensor]:
        code = self.synergy["mbm"](student.pooled.detach(), [t.pooled for t in teachers])
        return code, self.synergy["head"](code.z)

    def _synergy_terms(self, step: StepInput, code: BottleneckCode, synergy_logits: Tensor) -> dict[str, Tensor]:
        """L_syn's pieces; in A-phases also T-Adapt's teacher terms and the CCCP proximal term."""
        s = self.settings
        terms = {"syn_ce": F.cross_entropy(synergy_logits, step.labels)}
        if s.use_ib:
            terms["ib_kl"] = self.beta_for(step.plan) * gaussian_kl(code.mu, code.sigma).mean()
        if s.synergy_teacher_weight > 0:
            average = average_soft_targets([t.logits.detach() for t in step.teachers], s.tau_syn)
            terms["syn_teacher_kl"] = s.synergy_teacher_weight * soft_kl_to_probs(average, synergy_logits, s.tau_syn)
        if self._pull_on:
            terms["syn_student_kl"] = s.synergy_student_weight * soft_kl(
                step.student.logits.detach(), synergy_logits, s.tau_syn
            )
        if step.plan.phase == "A":
            if s.use_tadapt:
                terms["teacher_ce"] = self._teacher_ce(step.teachers, step.labels)
                if s.l2sp_weight > 0:
                    terms["l2sp"] = s.l2sp_weight * self._l2sp_distance()
            if self.prox_anchor is not None:
                terms["cccp_prox"] = 0.5 * s.cccp_prox * self.prox_anchor.squared_distance(self.synergy)
        return terms

    def _teacher_ce(self, teachers: list[ModelOutput], labels: Tensor) -> Tensor:
        """Sum over teachers of each one's mean CE over the samples whose label it was fine-tuned on.

        Summing (not averaging) gives each teacher exactly the gradient of its own
        objective CE_k + L_syn + L2-SP_k, since the teachers share no parameters.
        A teacher never saw the other classes (its logits there are masked), so CE on
        those samples would only push it towards classes it cannot predict.
        """
        total = labels.new_zeros((), dtype=teachers[0].logits.dtype)
        for seen, output in zip(self.teacher_seen, teachers, strict=True):
            keep = seen[labels]
            ce_sum = F.cross_entropy(output.logits[keep], labels[keep], reduction="sum")
            total = total + ce_sum / keep.sum().clamp_min(1)
        return total

    def _l2sp_distance(self) -> Tensor:
        """sum_k ||theta_k - theta_k^0||^2 over every teacher parameter."""
        assert self.teacher_anchors is not None
        return torch.stack(
            [
                anchor.squared_distance(teacher)
                for anchor, teacher in zip(self.teacher_anchors, self._teachers, strict=True)
            ]
        ).sum()

    def _student_terms(self, step: StepInput, code: BottleneckCode, synergy_logits: Tensor) -> dict[str, Tensor]:
        """L_stu's pieces; the synergy is a fixed target here (its outputs detached)."""
        s = self.settings
        target = self.student_target(synergy_logits.detach(), [t.logits.detach() for t in step.teachers], step.labels)
        terms = {
            "stu_ce": s.w_ce * F.cross_entropy(step.student.logits, step.labels),
            "stu_kd": s.w_kd * soft_kl_to_probs(target, step.student.logits.to(target.dtype), s.tau_syn),
        }
        if s.w_feat > 0:
            query = self._student_query(step.student.pooled, adapter_trains=step.plan.phase == "joint")
            terms["stu_feat"] = s.w_feat * (query - code.mu.detach()).square().sum(dim=1).mean() / s.mbm_dim
        return terms

    def student_target(self, synergy_logits: Tensor, teacher_logits: list[Tensor], labels: Tensor) -> Tensor:
        """The distribution [B, C] the student distils at tau_syn.

        `synergy`: the synergy's p_syn^tau_syn. `auto`: per sample, whichever of p_syn
        and the teachers' average gives the true label the higher probability, so a
        sample on which the synergy is worse than plain averaging falls back to it.
        """
        s = self.settings
        synergy = F.softmax(synergy_logits.float() / s.tau_syn, dim=1)
        if s.target_policy == "synergy":
            return synergy
        average = average_soft_targets(teacher_logits, s.tau_syn)
        rows = torch.arange(labels.shape[0], device=labels.device)
        synergy_better = synergy[rows, labels] >= average[rows, labels]
        return torch.where(synergy_better.unsqueeze(1), synergy, average)

    def _student_query(self, student_feature: Tensor, *, adapter_trains: bool) -> Tensor:
        """a_S = A_S(h_S) with gradient into the student; into A_S too only when the synergy trains (joint)."""
        adapter = self.synergy["mbm"].student_adapter
        if adapter_trains:
            return adapter(student_feature)
        fixed = {name: p.detach() for name, p in adapter.named_parameters()}
        return torch.func.functional_call(adapter, fixed, (student_feature,))

    # ---------------------------------------------------------------- evaluation

    @torch.no_grad()
    def eval_terms(self, student: ModelOutput, teachers: list[ModelOutput], labels: Tensor) -> dict[str, Tensor]:
        """Per-sample synergy accuracy and information-plane bounds (method.md section 8).

        i_xz = KL(q(z|x) || N(0, I)) bounds I(X;Z) for the sampled code z ~ q(z|x), so
        the I(Z;Y) bound that goes with it, i_zy_z, decodes that same sampled z, drawn in
        this pass (from a generator of its own, so evaluating never shifts the run's
        random streams). i_zy decodes z = mu (the synergy's output at evaluation, which
        the student distils). With use_ib off the encoder is deterministic (and sigma
        untrained): z = mu, and neither i_xz nor i_zy_z is reported.
        """
        code = self.synergy["mbm"](student.pooled, [t.pooled for t in teachers])
        logits = self.synergy["head"](code.mu)
        terms = {
            "synergy_acc": (logits.argmax(dim=1) == labels).float(),
            "i_zy": self.label_entropy - F.cross_entropy(logits, labels, reduction="none"),
        }
        if self.settings.use_ib:
            noise = torch.randn(code.mu.shape, generator=self._eval_noise(code.mu.device), device=code.mu.device)
            sampled_logits = self.synergy["head"](code.mu + code.sigma * noise.to(code.mu.dtype))
            terms["i_xz"] = gaussian_kl(code.mu, code.sigma)
            terms["i_zy_z"] = self.label_entropy - F.cross_entropy(sampled_logits, labels, reduction="none")
        return terms

    def _eval_noise(self, device: torch.device) -> torch.Generator:
        """The evaluation's own noise stream, reseeded at every epoch's start (on_epoch_start), so each
        evaluation draws the same noise and a resumed run draws what an uninterrupted one would."""
        if self._eval_generator is None or self._eval_generator.device != device:
            self._eval_generator = torch.Generator(device=device).manual_seed(EVAL_NOISE_SEED)
        return self._eval_generator

    @torch.no_grad()
    def diagnostics(self, student: ModelOutput, teachers: list[ModelOutput], labels: Tensor) -> dict[str, float]:
        """The joint objective and the query-sensitivity readings (asib_diagnostics) on the fixed batch.

        joint_objective = L_syn + L_stu with full beta, with the method in eval mode (z = mu,
        no dropout), A-phase-only terms (T-Adapt's, the proximal term) left out: the
        objective CCCP claims to decrease stage by stage, measured on the same batch
        every epoch.
        """
        s = self.settings
        full_beta = EpochPlan(epoch=0, stage=0, phase="joint", synergy_epoch=max(1, s.beta_warmup_epochs))
        step = StepInput(student=student, teachers=teachers, labels=labels, indices=labels, plan=full_beta)
        code, synergy_logits = self._synergy_forward(student, teachers)
        terms = {**self._synergy_terms(step, code, synergy_logits), **self._student_terms(step, code, synergy_logits)}
        readings = query_sensitivity(lambda query: self._synergy_forward(query, teachers)[1], student, s.tau_syn)
        weights = self.synergy["mbm"].attention_weights(student.pooled, [t.pooled for t in teachers])
        return {
            "joint_objective": float(sum(term.float() for term in terms.values())),
            **readings,
            "attention_entropy": attention_entropy(weights),
        }
