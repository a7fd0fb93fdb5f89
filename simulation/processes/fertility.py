"""Births: women bear a child with the age-specific fertility rate of the year.

Rule: Bernoulli(ASFR(age) x factor) per woman on average over the women of an age (Destatis
12612-0008, year-of-birth method, so the age is the one reached in the year). With
``without_partner_share`` the chance depends on partnership: a woman living with a partner (she
is a partner, or heads a household with one) has the chance f(a), a woman without one k x f(a);
f(a) keeps the expected births of every age at ASFR(a) x factor x women(a), and k is set each year
so that the share of births to women without a partner is ``without_partner_share`` (a scenario
assumption: no data on it in calibration/data).

The newborn joins the mother's household: as 'child' where the mother heads it or is the
partner, else as 'other'; see ``leave_with_newborn`` for adult mothers living as someone's
child or in a shared flat. Sex from the share of boys among German births (12612-0001); origin:
'none' for a mother without migration background, otherwise 'foreign' with the 2012 share of
foreigners among young children with migration background, else 'german_mb'. Newborns then die
in their first year with 1 - L(0)/l(0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from simulation.population import Population, unsigned
from simulation.processes.shared import pairwise_sum
from simulation.rates import RateTable
from simulation.vocabulary import CHILD, FEMALE, FOREIGN, GERMAN_MB, HEAD, NONE, OTHER, PARTNER

FIRST_AGE, LAST_AGE = 12, 55  # ages at which women bear children


@dataclass(frozen=True)
class Newborns:
    mother: np.ndarray  # person rows
    sex: np.ndarray
    origin: np.ndarray
    role: np.ndarray
    dies: np.ndarray  # dies before 31 Dec
    draw: np.ndarray  # fixed random number of each surviving newborn (uint32)


@njit(cache=True)
def _has_partner(hh, role, n_households):
    """Per household: whether a member is the partner (int8, not bool: the loop runs faster)."""
    has_partner = np.zeros(n_households, np.int8)
    rows = unsigned(hh)
    for i in range(len(hh)):
        has_partner[rows[i]] |= np.int8(role[i] == PARTNER)
    return has_partner


@njit(cache=True)
def _lives_with_partner(role, has_partner):
    """Whether a person of ``role`` in a household with (``has_partner`` 1) or without a partner
    lives with one: is the partner, or heads a household with one."""
    return (role == PARTNER) | ((role == HEAD) & (has_partner == 1))


@njit(cache=True)
def _partnership(sex, age, hh, role, n_households):
    """The women of childbearing age (person rows, ascending), their ages, whether each lives with
    a partner, and the women by age and partnership (index 2 x age + partnered)."""
    has_partner = _has_partner(hh, role, n_households)
    women = np.empty(len(sex), np.int64)
    n = 0
    for i in range(len(sex)):
        women[n] = i
        n += (sex[i] == FEMALE) & (age[i] >= FIRST_AGE) & (age[i] <= LAST_AGE)
    women = women[:n].copy()
    ages = np.empty(n, age.dtype)
    partnered = np.empty(n, np.bool_)
    by = np.zeros(2 * (LAST_AGE + 1), np.int64)
    for j in range(n):
        i = women[j]
        ages[j] = age[i]
        partnered[j] = _lives_with_partner(role[i], has_partner[hh[i]])
        by[2 * ages[j] + partnered[j]] += 1
    return women, ages, partnered, by


@njit(cache=True)
def _mothers(women, age, partnered, f, g, u):
    """The women who bear a child: woman j if ``u[j]`` is below her chance, ``f`` by age with a
    partner, ``g`` without."""
    rows = np.empty(len(women), np.int64)
    n = 0
    for j in range(len(women)):
        rows[n] = women[j]
        n += u[j] < (f[age[j]] if partnered[j] else g[age[j]])
    return rows[:n].copy()


@njit(cache=True)
def _split(k, p, u, births, divides, partners, f, g, work):
    """For the factor k of women without a partner: fill f (births / (p + k u) where there are
    women; other ages keep their value) and g (k f where there are partnered women); the births
    expected of women without a partner, sum of g u."""
    for a in range(len(p)):
        if divides[a]:
            f[a] = births[a] / (p[a] + k * u[a])
        if partners[a]:
            g[a] = k * f[a]
        work[a] = g[a] * u[a]
    return pairwise_sum(work)


def chance_by_partnership(
    chance: np.ndarray, partnered: np.ndarray, unpartnered: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Chances of a birth by age for women with and without a partner.

    ``chance``: ASFR x factor by age; ``partnered``, ``unpartnered``: women of each age. With
    f(a) = chance(a) x W(a) / (P(a) + k U(a)) for women with a partner and k f(a) for those
    without, the expected births of every age stay chance(a) x W(a); k solves
    sum_a k f(a) U(a) = share x sum_a chance(a) W(a) (bisection on log k; the share is monotone in
    k). Ages without partnered women give their births to the others at chance(a).
    """
    p, u = partnered.astype(float), unpartnered.astype(float)
    births = chance * (p + u)
    total = births.sum()
    if total == 0:
        return chance.copy(), chance.copy()

    divides, partners = p + u > 0, p > 0  # as p + k u > 0: k u is positive wherever u is
    f, g, work = chance.copy(), chance.copy(), np.empty_like(chance)

    def split(k: float) -> float:
        """Fill f and g for k; the share of births to women without a partner."""
        return _split(k, p, u, births, divides, partners, f, g, work) / total

    lo, hi = -12.0, 12.0  # log k
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if split(np.exp(mid)) < share:
            lo = mid
        else:
            hi = mid
    split(np.exp(0.5 * (lo + hi)))
    return np.minimum(f, 1.0), np.minimum(g, 1.0)


