"""The ablation ladder: each rung adds exactly one switch, and that switch changes what trains."""

from __future__ import annotations

import itertools

import pytest
import torch

from asib_sweeps.config import ConfigError, RunConfig, default_config, flatten
from asib_sweeps.methods.asib import ASIB
from asib_sweeps.presets import LADDER, PRESETS, REFERENCES, RUNGS, apply_preset
from test_asib import build, first_plan, step

ADDED_SWITCH = {"ib": "use_ib", "cccp": "use_cccp", "tadapt": "use_tadapt", "full": "use_pf"}


def _rung(name: str) -> RunConfig:
    return apply_preset(default_config("digits"), name)


def test_order_of_the_ladder_and_the_references() -> None:
    assert RUNGS == ("baseline", "ib", "cccp", "tadapt", "full")
    assert PRESETS == (*RUNGS, "ce", "avg_kd")
    assert tuple(LADDER) == RUNGS


def test_baseline_is_e2e_without_bottleneck_fixed_teachers_no_freezing() -> None:
    asib = _rung("baseline").method
    assert asib.name == "asib"
    assert not (asib.asib.use_ib or asib.asib.use_cccp or asib.asib.use_tadapt or asib.asib.use_pf)


@pytest.mark.parametrize(("previous", "rung"), list(itertools.pairwise(RUNGS)))
def test_each_rung_adds_exactly_one_switch(previous: str, rung: str) -> None:
    before, after = flatten(_rung(previous)), flatten(_rung(rung))
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {f"method.asib.{ADDED_SWITCH[rung]}"}
    assert after[f"method.asib.{ADDED_SWITCH[rung]}"] is True


@pytest.mark.parametrize("reference", REFERENCES)
def test_reference_presets_only_set_the_method(reference: str) -> None:
    base = default_config("digits")
    before, after = flatten(base), flatten(apply_preset(base, reference))
    assert {key for key in before if before[key] != after[key]} == {"method.name"}
    assert after["method.name"] == reference


def test_presets_keep_every_other_value() -> None:
    from asib_sweeps.config import apply_overrides

    custom = apply_overrides(default_config("digits"), ["method.asib.beta=0.02", "seed=7"])
    full = apply_preset(custom, "full")
    assert (full.method.asib.beta, full.seed) == (0.02, 7)


def test_unknown_preset_names_the_allowed_ones() -> None:
    with pytest.raises(
        ConfigError, match="preset must be one of baseline, ib, cccp, tadapt, full, ce, avg_kd; got preset='nope'"
    ):
        apply_preset(default_config("digits"), "nope")


# What each switch changes in training (built on tiny models, no training run).


def test_ib_switch_turns_on_sampling_and_beta() -> None:
    for rung, samples in [("baseline", False), ("ib", True)]:
        built = build(_rung(rung))
        method = built.method.train()
        assert (method.beta_for(first_plan(method, "joint")) > 0) == samples
        terms = [step(built, first_plan(method, "joint"), student_grad=False)["syn_ce"] for _ in range(2)]
        assert (not torch.equal(*terms)) == samples, rung


def test_cccp_switch_turns_joint_epochs_into_a_and_b_phases() -> None:
    ib, cccp = build(_rung("ib")).method, build(_rung("cccp")).method
    assert {p.phase for p in ib.plan(16)} - {"W"} == {"joint"}
    assert {p.phase for p in cccp.plan(16)} - {"W"} == {"A", "B"}
    joint = [p for p in ib.plan(16) if p.phase != "W"]
    assert {ib.trained_parts(p.phase) for p in joint} == {frozenset({"student", "synergy"})}
    assert {cccp.trained_parts(p.phase) for p in cccp.plan(16)} == {frozenset({"synergy"}), frozenset({"student"})}


def test_tadapt_switch_trains_the_teachers_in_a_phases() -> None:
    cccp, tadapt = build(_rung("cccp")).method, build(_rung("tadapt")).method
    assert "teachers" not in cccp.trained_parts("A")
    assert "teachers" in tadapt.trained_parts("A")
    assert all("teachers" not in m.trained_parts("B") for m in (cccp, tadapt))


def _teacher_level_per_stage(method: ASIB, epochs: int) -> list[int]:
    levels: dict[int, int] = {}
    for plan in method.plan(epochs):
        levels.setdefault(plan.stage, plan.teacher_freeze_level)
    return [levels[stage] for stage in sorted(levels)]


def test_pf_switch_schedules_progressive_unfreezing_of_the_teachers() -> None:
    tadapt, full = build(_rung("tadapt")).method, build(_rung("full")).method
    assert default_config("digits").method.asib.stages == 4
    assert _teacher_level_per_stage(tadapt, 16) == [-1, -1, -1, -1]
    assert _teacher_level_per_stage(full, 16) == [3, 2, 1, 0]
