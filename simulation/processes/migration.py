"""Moves across the city boundary.

Out-migration: whole households leave with a probability by the head's age group, shaped by
the mobility index (share of adults < 5 years at their address, profile 2012) and scaled so
that the expected number of persons leaving equals ``rate_per_1000`` of residents (Frankfurt
2010: 49,400 out-moves, statistik; see calibration/data/PROVENANCE.md).

In-migration: ``persons_per_year`` persons arrive (scenario). Their households copy the make-up
(ages, sexes, origins, roles) of template households drawn from the current population with
weight = mobility index of the head's age group x ``origin_weights`` of the head's origin x
``family_weight`` for households with children (scenario; e.g. a wave of refugee families), so
that the age profile of newcomers follows the profile of recent movers. Destinations: areas in
proportion to their newcomers in 2012 (adults < 5 years at address), limited by the free
dwellings above the area's fluctuation reserve (the model passes that capacity).
Arrivals who find no dwelling do not come; they are reported as ``unhoused``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.population import Population
from simulation.processes.shared import allocate_dwellings, by_head_age_group


def emigration_scale(pop: Population, index: np.ndarray, rate_per_person: float) -> float:
    """Base probability b so that sum over households of size x b x index[group(head)] = rate x persons."""
    size = pop.size()
    weight = by_head_age_group(pop, index)
    return rate_per_person * size.sum() / max((size * weight).sum(), 1e-12)


def draw_emigrants(pop: Population, base: float, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mask of households that leave the city."""
    prob = np.minimum(1.0, base * by_head_age_group(pop, index))
    return rng.random(len(pop.households)) < prob


@dataclass(frozen=True)
class Arrivals:
    """Newcomer households of the year: copies of ``templates`` moving into ``dest``."""

    templates: np.ndarray  # household rows whose members' make-up the newcomers copy
    dest: np.ndarray  # destination area per new household
    draw: np.ndarray  # the newcomers' fixed random numbers (one per person, uint32)
    unhoused: int  # persons who found no dwelling and do not come


def immigrate(
    pop: Population,
    persons: float,
    index: np.ndarray,
    origin_weights: np.ndarray,
    family_weight: float,
    area_weights: np.ndarray,
    capacity: np.ndarray,
    rng: np.random.Generator,
) -> Arrivals:
    """Who arrives this year and where (rules in the module docstring); the model adds them."""
    target = int(round(persons))
    if target <= 0 or len(pop.households) == 0:
        return Arrivals(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint32), 0)
    size = pop.size()
    weight = _template_weights(pop, index, origin_weights, family_weight)
    mean_size = float((weight * size).sum() / weight.sum())
    draws = _weighted_choice(rng, weight, int(target / mean_size * 1.2) + 10)
    total = np.cumsum(size[draws])
    templates = draws[: int(np.searchsorted(total, target)) + 1]
    dest = allocate_dwellings(area_weights, capacity, len(templates), rng)
    housed = dest >= 0
    unhoused = int(size[templates.compress(~housed)].sum())
    templates, dest = templates.compress(housed), dest.compress(housed)
    draw = rng.integers(0, 2**32, int(size[templates].sum()), dtype=np.uint32)
    return Arrivals(templates, dest, draw, unhoused)


def _template_weights(pop: Population, index: np.ndarray, origin_weights: np.ndarray, family_weight: float) -> np.ndarray:
    """Per household: index[age group of the head] x origin_weights[origin of the head] x
    family_weight if a member is under 18 (multiplied in this order); a factor that is 1 for
    every household is not applied (it changes no weight)."""
    p = pop.persons
    weight = by_head_age_group(pop, index)
    if np.any(origin_weights != 1.0):
        weight *= np.take(origin_weights, np.take(p.origin, pop.head_row()))
    if family_weight != 1.0:
        with_children = np.bincount(np.compress(p.age < 18, p.hh), minlength=len(weight)) > 0
        weight *= np.where(with_children, family_weight, 1.0)
    return weight


def _weighted_choice(rng: np.random.Generator, weight: np.ndarray, n: int) -> np.ndarray:
    """``rng.choice(len(weight), n, p=weight / weight.sum())``: the same numbers from the same draws
    (n uniform numbers looked up in the cumulative distribution), without the checks of ``p`` and
    with the numbers looked up roughly in ascending order (by their first 16 bits, a radix sort),
    which is faster in a long distribution; the order changes no result."""
    cdf = np.divide(weight, weight.sum())
    np.cumsum(cdf, out=cdf)
    cdf /= cdf[-1]
    uniform = rng.random(n)
    order = np.argsort((uniform * 2.0**16).astype(np.uint16), kind="stable")
    out = np.empty(n, np.int64)
    out[order] = cdf.searchsorted(uniform[order], side="right")
    return out
