"""Household transitions: children leave home, couples form, couples separate.

Widowhood needs no event of its own: when a partner dies, ``Population`` makes the survivor
head of the household (see mortality, which counts the widowed). All hazards are scenario
assumptions or fitted (no Frankfurt data on transitions; see scenarios/baseline.toml).

- leave home: a 'child' member aged at least ``leave_home_min_age`` leaves with ``leave_home_rate``
  per year and founds a one-person household in the same area (income class of the parents).
- couple formation: a person living alone aged 18..``couple_max_age`` seeks a partner with the
  rate of the age band (``couple_formation_rate`` 18-34, ``couple_formation_rate_35_44``,
  ``couple_formation_rate_45_plus``), a single parent of that age (head of a household of only
  the parent and children) with ``repartnering_rate``; seekers of the same area pair woman-man
  by rank of age, and pairs more than ``couple_max_age_gap`` years apart or of two single
  parents do not form. The partner who lives alone moves into the other's household (both alone: coin flip), so
  a single parent's household becomes a couple with children.
- separation: a couple separates with ``separation_rate`` (``separation_rate_60_plus`` where the
  head is 60 or older: late divorces are rare); where there are children the man
  leaves with the share of single parents who are mothers (90.9 %, Frankfurt 2022), otherwise
  either partner with equal chance. The leaver founds a one-person household in the same area.

A new household needs a free dwelling in its area: where there are fewer free dwellings than
people who want to found a household, a random subset of them does so this year and the others
stay where they are (they may try again next year).

``composition`` counts households as the city's statistics do (families with minors).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulation.population import Population, unsigned
from simulation.processes.shared import first_k_per_group, free_dwellings
from simulation.vocabulary import CHILD, FEMALE, HOUSEHOLD_TYPES, MALE, MAX_AGE, PARTNER

# the age of the head from which couples separate with ``separation_rate_60_plus``
SEPARATION_OLDER_AGE = 60

SINGLE_PARENT = HOUSEHOLD_TYPES.index("single_parent")
# the household statistics' names of the household types
STATISTICS_NAMES = {
    "single": "one_person",
    "couple": "couple_without_minors",
    "couple_with_children": "couple_with_minors",
    "single_parent": "single_parent_with_minors",
    "other": "other",
}


def leave_home(pop: Population, rate: float, min_age: int, dwellings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Person rows of the children who leave home this year (each founds a one-person household)."""
    p = pop.persons
    candidates = np.flatnonzero((p.role == CHILD) & (p.age >= min_age))
    leavers = candidates.compress(rng.random(len(candidates)) < rate)
    return within_free_dwellings(pop, leavers, dwellings, rng)


def rate_by_age(rates: dict[int, float], max_age: int) -> np.ndarray:
    """Hazard by single age 0..MAX_AGE from {lowest age of a band: rate}: each band runs to the next
    band's lowest age; 0 below the first band and above ``max_age``."""
    out = np.zeros(MAX_AGE + 1)
    for lo, rate in sorted(rates.items()):
        out[lo:] = rate
    out[: min(rates)] = 0.0
    out[max_age + 1 :] = 0.0
    return out


