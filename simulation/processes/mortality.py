"""Deaths: each person dies in the year with the life-table probability for sex and age.

Rule: Bernoulli(q) with q from ``rates.death_probabilities`` (Destatis 12621-0001), times the
scenario's mortality factor. Households of the dead are repaired by ``Population``: a partner or
the oldest member becomes head (widowhood), empty households dissolve.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from simulation.population import Population, unsigned
from simulation.rates import RateTable
from simulation.vocabulary import HEAD, PARTNER


class Deaths(NamedTuple):
    dead: np.ndarray  # mask of persons who die this year
    per_area: np.ndarray  # deaths per area (int64, n_areas)
    widowed: int  # couples in which exactly one partner dies (the survivor is widowed)


@njit(cache=True)
def _die(rng, q, sex, age, hh, role, area, n_areas):
    """Person i dies if the next uniform number of ``rng`` (one per person, in row order) is below
    ``q[sex[i], age[i]]``; counts the dead per area of their household and the couples
    (households with a partner) of which exactly one of head and partner dies. A second pass over
    the persons looks for partners only where a head dies alone."""
    n_households = len(area)
    dead = np.empty(len(hh), np.bool_)
    per_area = np.zeros(n_areas, np.int64)
    dying = np.zeros(n_households, np.int8)  # heads and partners who die, per household
    partner_dies = np.zeros(n_households, np.bool_)
    rows, sexes, ages = unsigned(hh), unsigned(sex), unsigned(age)
    for i in range(len(hh)):
        d = rng.random() < q[sexes[i], ages[i]]
        dead[i] = d
        if d:
            h = rows[i]
            per_area[area[h]] += 1
            if role[i] == HEAD or role[i] == PARTNER:
                dying[h] += 1
                partner_dies[h] |= role[i] == PARTNER
    widowed = 0
    head_alone = np.zeros(n_households, np.bool_)  # the head dies, no partner does
    for h in range(n_households):
        alone = dying[h] == 1
        widowed += alone & partner_dies[h]
        head_alone[h] = alone & ~partner_dies[h]
    for i in range(len(hh)):
        if head_alone[rows[i]] and role[i] == PARTNER:
            head_alone[rows[i]] = False
            widowed += 1
    return dead, per_area, widowed


def die(pop: Population, death_prob: RateTable, factor: float, rng: np.random.Generator) -> Deaths:
    """Who dies this year (one uniform per person, in row order), counted per area and in widowed couples."""
    p = pop.persons
    # the probabilities of both sexes at every age present
    ages = np.arange(int(p.age.max(initial=0)) + 1, dtype=np.int16)
    q = np.minimum(1.0, death_prob.lookup(np.arange(2)[:, None], ages) * factor)
    # the compiled pass draws from rng itself: the numbers of rng.random(len(p)), without the array
    dead, per_area, widowed = _die(rng, np.ascontiguousarray(q, np.float64), p.sex, p.age, p.hh, p.role, pop.households.area, pop.n_areas)
    return Deaths(dead, per_area, int(widowed))


def draw_deaths(pop: Population, death_prob: RateTable, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Mask of persons who die this year."""
    return die(pop, death_prob, factor, rng).dead
