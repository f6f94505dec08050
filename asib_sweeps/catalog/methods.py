"""Every method, declared once and free of torch: name, settings, search space, defaults, implementation.

The order of `METHODS` is the order of `method.name`'s choices, of the config sections
and of the SOTA study's arms. An entry names its implementation as "module:Class",
imported only when a run builds the method (`asib_sweeps.methods.registry`), so the
config, the studies' plans and `--dry-run` never import torch.

Adding a method is its loss file in `asib_sweeps/methods/` plus one entry here (and its
settings class, if it has a section, in `method_settings.py`). An entry added from
elsewhere with `add_method` must be added before `asib_sweeps.config` is first imported:
the config's sections are built from this list when it loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from asib_sweeps.catalog.asib_settings import ASIBSettings
from asib_sweeps.catalog.late_entries import refuse_after_the_config
from asib_sweeps.catalog.method_settings import (
    AEKDSettings,
    ATSettings,
    AvgKDSettings,
    CAMKDSettings,
    CRDSettings,
    DISTSettings,
    DKDSettings,
    EBKDSettings,
    FitNetSettings,
    KDSettings,
    NKDSettings,
)
from asib_sweeps.config_section import MethodSettings
from asib_sweeps.tunable import Choice, Domain, IntRange, LogUniform, Uniform


@dataclass(frozen=True)
class MethodEntry:
    """One method as the config, the studies and the tuning see it."""

    name: str
    implementation: str
    """"module:Class" of its `DistillMethod`, imported when a run builds it."""
    settings: type[MethodSettings] | None = None
    """Its config section, `method.<name>` (None: it has none, like ce)."""
    search_space: Mapping[str, Domain] = field(default_factory=dict)
    """Setting -> the range `asib-sweep tune` searches (asib_sweeps.tunable); empty: nothing to tune."""
    dataset_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per data set, section values that replace the declared defaults (chosen on validation:
    docs/benchmarks.md)."""
    uses_teachers: bool = True

    @property
    def section(self) -> str | None:
        """The `method.<section>` it reads (its own name), or None."""
        return self.name if self.settings is not None else None


KD_SPACE = {"tau": Uniform(1.0, 8.0), "w_ce": LogUniform(0.02, 5.0), "w_kd": LogUniform(0.1, 10.0)}
"""kd's and avg_kd's ranges: the published CIFAR values (tau 4, 0.1 / 0.9) and the digits ones
(1 / 1) lie inside, none at an edge."""

ASIB_SPACE = {
    # the student's weights and the synergy's temperature (every rung)
    "w_ce": LogUniform(0.1, 10.0),
    "w_kd": LogUniform(0.1, 10.0),
    "tau_syn": Uniform(1.0, 8.0),
    # the synergy's pull toward the student; 0 (off, the default) is the lower end
    "synergy_student_weight": Uniform(0.0, 1.0),
    # the bottleneck (ib and above): the beta study's range
    "beta": LogUniform(1e-5, 1e-1),
    # structural: CCCP's stages (cccp and above; they must divide the epochs, 16 on digits),
    # T-Adapt (tadapt and above; up to 1e-2, where the positive control shows the teachers move),
    # freezing (full)
    "stages": Choice((2, 4, 8)),
    "teacher_lr": LogUniform(1e-6, 1e-2),
    "l2sp_weight": LogUniform(1e-3, 1e-1),
    "pf_start_level": IntRange(0, 4),
}
"""Every knob of ASIB a tuning may search; which of them a rung searches is
asib_sweeps.presets.RUNG_KNOBS (a rung tunes only the knobs its switches use)."""

