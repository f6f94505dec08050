"""Pairing the feature stages of two networks by relative depth (used by FitNet and AT).

Networks in the zoo have different stage counts (e.g. 3 for CIFAR ResNets, 4-5 for
VGGs). A stage i of n ends at relative depth (i + 1) / n; the stage of the other
network "at the same depth" is the one whose span ((j) / m, (j + 1) / m] contains that
point. Last stages always pair, and with equal counts stage i pairs with stage i.
"""

from __future__ import annotations

def stage_at_same_depth(index: int, count: int, other_count: int) -> int:
    """The stage of a network with `other_count` stages at the depth where stage `index` of `count` ends."""
    if not 0 <= index < count:
        raise ValueError(f"stage index must be in 0..{count - 1}; got index={index}")
    return -(-(index + 1) * other_count // count) - 1  # ceil((index + 1) * other / count) - 1, in integers


def paired_stages(student_count: int, teacher_count: int) -> list[tuple[int, int]]:
    """(student stage, teacher stage) pairs, one per stage of the shallower network.

    Iterating over the network with fewer stages uses each of its stages once and never
    pairs one stage with two, so every pair compares maps of distinct depths.
    """
    if student_count <= teacher_count:
        return [(i, stage_at_same_depth(i, student_count, teacher_count)) for i in range(student_count)]
    return [(stage_at_same_depth(j, teacher_count, student_count), j) for j in range(teacher_count)]
