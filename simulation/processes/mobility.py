"""Moves between areas inside the city.

Rule: a household moves with ``move_rate`` x the mobility index of its head's age group (share
of adults < 5 years at their address, profile 2012, relative to all adults). It chooses another
area by the location choice (processes/location.py: free dwellings, rent relative to its income
class, the share of its origin group among the residents); areas accept movers up to their free
dwellings. Dwellings left by movers become free for the movers still searching in the next
round (a few rounds a year), so chains of moves happen and no area is ever over-filled.
A mover who finds nothing stays. Low-income households search after the others (the model
calls ``relocate`` for them second). Without a location choice, areas are drawn in proportion
to their free dwellings (x ``preference``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

from simulation.population import Population, unsigned
from simulation.processes.shared import allocate_dwellings, free_dwellings
from simulation.rates import adult_group
from simulation.vocabulary import MAX_AGE

GROUP_OF_AGE = adult_group(np.arange(MAX_AGE + 1))  # the mobility index's age group of every age


def draw_movers(pop: Population, move_rate: float, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows of households that want to move (one uniform number per household, in row order)."""
    by_age = np.minimum(1.0, move_rate * index)[GROUP_OF_AGE]
    return _draw_movers(rng.random(len(pop.households)), by_age, unsigned(pop.persons.age), unsigned(pop.head_row()))


@njit(cache=True)
def _draw_movers(u: np.ndarray, by_age: np.ndarray, age: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Rows of the households whose uniform number ``u`` is below ``by_age`` of their head's age
    (the last entry for everyone older)."""
    oldest = len(by_age) - 1
    rows = np.empty(len(head), np.int64)
    n = 0
    for h in range(len(head)):
        # every row is written, only a mover keeps its place: a branch on the draw would often
        # guess wrong
        rows[n] = h
        n += u[h] < by_age[min(age[head[h]], oldest)]
    return rows[:n]


def relocate(
    pop: Population,
    movers: np.ndarray,
    dwellings: np.ndarray,
    rng: np.random.Generator,
    rounds: int = 3,
    preference: np.ndarray | None = None,
    choose: Callable[..., np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Where movers go: returns (rows, destination areas) of those who find a dwelling, in the
    order they found one. ``choose(free, rows, own) -> areas`` is the location choice
    (processes/location.py ``chooser``); without it, ``preference`` (per area) multiplies the
    free dwellings as destination weight. The population is not changed: the model applies it."""
    area = pop.households.area  # the areas of those still waiting
    free = free_dwellings(dwellings, pop)  # as the rounds go on
    moved_rows, destinations = [], []
    waiting = movers
    for _ in range(rounds):
        if len(waiting) == 0 or free.sum() <= 0:
            break
        own = area[waiting].astype(np.int64)
        if choose is not None:
            dest = choose(free, waiting, own=own)
        else:
            weights = free.astype(float) * (1.0 if preference is None else preference)
            dest = allocate_dwellings(weights, free, len(waiting), rng, own=own)
        moved = dest >= 0
        rows, to = waiting.compress(moved), dest.compress(moved)
        moved_rows.append(rows)
        destinations.append(to)
        free += np.bincount(area[rows], minlength=len(free)) - np.bincount(to, minlength=len(free))
        waiting = waiting.compress(~moved)
    if not moved_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(moved_rows), np.concatenate(destinations)