_METHODS: list[MethodEntry] = [
    MethodEntry("ce", "asib_sweeps.methods.ce:CrossEntropy", uses_teachers=False),
    MethodEntry(
        "kd", "asib_sweeps.methods.kd:KnowledgeDistillation", KDSettings, KD_SPACE,
        {"digits": {"w_ce": 1.0, "w_kd": 1.0}},
    ),
    # kd's values on digits: the two were selected together when they shared a section.
    MethodEntry(
        "avg_kd", "asib_sweeps.methods.avg_kd:AverageKnowledgeDistillation", AvgKDSettings, KD_SPACE,
        {"digits": {"w_ce": 1.0, "w_kd": 1.0}},
    ),
    # The authors' CIFAR values (tau 4, w_kd 1, w_feat 50) lie inside; w_ce stays 1 as in their runs.
    MethodEntry(
        "ca_mkd", "asib_sweeps.methods.ca_mkd:ConfidenceAwareMultiTeacherKD", CAMKDSettings,
        {"tau": Uniform(1.0, 8.0), "w_kd": LogUniform(0.1, 10.0), "w_feat": LogUniform(1.0, 500.0)},
    ),
    # The CA-MKD authors' values for EBKD (tau 4, w_kd 1) lie inside; w_ce stays 1.
    MethodEntry(
        "ebkd", "asib_sweeps.methods.ebkd:EntropyBasedKD", EBKDSettings,
        {"tau": Uniform(1.0, 8.0), "w_kd": LogUniform(0.1, 10.0)},
    ),
    # The authors' values (tau 4, w_kd 1, C 0.6) lie inside; C below 1/K = 0.5 (two teachers) has no solution.
    MethodEntry(
        "ae_kd", "asib_sweeps.methods.ae_kd:AdaptiveEnsembleKD", AEKDSettings,
        {"tau": Uniform(1.0, 8.0), "w_kd": LogUniform(0.1, 10.0), "tolerance": Uniform(0.5, 1.0)},
    ),
    # The published weight 100 (an edge of the old digits grid) in the middle, on the log scale.
    MethodEntry("fitnet", "asib_sweeps.methods.fitnet:FitNet", FitNetSettings, {"weight": LogUniform(1.0, 1e4)}),
    # Published CIFAR weight 1000 and digits' 10 both inside, neither at an edge.
    MethodEntry(
        "at", "asib_sweeps.methods.at:AttentionTransfer", ATSettings, {"weight": LogUniform(1.0, 1e5)},
        {"digits": {"weight": 10.0}},
    ),
    # Published CIFAR weight 0.8 and digits' 0.01 (an edge of the old grid) both inside.
    MethodEntry(
        "crd", "asib_sweeps.methods.crd:ContrastiveRepresentationDistillation", CRDSettings,
        {"weight": LogUniform(1e-4, 10.0)}, {"digits": {"weight": 0.01}},
    ),
    # Published CIFAR values (alpha 1, beta 8, tau 4) and digits' beta 2 lie inside, none at an edge.
    MethodEntry(
        "dkd", "asib_sweeps.methods.dkd:DecoupledKnowledgeDistillation", DKDSettings,
        {"alpha": LogUniform(0.1, 10.0), "beta": LogUniform(0.5, 32.0), "tau": Uniform(1.0, 8.0)},
        {"digits": {"beta": 2.0, "warmup_epochs": 4}},
    ),
    # The authors' CIFAR values (tau 4, beta = gamma = 1 under w_kd 2) lie inside; w_kd only rescales
    # beta and gamma, so it is not searched a second time.
    MethodEntry(
        "dist", "asib_sweeps.methods.dist:DISTDistillation", DISTSettings,
        {"tau": Uniform(1.0, 8.0), "beta": LogUniform(0.25, 4.0), "gamma": LogUniform(0.25, 4.0)},
    ),
    # The authors' CIFAR-100 values (tau 3, gamma 3.5) lie inside; w_ce stays 1 as in their distiller.
    MethodEntry(
        "nkd", "asib_sweeps.methods.nkd:NormalizedKD", NKDSettings,
        {"tau": Uniform(1.0, 6.0), "gamma": LogUniform(0.3, 10.0)},
    ),
    MethodEntry(
        "asib", "asib_sweeps.methods.asib:ASIB", ASIBSettings, ASIB_SPACE,
        {"digits": {"mbm_dim": 32, "mbm_heads": 4, "stages": 4, "beta_warmup_epochs": 4}},
    ),
]  # fmt: skip


def add_method(entry: MethodEntry) -> None:
    """Register one more method (a plugin's); before `asib_sweeps.config` is imported."""
    refuse_after_the_config("method", entry.name)
    if any(known.name == entry.name for known in _METHODS):
        raise ValueError(f"method {entry.name!r} is declared twice")
    _METHODS.append(entry)


def method_names() -> tuple[str, ...]:
    """Every method, in declaration order."""
    return tuple(entry.name for entry in _METHODS)


def method_entry(name: str) -> MethodEntry:
    for entry in _METHODS:
        if entry.name == name:
            return entry
    raise ValueError(f"method.name must be one of {', '.join(method_names())}; got {name!r}")


def settings_types() -> dict[str, type[MethodSettings]]:
    """Each method's own config section type, by section name (= method name)."""
    return {entry.name: entry.settings for entry in _METHODS if entry.settings is not None}


def tunable_space(name: str) -> dict[str, Domain]:
    """The ranges method `name` may be tuned over, keyed by setting name."""
    return dict(method_entry(name).search_space)
