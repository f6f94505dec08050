"""Whether the synergy listens to the student's query: the per-epoch diagnostic, and the query_in_values option."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from asib_sweeps.methods.asib_diagnostics import attention_entropy, query_sensitivity, shuffled_queries
from asib_sweeps.methods.ib_mbm import IBMBM
from asib_sweeps.models.interface import ModelOutput


def _mbm(query_in_values: bool) -> IBMBM:
    torch.manual_seed(0)
    return IBMBM(
        teacher_dims=[6, 7], student_dim=5, dim=8, heads=2, logvar_clip=6.0, stochastic=False,
        query_in_values=query_in_values,
    ).eval()  # fmt: skip


def _without_query_path(mbm: IBMBM) -> IBMBM:
    """Zero the query projection: the query is then a constant, so attention weights and the
    residual carry nothing of the student."""
    with torch.no_grad():
        mbm.query_proj.weight.zero_()
        mbm.query_proj.bias.zero_()
    return mbm


def test_query_in_values_makes_the_code_depend_on_the_student_beyond_the_query_path() -> None:
    teachers = [torch.randn(4, 6), torch.randn(4, 7)]
    one, other = torch.randn(4, 5), torch.randn(4, 5)
    design = _without_query_path(_mbm(query_in_values=False))
    torch.testing.assert_close(design(one, teachers).mu, design(other, teachers).mu)  # the student is ignored
    variant = _without_query_path(_mbm(query_in_values=True))
    difference = (variant(one, teachers).mu - variant(other, teachers).mu).abs().max()
    assert difference > 1e-3  # the value path carries the student's feature


def test_query_in_values_off_keeps_the_design_notes_parameters() -> None:
    assert _mbm(False).value_query_proj is None
    assert set(_mbm(True).state_dict()) - set(_mbm(False).state_dict()) == {
        "value_query_proj.weight",
        "value_query_proj.bias",
    }


def test_attention_weights_are_a_distribution_over_the_teachers() -> None:
    weights = _mbm(False).attention_weights(torch.randn(4, 5), [torch.randn(4, 6), torch.randn(4, 7)])
    assert weights.shape == (4, 2)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(4))
    assert math.isclose(attention_entropy(torch.full((3, 4), 0.25)), math.log(4), rel_tol=1e-6)
    assert attention_entropy(torch.tensor([[1.0, 0.0]])) == 0.0


def _student(pooled: Tensor) -> ModelOutput:
    return ModelOutput(logits=torch.zeros(pooled.shape[0], 3), features=[], pooled=pooled)


def test_query_sensitivity_is_zero_for_a_synergy_that_ignores_the_query_and_positive_otherwise() -> None:
    student = _student(torch.eye(3))
    assert torch.equal(shuffled_queries(student).pooled, torch.eye(3).roll(1, dims=0))
    ignoring = query_sensitivity(lambda s: torch.ones(3, 3), student, tau=4.0)
    assert ignoring == {"query_kl": 0.0, "query_flips": 0.0}
    listening = query_sensitivity(lambda s: 10 * s.pooled, student, tau=1.0)
    assert listening["query_flips"] == 1.0  # each sample's arg-max follows its query
    p, q = torch.softmax(10 * torch.eye(3)[0], 0), torch.softmax(10 * torch.eye(3)[2], 0)
    assert math.isclose(listening["query_kl"], float((p * (p.log() - q.log())).sum()), rel_tol=1e-5)
