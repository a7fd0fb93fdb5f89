"""Household transitions: children leave home, couples form, couples separate.

Widowhood needs no event of its own: when a partner dies, ``Population`` makes the survivor
head of the household (see mortality, which counts the widowed). All hazards are scenario assumptions (no Frankfurt data).

- leave home: a 'child' member aged at least ``leave_home_min_age`` leaves with ``leave_home_rate``
  per year and founds a one-person household in the same area (income class of the parents).
- couple formation: a person living alone aged 18..``couple_max_age`` seeks a partner with
  ``couple_formation_rate``; seekers of the same area pair woman-man by rank of age, and pairs
  more than ``couple_max_age_gap`` years apart do not form; one of the two (by coin flip) moves
  into the other's household.
- separation: a couple separates with ``separation_rate``; where there are children the man
  leaves with the share of single parents who are mothers (90.9 %, Frankfurt 2022), otherwise
  either partner with equal chance. The leaver founds a one-person household in the same area.

A new household needs a free dwelling in its area: where there are fewer free dwellings than
people who want to found a household, a random subset of them does so this year and the others
stay where they are (they may try again next year).
"""

from __future__ import annotations

import numpy as np

from simulation.population import Population
from simulation.processes.shared import first_k_per_group, free_dwellings
from simulation.vocabulary import CHILD, FEMALE, MALE, PARTNER


def leave_home(pop: Population, rate: float, min_age: int, dwellings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Person rows of the children who leave home this year (each founds a one-person household)."""
    p = pop.persons
    candidates = np.flatnonzero((p.role == CHILD) & (p.age >= min_age))
    leavers = candidates.compress(rng.random(len(candidates)) < rate)
    return _within_free_dwellings(pop, leavers, dwellings, rng)


def form_couples(pop: Population, rate: float, max_age: int, max_gap: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """New couples: (movers, stayers) person rows; each mover joins the stayer's household as partner."""
    p = pop.persons
    seekers = pop.head_row().compress(pop.size() == 1)
    age = p.age.take(seekers)
    seekers = seekers.compress((age >= 18) & (age <= max_age))
    seekers = seekers.compress(rng.random(len(seekers)) < rate)
    women, men = _pair_by_age_within_area(pop, seekers)
    close = np.abs(p.age[women].astype(np.int64) - p.age[men]) <= max_gap
    women, men = women[close], men[close]
    if len(women) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    woman_moves = rng.random(len(women)) < 0.5
    return np.where(woman_moves, women, men), np.where(woman_moves, men, women)


def _pair_by_age_within_area(pop: Population, seekers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair the i-th youngest woman with the i-th youngest man of the same area (equal ages in
    the order of ``seekers``); returns (women, men), area by area."""
    p = pop.persons
    area = pop.area_of(seekers)
    sex = p.sex[seekers]
    female, male = sex == FEMALE, sex == MALE
    women, men, w_area, m_area = seekers.compress(female), seekers.compress(male), area.compress(female), area.compress(male)
    pairs = np.minimum(np.bincount(w_area, minlength=pop.n_areas), np.bincount(m_area, minlength=pop.n_areas))
    women = women[first_k_per_group(w_area, np.argsort(p.age[women], kind="stable"), pairs)]
    men = men[first_k_per_group(m_area, np.argsort(p.age[men], kind="stable"), pairs)]
    return women, men


def separate(
    pop: Population, rate: float, mother_share: float, dwellings: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Separating couples: (leavers, stayers) person rows; the stayer heads the household, the
    leaver founds a one-person household."""
    p = pop.persons
    partner_rows = np.flatnonzero(p.role == PARTNER)
    partner_of = np.full(len(pop.households), -1, np.int64)
    partner_of[p.hh[partner_rows]] = partner_rows
    couples = np.flatnonzero(partner_of >= 0)
    couples = couples.compress(rng.random(len(couples)) < rate)
    couples = couples[_within_free_dwellings(pop, pop.head_row()[couples], dwellings, rng, positions=True)]
    if len(couples) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    head = pop.head_row()[couples]
    partner = partner_of[couples]
    with_children = np.bincount(p.hh.compress(p.role == CHILD), minlength=len(pop.households))[couples] > 0
    man_leaves = rng.random(len(couples)) < np.where(with_children, mother_share, 0.5)
    head_is_man = p.sex[head] == MALE
    head_leaves = man_leaves == head_is_man
    return np.where(head_leaves, head, partner), np.where(head_leaves, partner, head)


def _within_free_dwellings(
    pop: Population, persons: np.ndarray, dwellings: np.ndarray, rng: np.random.Generator, positions: bool = False
) -> np.ndarray:
    """A random subset of ``persons`` with at most as many per area as the area has free dwellings.

    Returns the persons kept, or with ``positions`` their positions in ``persons``.
    """
    area = pop.area_of(persons).astype(np.int64)
    free = free_dwellings(dwellings, pop).clip(min=0)
    kept = np.sort(first_k_per_group(area, rng.permutation(len(persons)), free))
    return kept if positions else persons[kept]