def draw_births(
    pop: Population,
    asfr: RateTable,
    factor: float,
    male_share: float,
    foreign_share: float,
    infant_death: np.ndarray,
    rng: np.random.Generator,
    without_partner_share: float | None = None,
) -> Newborns:
    p = pop.persons
    women, age, partnered, women_by = _partnership(p.sex, p.age, p.hh, p.role, len(pop.households))
    chance = asfr.lookup(np.arange(LAST_AGE + 1)) * factor  # by age
    if without_partner_share is None:
        f = g = chance
    else:
        f, g = chance_by_partnership(chance, women_by[1::2], women_by[::2], without_partner_share)
    mothers = _mothers(women, age, partnered, f, g, rng.random(len(women)))
    n = len(mothers)
    sex = (rng.random(n) < male_share).astype(np.int8)
    migrant_mother = p.origin[mothers] != NONE
    foreign = rng.random(n) < foreign_share
    origin = np.where(migrant_mother, np.where(foreign, FOREIGN, GERMAN_MB), NONE).astype(np.int8)
    role = _newborn_role(p.role[mothers])
    dies = rng.random(n) < infant_death[sex]
    draw = rng.integers(0, 2**32, int((~dies).sum()), dtype=np.uint32)
    return Newborns(mothers, sex, origin, role, dies, draw)


def _newborn_role(mother_role: np.ndarray) -> np.ndarray:
    """'child' where the mother (of role ``mother_role``) heads her household or is the partner, else 'other'."""
    parent = (mother_role == HEAD) | (mother_role == PARTNER)  # not np.isin: slow on these few mothers
    return np.where(parent, CHILD, OTHER).astype(np.int8)


def leave_with_newborn(pop: Population, born: Newborns, min_age: int) -> np.ndarray:
    """Mothers (person rows, each once) who found a household of their own with their newborn: an
    adult mother (at least ``min_age``) who lives in someone else's household as 'child' or
    'other' and whose newborn survives. The model lets them found it where a dwelling is free;
    their newborn is then 'child' of the new household (``newborn_roles``)."""
    p = pop.persons
    keep = ~born.dies
    mothers = born.mother[keep]
    leaving = (born.role[keep] == OTHER) & (p.age[mothers] >= min_age)
    return np.unique(mothers[leaving])


def newborn_roles(pop: Population, born: Newborns) -> np.ndarray:
    """Role of each newborn after its mother's moves: 'child' where she heads her household or
    is the partner, else 'other'."""
    return _newborn_role(pop.persons.role[born.mother])
