"""The plan's count proof (`split_bounds`) never vouches for a split that scikit-learn's draw would refuse.

The proof lets `--dry-run` skip scikit-learn; if it were wrong, a refused split would
surface only when the trials run. So it is checked against the runs' own draws
(`label_plan.draw`, scikit-learn) on random plans: whenever it says every seed
succeeds, several seeds are drawn for real and none may fail. It must also prove the
plans the studies make, or the dry run would import scikit-learn after all.
"""

from __future__ import annotations

import numpy as np
import pytest

from asib_sweeps.catalog.data_sources import data_source
from asib_sweeps.config import DataConfig
from asib_sweeps.data.errors import DataError
from asib_sweeps.data.label_plan import check_splits, digits_labels, draw
from asib_sweeps.data.split_bounds import every_draw_succeeds
from asib_sweeps.data.split_steps import HoldOut, KeepClasses, SplitStep, StudentSubset, split_steps

SEEDS_DRAWN = (0, 1, 2)


def random_plan(rng: np.random.Generator) -> tuple[np.ndarray, tuple[SplitStep, ...]]:
    """Labels of 2-8 classes with 1-40 images each (some near every refusal), and a run's steps over them."""
    classes = int(rng.integers(2, 9))
    counts = rng.integers(1, 41, size=classes)
    counts[rng.random(classes) < 0.3] = rng.integers(1, 5)  # a few tiny classes, near the 2-image floor
    labels = np.repeat(np.arange(classes), counts)
    steps: list[SplitStep] = []
    if rng.random() < 0.6:
        steps.append(HoldOut(float(rng.uniform(0.02, 0.9)), "data.test_fraction"))
    if rng.random() < 0.3:
        keep = rng.choice(classes, size=int(rng.integers(1, classes + 1)), replace=False)
        steps.append(KeepClasses(tuple(int(label) for label in sorted(keep))))
    if rng.random() < 0.8:
        steps.append(HoldOut(float(rng.uniform(0.02, 0.6)), "data.val_fraction"))
    if rng.random() < 0.7:
        steps.append(StudentSubset(int(rng.integers(1, len(labels) + 1))))
    return labels, tuple(steps)


def draws_for_every_seed(labels: np.ndarray, steps: tuple[SplitStep, ...]) -> bool:
    try:
        for seed in SEEDS_DRAWN:
            draw(labels, steps, seed=seed)
    except DataError:
        return False
    return True


def test_whatever_the_counts_prove_every_seed_draws():
    rng = np.random.default_rng(20261204)
    proven = refused = 0
    for _ in range(600):
        labels, steps = random_plan(rng)
        counts = dict(enumerate(np.bincount(labels).tolist()))
        drawn = draws_for_every_seed(labels, steps)
        if every_draw_succeeds(counts, steps):
            proven += 1
            assert drawn, f"proven but refused: counts {counts}, steps {steps}"
        refused += not drawn
    assert proven >= 100, f"the proof vouched for only {proven} of 600 plans: it would rarely spare scikit-learn"
    assert refused >= 100, f"only {refused} of 600 plans were refused: the test barely probes the refusals"


@pytest.mark.parametrize(
    ("steps", "proven"),
    [
        ((HoldOut(0.5, "k"),), True),
        ((HoldOut(0.1, "k"),), False),  # 2 held out of 20, fewer than 3 classes
        ((StudentSubset(3),), True),
        ((StudentSubset(2),), False),  # fewer images than classes
        ((StudentSubset(18),), False),  # 2 left over, fewer than 3 classes
        ((StudentSubset(20),), True),  # all of them: nothing is drawn
        ((KeepClasses((0, 1)), StudentSubset(2)), True),
        ((HoldOut(0.5, "k"), HoldOut(0.5, "k"), HoldOut(0.5, "k")), False),  # classes of ~1 image left
    ],
)
def test_the_proof_on_hand_checked_plans(steps, proven):
    """Three classes of 6, 7 and 7 images: each refusal reason, and its edge, by hand."""
    counts = {0: 6, 1: 7, 2: 7}
    assert every_draw_succeeds(counts, steps) is proven
    labels = np.repeat(np.arange(3), [6, 7, 7])
    if proven:
        assert draws_for_every_seed(labels, steps)


def test_a_class_below_two_images_is_never_proven():
    assert not every_draw_succeeds({0: 1, 1: 50}, (HoldOut(0.5, "k"),))
    assert every_draw_succeeds({0: 1, 1: 50}, ())  # no draw, nothing to refuse


def test_the_digits_record_states_scikit_learns_class_counts():
    labels = digits_labels(DataConfig(dataset="digits"))
    assert data_source("digits").class_counts == tuple(np.bincount(labels).tolist())


@pytest.mark.parametrize(
    "changes",
    [{}, {"student_train_size": 150}, {"classes": [0, 3, 5]}, {"val_fraction": 0.0}, {"test_fraction": 0.5}],
    ids=str,
)
def test_the_digits_plans_are_proven_and_draw(changes):
    """The studies' digits plans need no scikit-learn at plan time, and the runs do draw them."""
    data = DataConfig(**{"dataset": "digits", "student_train_size": 300, **changes})
    source = data_source("digits")
    steps = split_steps(data, own_test_split=source.own_test_split)
    assert every_draw_succeeds(dict(enumerate(source.class_counts)), steps)
    assert draws_for_every_seed(digits_labels(data), steps)
    assert check_splits(data)


def test_an_unproven_plan_is_refused_by_the_exact_draw_naming_its_key():
    with pytest.raises(DataError, match="data.val_fraction=0.001"):
        check_splits(DataConfig(dataset="digits", val_fraction=0.001))
