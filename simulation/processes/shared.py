"""Helpers shared by the event processes (processes never import one another, only this)."""

from __future__ import annotations

import numpy as np

from simulation.population import Population
from simulation.rates import adult_group


def free_dwellings(dwellings: np.ndarray, pop: Population) -> np.ndarray:
    """Dwellings per area not occupied by a household (negative where over-occupied)."""
    return dwellings - pop.households_per_area()


def by_head_age_group(pop: Population, values: np.ndarray) -> np.ndarray:
    """Per household: ``values[adult_group(age of its head)]`` (e.g. the mobility index)."""
    age = np.take(pop.persons.age, pop.head_row())
    return np.take(values[adult_group(np.arange(int(age.max(initial=0)) + 1))], age)


def first_k_per_group(group: np.ndarray, order: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Positions of the first ``k[g]`` entries of every group ``g``, taking entries in ``order``.

    ``group``: the group of each entry (an area: 0 <= group < len(k) <= MAX_AREAS); ``order``:
    positions in the order in which entries come (a random permutation, or a ranking by
    priority); ``k``: places per group. Returns the accepted positions, grouped by group and in
    ``order`` within a group.
    """
    # a stable sort of small integers (a radix sort for int16)
    ranked = order[np.argsort(group[order].astype(np.int16), kind="stable")]
    groups = group[ranked]
    per_group = np.bincount(groups, minlength=len(k))
    rank = np.arange(len(ranked)) - (np.cumsum(per_group) - per_group)[groups]
    return ranked[rank < k[groups]]


ROUNDS = 6


def allocate_dwellings(
    weights: np.ndarray, capacity: np.ndarray, n: int, rng: np.random.Generator, own: np.ndarray | None = None
) -> np.ndarray:
    """Destination area per household, or -1 (no dwelling found); used by in-migration, moves and
    displacement.

    Each household draws an area with probability proportional to ``weights`` among areas with
    free dwellings (and not its own area, for moves). Areas accept applicants in random order up to
    their free dwellings; the rejected draw again among areas still free, for a few rounds. Who is
    left gets -1 (no dwelling found).
    """
    dest = np.full(n, -1, np.int64)
    free = np.asarray(capacity, np.int64).clip(min=0).copy()
    waiting = np.arange(n)
    for _ in range(ROUNDS):
        w = np.where(free > 0, weights, 0.0)
        if len(waiting) == 0 or w.sum() <= 0:
            break
        choice = rng.choice(len(w), size=len(waiting), p=w / w.sum())
        valid = np.ones(len(waiting), bool) if own is None else choice != own[waiting]
        order = rng.permutation(len(waiting))
        accepted = first_k_per_group(choice, order[valid[order]], free)
        dest[waiting[accepted]] = choice[accepted]
        free -= np.bincount(choice[accepted], minlength=len(free))
        waiting = waiting[dest[waiting] < 0]
    return dest
