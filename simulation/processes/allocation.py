"""Capacity-limited choice of destination areas, shared by in-migration and moves.

Each household draws an area with probability proportional to ``weights`` among areas with
free dwellings (and not its own area, for moves). Areas accept applicants in random order up to
their free dwellings; the rejected draw again among areas still free, for a few rounds. Who is
left gets -1 (no dwelling found).
"""

from __future__ import annotations

import numpy as np

ROUNDS = 6


def allocate(weights: np.ndarray, capacity: np.ndarray, n: int, rng: np.random.Generator, own: np.ndarray | None = None) -> np.ndarray:
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
        order = order[valid[order]]
        by_area = order[np.argsort(choice[order], kind="stable")]
        areas = choice[by_area]
        first = np.searchsorted(areas, areas)
        rank = np.arange(len(areas)) - first
        accepted = by_area[rank < free[areas]]
        dest[waiting[accepted]] = choice[accepted]
        free -= np.bincount(choice[accepted], minlength=len(free))
        waiting = waiting[dest[waiting] < 0]
    return dest