def form_couples(
    pop: Population, rate: float | np.ndarray, max_age: int, max_gap: int, rng: np.random.Generator, repartnering_rate: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """New couples: (movers, stayers) person rows; each mover joins the stayer's household as partner.

    Seekers: heads aged 18..``max_age`` of one-person households (chance ``rate``, a number or an
    array by age, see ``rate_by_age``) and of single-parent households (chance
    ``repartnering_rate``). The mover is the one living alone."""
    p = pop.persons
    heads = pop.head_row()
    alone_rate = np.broadcast_to(np.asarray(rate, float), (MAX_AGE + 1,))
    candidates, hazard, parent = _candidates(heads, p.age, pop.size(), pop.household_type(), max_age, alone_rate, repartnering_rate)
    seeking = candidates.compress(rng.random(len(candidates)) < hazard)
    women, men = _pair_by_age_within_area(pop, heads.take(seeking))
    woman_parent, man_parent = parent[p.hh[women]] == 1, parent[p.hh[men]] == 1
    form = (np.abs(p.age[women].astype(np.int64) - p.age[men]) <= max_gap) & ~(woman_parent & man_parent)
    women, men, woman_parent, man_parent = women[form], men[form], woman_parent[form], man_parent[form]
    if len(women) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    woman_moves = np.where(woman_parent | man_parent, man_parent, rng.random(len(women)) < 0.5)
    return np.where(woman_moves, women, men), np.where(woman_moves, men, women)


@njit(cache=True)
def _candidates(heads, age, size, kind, max_age, alone_rate, repartnering_rate):
    """The households whose head (aged 18..``max_age``) may seek a partner, in row order, with the
    head's chance: ``alone_rate`` by age where the head lives alone, ``repartnering_rate`` in a
    single-parent household; and per household whether it is such a single-parent household."""
    candidates = np.empty(len(heads), np.int64)
    hazard = np.empty(len(heads))
    parent = np.zeros(len(heads), np.int8)
    rows = unsigned(heads)
    n = 0
    for h in range(len(heads)):
        a = age[rows[h]]
        if a < 18 or a > max_age:
            continue
        if size[h] == 1:
            hazard[n] = alone_rate[min(a, MAX_AGE)]
        elif kind[h] == SINGLE_PARENT:
            hazard[n] = repartnering_rate
            parent[h] = 1
        else:
            continue
        candidates[n] = h
        n += 1
    return candidates[:n], hazard[:n], parent


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
    pop: Population, rate: float, mother_share: float, dwellings: np.ndarray, rng: np.random.Generator, rate_60_plus: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Separating couples: (leavers, stayers) person rows; the stayer heads the household, the
    leaver founds a one-person household. ``rate_60_plus`` (default: ``rate``) applies where the
    head is 60 or older."""
    p = pop.persons
    partner_of, has_child = _partners_and_children(p.hh, p.role, len(pop.households))
    couples, hazard = _couples(partner_of, pop.head_row(), p.age, rate, rate if rate_60_plus is None else rate_60_plus)
    couples = couples.compress(rng.random(len(couples)) < hazard)
    couples = couples[within_free_dwellings(pop, pop.head_row()[couples], dwellings, rng, positions=True)]
    if len(couples) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    head = pop.head_row()[couples]
    partner = partner_of[couples]
    with_children = has_child[couples] == 1
    man_leaves = rng.random(len(couples)) < np.where(with_children, mother_share, 0.5)
    head_is_man = p.sex[head] == MALE
    head_leaves = man_leaves == head_is_man
    return np.where(head_leaves, head, partner), np.where(head_leaves, partner, head)


@njit(cache=True)
def _partners_and_children(hh, role, n_households):
    """Per household: the row of its partner (-1 for none), and whether a child lives in it."""
    partner_of = np.full(n_households + 1, -1, np.int64)  # the last slot takes everyone else's row
    has_child = np.zeros(n_households, np.int8)
    rows = unsigned(hh)
    for row in range(len(hh)):
        h = rows[row]
        partner_of[h if role[row] == PARTNER else n_households] = row
        has_child[h] |= np.int8(role[row] == CHILD)
    return partner_of[:n_households], has_child


@njit(cache=True)
def _couples(partner_of, head, age, rate, rate_older):
    """The households with a partner, in row order, with their chance of separating: ``rate``,
    ``rate_older`` where the head is SEPARATION_OLDER_AGE or older."""
    couples = np.empty(len(partner_of), np.int64)
    hazard = np.empty(len(partner_of))
    rows = unsigned(head)
    n = 0
    for h in range(len(partner_of)):
        if partner_of[h] >= 0:
            couples[n] = h
            hazard[n] = rate_older if age[rows[h]] >= SEPARATION_OLDER_AGE else rate
            n += 1
    return couples[:n], hazard[:n]


def within_free_dwellings(
    pop: Population, persons: np.ndarray, dwellings: np.ndarray, rng: np.random.Generator, positions: bool = False
) -> np.ndarray:
    """A random subset of ``persons`` with at most as many per area as the area has free dwellings.

    Returns the persons kept, or with ``positions`` their positions in ``persons``.
    """
    area = pop.area_of(persons).astype(np.int64)
    free = free_dwellings(dwellings, pop).clip(min=0)
    kept = np.sort(first_k_per_group(area, rng.permutation(len(persons)), free))
    return kept if positions else persons[kept]


def composition(pop: Population) -> dict[str, int]:
    """Households by type as the city's household statistics count them (families with minors):
    ``Population.household_type`` under the statistics' names (``one_person``,
    ``couple_without_minors`` (also with adult children), ``couple_with_minors``,
    ``single_parent_with_minors``, ``other``: a parent with adult children, flat shares, households
    whose minors are not the head's children). Also the households by size (1, 2, 3, 4 and more)
    and the households with any member under 18.
    """
    p = pop.persons
    n = len(pop.households)
    size = pop.size()
    types = np.bincount(pop.household_type(), minlength=len(HOUSEHOLD_TYPES))
    any_minor = np.bincount(p.hh.compress(p.age < 18), minlength=n) > 0
    return {
        "households": n,
        "persons": len(p),
        **{STATISTICS_NAMES[t]: int(types[i]) for i, t in enumerate(HOUSEHOLD_TYPES)},
        "size_2": int((size == 2).sum()),
        "size_3": int((size == 3).sum()),
        "size_4_plus": int((size >= 4).sum()),
        "with_minors": int(any_minor.sum()),
    }
