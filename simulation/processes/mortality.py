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
    q = np.minimum(1.0, death_prob.lookup(p.sex, p.age) * factor)
    return rng.random(len(p)) < q


def count_widowed(pop: Population, dead: np.ndarray) -> int:
    """Couples in which exactly one partner dies this year (the survivor is widowed)."""
    p = pop.persons
    in_couple = (p.role == HEAD) | (p.role == PARTNER)
    partners = np.bincount(p.hh[p.role == PARTNER], minlength=len(pop.households)) > 0
    dying = np.bincount(p.hh[dead & in_couple], minlength=len(pop.households))
    return int((partners & (dying == 1)).sum())
