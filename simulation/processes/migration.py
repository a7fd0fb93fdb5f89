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

import numpy as np

from simulation import population
from simulation.processes.allocation import allocate
from simulation.rates import adult_group


def emigration_scale(pop: population.Population, index: np.ndarray, rate_per_person: float) -> float:
    """Base probability b so that sum over households of size x b x index[group(head)] = rate x persons."""
    size = pop.size()
    weight = index[adult_group(pop.persons.age[pop.head_row()])]
    return rate_per_person * size.sum() / max((size * weight).sum(), 1e-12)


def draw_emigrants(pop: population.Population, base: float, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mask of households that leave the city."""
    prob = np.minimum(1.0, base * index[adult_group(pop.persons.age[pop.head_row()])])
    return rng.random(len(pop.households)) < prob


def immigrate(pop: population.Population, persons: float, index: np.ndarray, origin_weights: np.ndarray, family_weight: float,
              area_weights: np.ndarray, capacity: np.ndarray, year: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Add newcomer households; returns (new household rows, persons who found no dwelling)."""
    target = int(round(persons))
    if target <= 0 or len(pop.households) == 0:
        return np.zeros(0, np.int64), 0
    head = pop.head_row()
    size = pop.size()
    with_children = np.bincount(pop.persons.hh[pop.persons.age < 18], minlength=len(size)) > 0
    weight = index[adult_group(pop.persons.age[head])] * origin_weights[pop.persons.origin[head]] * np.where(with_children, family_weight, 1.0)
    mean_size = float((weight * size).sum() / weight.sum())
    draws = rng.choice(len(weight), size=int(target / mean_size * 1.2) + 10, p=weight / weight.sum())
    total = np.cumsum(size[draws])
    templates = draws[: int(np.searchsorted(total, target)) + 1]
    dest = allocate(area_weights, capacity, len(templates), rng)
    housed = dest >= 0
    unhoused = int(size[templates[~housed]].sum())
    templates, dest = templates[housed], dest[housed]
    rows = _copy_households(pop, templates, dest, year, rng)
    return rows, unhoused


def _copy_households(pop: population.Population, templates: np.ndarray, dest: np.ndarray, year: int, rng: np.random.Generator) -> np.ndarray:
    """New households in ``dest`` with the members' ages, sexes, origins and roles of ``templates``,
    arriving in ``year``."""
    h = pop.households
    rows = pop.add_households(dest, h.income[templates], np.zeros(len(templates), np.int16))
    p = pop.persons
    # members of the drawn templates only, ordered by household (a small subset of all persons)
    drawn = np.zeros(len(h), bool)
    drawn[templates] = True
    members = np.flatnonzero(drawn[p.hh])
    members = members[np.argsort(p.hh[members], kind="stable")]
    starts = np.searchsorted(p.hh[members], templates)
    counts = np.bincount(p.hh[members], minlength=len(h))[templates]
    member = members[np.repeat(starts, counts) + _ragged_arange(counts)]
    new_hh = np.repeat(rows, counts)
    n = len(member)
    pop.add_persons(p.age[member], p.sex[member], p.origin[member], new_hh, p.role[member],
                    np.full(n, year, np.int16), rng.integers(0, 2**32, n, dtype=np.uint32))
    return rows


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """[0..c0-1, 0..c1-1, ...] for counts c."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts, counts)
