"""The ablation ladder (method.md section 4) as named config presets.

Each rung turns on exactly one more of ASIB's four switches than the rung before it;
`ce` and `avg_kd` are the reference points run beside the ladder. A preset only sets
the method name and the switches, so every rung of a study shares all other values.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config (and with it the method registry, torch) only where a preset is applied
    from asib_sweeps.config import RunConfig

SWITCHES = ("use_ib", "use_cccp", "use_tadapt", "use_pf")

LADDER: MappingProxyType[str, tuple[bool, bool, bool, bool]] = MappingProxyType(
    {
        #            use_ib use_cccp use_tadapt use_pf
        "baseline": (False, False, False, False),  # E2E, beta = 0, teachers fixed
        "ib": (True, False, False, False),  # E2E with the information bottleneck
        "cccp": (True, True, False, False),  # stage-wise A/B alternation
        "tadapt": (True, True, True, False),  # teachers adapted, all blocks trainable
        "full": (True, True, True, True),  # + progressive partial freezing
    }
)
"""Rung name -> the values of (use_ib, use_cccp, use_tadapt, use_pf), in ladder order."""

_EVERY_RUNG = ("w_ce", "w_kd", "tau_syn", "synergy_student_weight")
RUNG_KNOBS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "baseline": _EVERY_RUNG,
        "ib": (*_EVERY_RUNG, "beta"),
        "cccp": (*_EVERY_RUNG, "beta", "stages"),
        "tadapt": (*_EVERY_RUNG, "beta", "stages", "teacher_lr", "l2sp_weight"),
        "full": (*_EVERY_RUNG, "beta", "stages", "teacher_lr", "l2sp_weight", "pf_start_level"),
    }
)
"""Rung -> the ASIB settings (keys of ASIB's `search_space`) `asib-sweep tune` searches on it.

A rung tunes the student's loss weights, the synergy temperature and pull, and the knobs of
the switches it turns on (beta for the bottleneck, the number of CCCP stages (under a_phase_budget 'e2e' the A-phases take the B-phases' epochs, so a_min_steps is not read), the teachers'
learning rate and L2-SP weight for T-Adapt, the first freeze level for partial freezing): a
knob a rung's switches do not read would only spend the rung's budget on noise. Each rung
gets the same number of trials as every other arm, however many knobs it has."""

REFERENCES: tuple[str, ...] = ("ce", "avg_kd")
"""Methods run beside the ladder; their presets only set method.name."""

RUNGS: tuple[str, ...] = tuple(LADDER)
PRESETS: tuple[str, ...] = RUNGS + REFERENCES


def rung_of(switches: tuple[bool, bool, bool, bool]) -> str | None:
    """The rung whose (use_ib, use_cccp, use_tadapt, use_pf) these are, or None (not a rung)."""
    return next((rung for rung, values in LADDER.items() if values == switches), None)


def apply_preset(config: RunConfig, name: str) -> RunConfig:
    """`config` with the method and switches of preset `name`; everything else unchanged."""
    from asib_sweeps.config import ConfigError, build_config

    if name not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}; got preset={name!r}")
    data = config.model_dump()
    if name in REFERENCES:
        data["method"]["name"] = name
    else:
        data["method"]["name"] = "asib"
        data["method"]["asib"].update(zip(SWITCHES, LADDER[name], strict=True))
    return build_config(data)
