"""Deaths: each person dies in the year with the life-table probability for sex and age.

Rule: Bernoulli(q) with q from ``rates.death_probabilities`` (Destatis 12621-0001), times the
scenario's mortality factor. Households of the dead are repaired by ``Population``: a partner or
the oldest member becomes head (widowhood), empty households dissolve.
"""

from __future__ import annotations

import numpy as np

from simulation.population import Population
from simulation.rates import RateTable
from simulation.vocabulary import HEAD, PARTNER


def draw_deaths(pop: Population, death_prob: RateTable, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Mask of persons who die this year."""
    p = pop.persons
    # the probabilities of both sexes at every age present, then one gather per person
    ages = np.arange(int(p.age.max(initial=0)) + 1, dtype=np.int16)
    q = np.minimum(1.0, death_prob.lookup(np.arange(2)[:, None], ages) * factor)
    return rng.random(len(p)) < np.take(q, p.sex * np.int16(len(ages)) + p.age)


def count_widowed(pop: Population, dead: np.ndarray) -> int:
    """Couples in which exactly one partner dies this year (the survivor is widowed)."""
    p = pop.persons
    dying = np.flatnonzero(dead)
    in_couple = dying[(p.role[dying] == HEAD) | (p.role[dying] == PARTNER)]
    dying_per_household = np.bincount(p.hh[in_couple], minlength=len(pop.households))
    return int(((pop.role_counts()[:, PARTNER] > 0) & (dying_per_household == 1)).sum())
