"""ASIB's settings: the method's hyper-parameters and the ablation ladder's four switches.

Read as `method.asib.*` (docs/method.md defines each; docs/CONFIGURATION.md lists them
with their ranges). Kept apart from the method's torch code so that asib.py holds the
method itself; importing this module still needs pydantic only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from asib_sweeps.config_section import MethodSettings


class ASIBSettings(MethodSettings):
    """ASIB's hyper-parameters and the four switches of the ablation ladder (docs/method.md)."""

    mbm_dim: int = Field(256, ge=1)
    """d: width of the adapters, the attention and the code z."""
    mbm_heads: int = Field(4, ge=1)
    """Attention heads of the IB-MBM (must divide mbm_dim)."""
    logvar_clip: float = Field(6.0, gt=0)
    """log sigma^2 is clipped to +-logvar_clip."""
    logvar_init: float | None = -4.0
    """Initial log sigma^2: the bias of the bottleneck's log-variance projection (its weights
    keep PyTorch's init), so sigma starts near exp(-2) ~ 0.14. None keeps PyTorch's init (the
    design note's), log sigma^2 ~ 0: there the noise (sigma ~ 1) is larger than mu (std ~ 0.6)
    and the synergy has to fit through it (docs/method.md, change 10)."""
    query_in_values: bool = False
    """Add the student's adapted feature to the synergy's value tokens, a second path for the
    student's query besides the attention weights and the residual (ib_mbm.IBMBM)."""
    synergy_dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout inside the synergy head."""
    beta: float = Field(1e-3, ge=0)
    """Weight of the information bottleneck KL(q(z|x) || N(0, I)) after its warm-up (use_ib)."""
    beta_warmup_epochs: int = Field(5, ge=0)
    """Linear warm-up of beta, counted in the epochs in which beta acts (synergy epochs)."""
    tau_syn: float = Field(4.0, gt=0)
    """Temperature at which the student distils the synergy (and the synergy is pulled
    toward the student), with the tau_syn^2 factor; the synergy head is trained with CE at
    temperature 1. At 1 the fitted synergy's target is nearly one-hot (docs/method.md)."""
    w_ce: float = Field(1.0, ge=0)
    """Weight of the student's CE on the labels."""
    w_kd: float = Field(1.0, ge=0)
    """Weight of the student's KD term toward its target (tau_syn^2 KL)."""
    w_feat: float = Field(0.0, ge=0)
    """Weight of the student's feature term ||A_S(h_S) - mu||^2 / d (0: off)."""
    target_policy: Literal["synergy", "auto"] = "synergy"
    """The student's KD target: always the synergy, or per sample whichever of the
    synergy and the teachers' average gives the label the higher probability."""
    synergy_student_weight: float = Field(0.0, ge=0)
    """Weight of the synergy's pull toward the (detached) student, KL at tau_syn."""
    synergy_teacher_weight: float = Field(0.0, ge=0)
    """Weight of the synergy's distillation of the teachers' average, tau_syn^2 KL(mean_k p_k || p_syn):
    the teachers were fine-tuned on the whole training split, the synergy's CE sees the student's subset."""
    synergy_gate_acc: float = Field(0.0, ge=0, le=1)
    """The pull acts only after an evaluation in which the synergy's validation
    accuracy reached this value (0: always open)."""
    synergy_warmup_steps: int = Field(100, ge=0)
    """Synergy-only optimiser steps before the student's first epoch (E2E and CCCP)."""
    synergy_lr: float | None = Field(None, gt=0)
    """Learning rate of adapters, IB-MBM and head; None = optim.lr."""
    use_ib: bool = True
    """Ladder switch: sample z and add the IB term (off: z = mu, beta = 0)."""
    use_cccp: bool = True
    """Ladder switch: alternate A- and B-phases in stages instead of joint epochs."""
    use_tadapt: bool = True
    """Ladder switch: the teachers train in A-phases (CE + L_syn + L2-SP); needs use_cccp."""
    use_pf: bool = True
    """Ladder switch: progressive partial freezing of adapted teachers; needs use_tadapt."""
    stages: int = Field(4, ge=1)
    """CCCP stages; epochs must be a multiple of it."""
    a_phase_budget: Literal["e2e", "minimum"] = "e2e"
    """How long CCCP's A-phases are. `e2e`: they share `epochs` epochs evenly, like the
    B-phases, so the synergy gets exactly the optimiser steps and the LR schedule E2E's
    joint epochs give it and the cccp rung differs from ib in the alternation alone
    (docs/method.md, change 11). `minimum`: each lasts max(a_epochs, epochs for
    a_min_steps) epochs (the design note's)."""
    a_epochs: int = Field(1, ge=1)
    """a_phase_budget `minimum`: least A-phase (synergy) epochs per CCCP stage."""
    a_min_steps: int = Field(10, ge=0)
    """a_phase_budget `minimum`: least optimiser steps per A-phase (as many epochs as that takes)."""
    cccp_prox: float = Field(0.0, ge=0)
    """Proximal weight mu: (mu/2)||theta - theta_stage_start||^2 on the synergy in A-phases."""
    teacher_lr: float = Field(1e-5, gt=0)
    """Constant learning rate of the teachers under T-Adapt."""
    l2sp_weight: float = Field(1e-2, ge=0)
    """L2-SP weight pulling adapted teachers toward their fine-tuned weights."""
    pf_start_level: int = Field(3, ge=-1)
    """Freeze level of stage 0 under use_pf; stage s freezes max(-1, level - s) blocks."""
    pf_train_bn: bool = False
    """Train the BatchNorm affine parameters inside frozen blocks; off, a frozen prefix
    is a fixed function run without autograd (what saves memory and time)."""

    @model_validator(mode="after")
    def _ladder_is_consistent(self) -> "ASIBSettings":
        if self.use_tadapt and not self.use_cccp:
            raise ValueError("use_tadapt needs use_cccp (teachers adapt in A-phases); got use_cccp=False")
        if self.use_pf and not self.use_tadapt:
            raise ValueError("use_pf needs use_tadapt (it schedules the teachers' frozen blocks); got use_tadapt=False")
        if self.logvar_init is not None and abs(self.logvar_init) >= self.logvar_clip:
            raise ValueError(
                "logvar_init must lie strictly inside +-logvar_clip (the clip would stop its gradient); "
                f"got logvar_init={self.logvar_init}, logvar_clip={self.logvar_clip}"
            )
        if self.mbm_dim % self.mbm_heads:
            raise ValueError(
                f"mbm_dim must be divisible by mbm_heads; got mbm_dim={self.mbm_dim}, mbm_heads={self.mbm_heads}"
            )
        return self

    def check_run(self, epochs: int) -> None:
        if self.use_cccp:
            self.b_epochs_per_stage(epochs)

    def b_epochs_per_stage(self, epochs: int) -> int:
        """Under CCCP the stages share the student's epochs evenly; refuse a remainder."""
        if epochs % self.stages:
            raise ValueError(
                "epochs must be a multiple of method.asib.stages under CCCP; "
                f"got epochs={epochs}, method.asib.stages={self.stages}"
            )
        return epochs // self.stages
