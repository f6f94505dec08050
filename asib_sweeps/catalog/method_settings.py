"""The settings section of every method but ASIB (asib_settings.py), free of torch.

`asib_sweeps.config` builds `method.<name>` from these classes, so reading, checking
and printing a config (`--dry-run`, `--help`, docs/CONFIGURATION.md) never imports the
losses. Each method's file in `asib_sweeps/methods/` reads its section as `self.settings`;
`asib_sweeps/catalog/methods.py` ties the two together. Attribute docstrings are the
field descriptions of docs/CONFIGURATION.md.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from asib_sweeps.config_section import MethodSettings


class WeightedTeachersSettings(MethodSettings):
    """Temperature and weights of a per-sample weighted multi-teacher KD (the CA-MKD authors' defaults)."""

    tau: float = Field(4.0, gt=0)
    """Softmax temperature of the KL terms (their `kd_T`)."""
    w_ce: float = Field(1.0, ge=0)
    """Weight of the cross-entropy on labels (their `gamma`, -r)."""
    w_kd: float = Field(1.0, ge=0)
    """Weight of the weighted KL term (their `alpha`, -a)."""

    def check_teachers(self, count: int) -> None:
        if count < 2:
            raise ValueError(
                f"method.name={self.method_name!r} weighs several teachers against each other and needs at least 2; "
                f"got {count} teacher(s) (use kd for one)"
            )

    method_name: ClassVar[str] = ""
    """The method whose section this is, for error messages."""


class KDSettings(MethodSettings):
    """Hinton KD's teacher, temperature and weights."""

    teacher: Annotated[int, Field(ge=0)] | Literal["best"] = "best"
    """Which teacher to distil from: an index into `teachers`, or `best` (highest accuracy on
    the student's validation split, chosen before the student trains)."""
    tau: float = Field(4.0, gt=0)
    """Softmax temperature of the KD term (Hinton et al.); the base temperature under logit standardisation."""
    w_ce: float = Field(0.1, ge=0)
    """Weight of the cross-entropy on labels."""
    w_kd: float = Field(0.9, ge=0)
    """Weight of the tau^2-scaled KL to the teacher's soft labels."""
    logit_standardization: bool = False
    """Z-score student and teacher logits before the softmax (Sun et al., CVPR 2024; their CIFAR-100
    setting: tau=2, w_kd=9)."""

    def check_teachers(self, count: int) -> None:
        if self.teacher != "best" and self.teacher >= count:
            raise ValueError(
                f"method.kd.teacher must be 'best' or an index below the number of teachers ({count}); "
                f"got method.kd.teacher={self.teacher}"
            )


class AvgKDSettings(MethodSettings):
    """AVER's temperature and weights."""

    tau: float = Field(4.0, gt=0)
    """Softmax temperature of the teachers' average and of the student; the base temperature
    under logit standardisation."""
    w_ce: float = Field(0.1, ge=0)
    """Weight of the cross-entropy on labels."""
    w_kd: float = Field(0.9, ge=0)
    """Weight of the tau^2-scaled KL to the teachers' averaged soft labels."""
    logit_standardization: bool = False
    """Z-score student and teacher logits before the softmax (Sun et al., CVPR 2024)."""


class CAMKDSettings(WeightedTeachersSettings):
    """CA-MKD's temperature and weights (Rorozhl/CA-MKD's CIFAR-100 script)."""

    method_name = "ca_mkd"
    w_feat: float = Field(50.0, ge=0)
    """Weight of the confidence-weighted feature term (their beta); 0 runs the logit part alone."""


class EBKDSettings(WeightedTeachersSettings):
    """EBKD's temperature and weights (Rorozhl/CA-MKD's CIFAR-100 script: tau 4, w_ce 1, w_kd 1)."""

    method_name = "ebkd"


class AEKDSettings(WeightedTeachersSettings):
    """AE-KD's temperature, weights and the bound on each teacher's share."""

    method_name = "ae_kd"
    tolerance: float = Field(0.6, gt=0)
    """C: the most weight one teacher may get (their `-C`, "tolerance for disagreement"); nu = 1 / (C K)."""
    svm_norm: bool = False
    """Normalise the teachers' gradients before the min-norm problem (their `--svm_norm`)."""


class FitNetSettings(MethodSettings):
    """FitNet's hint weight and stage."""

    weight: float = Field(100.0, ge=0)
    """Weight of the hint (feature regression) loss."""
    stage: int | None = None
    """Feature stage to hint; None = the middle stage of the student."""


class ATSettings(MethodSettings):
    """Attention transfer's weight."""

    weight: float = Field(1000.0, ge=0)
    """Weight of the attention-transfer loss."""


class CRDSettings(MethodSettings):
    """CRD's weight, embedding and memory bank."""

    weight: float = Field(0.8, ge=0)
    """Weight of the contrastive representation loss."""
    feat_dim: int = Field(128, ge=1)
    """Dimension of the contrastive embedding."""
    negatives: int = Field(16384, ge=1)
    """Negatives drawn from the memory bank per sample."""
    momentum: float = Field(0.5, ge=0, lt=1)
    """Momentum of the memory-bank update."""
    temperature: float = Field(0.07, gt=0)
    """Temperature of the NCE softmax."""


class DKDSettings(MethodSettings):
    """DKD's temperature, part weights and warm-up."""

    tau: float = Field(4.0, gt=0)
    """Softmax temperature of both DKD terms."""
    alpha: float = Field(1.0, ge=0)
    """Weight of target-class KD (TCKD)."""
    beta: float = Field(8.0, ge=0)
    """Weight of non-target-class KD (NCKD)."""
    warmup_epochs: int = Field(20, ge=0)
    """Epochs over which the DKD weight ramps up linearly; must not exceed the run's epochs."""
    logit_standardization: bool = False
    """Z-score student and teacher logits before the softmax (Sun et al., CVPR 2024; their CIFAR-100
    setting: tau=2, alpha=9, beta=72)."""

    def check_run(self, epochs: int) -> None:
        if self.warmup_epochs > epochs:
            raise ValueError(
                "method.dkd.warmup_epochs must be <= epochs (DKD would never reach full weight); "
                f"got method.dkd.warmup_epochs={self.warmup_epochs}, epochs={epochs}"
            )


class DISTSettings(MethodSettings):
    """DIST's temperature and weights (the authors' CIFAR-100 config)."""

    tau: float = Field(4.0, gt=0)
    """Softmax temperature of both relations (their `dist_t4`)."""
    beta: float = Field(1.0, ge=0)
    """Weight of the inter-class relation (per sample, over classes)."""
    gamma: float = Field(1.0, ge=0)
    """Weight of the intra-class relation (per class, over the batch)."""
    w_ce: float = Field(1.0, ge=0)
    """Weight of the cross-entropy on labels (their ori_loss_weight)."""
    w_kd: float = Field(2.0, ge=0)
    """Weight of the DIST term (their kd_loss_weight)."""


class NKDSettings(MethodSettings):
    """NKD's temperature and weights (the authors' CIFAR-100 config)."""

    tau: float = Field(3.0, gt=0)
    """Temperature of the non-target part (their `temp`)."""
    gamma: float = Field(3.5, ge=0)
    """Weight of the non-target part (their `gamma`)."""
    w_ce: float = Field(1.0, ge=0)
    """Weight of the cross-entropy on labels."""
