"""Where households go: a conditional-logit choice among areas with free dwellings.

Rule (McFadden's conditional logit over areas, with the free dwellings as the number of
alternatives in an area; parameters in the scenario's ``[mobility]``). A household of income
class c whose head belongs to origin group g values area a by

    V = k_ca  -  beta_c x log I_a  +  gamma x log s_ga

and chooses a with probability free_a x exp(V) / sum over areas of the same. Here

- k_ca = log(share of class c among the area's households in the base year / the city's share):
  alternative-specific constants set to the base year's market shares (the usual calibration of
  a logit model to observed shares, Train 2009, ch. 2.8). What sorts low-income households into
  some Stadtteile (the stock of cheap and social housing, crowding, networks) is not in the data
  area by area; the constants carry it, so that without a change the flows keep the base year's
  income geography (synthesis.area_income_risk) instead of drifting from it;
- I_a is the area's rent index since the base year (processes/housing.py): a rise above other
  areas deters everybody, low-income households (higher beta_c) most;
- s_ga is the share of the household's origin group among the area's residents (homophily, as
  in location-choice models of migrants: Bartel 1989, Bauer, Epstein and Gang 2005; and in
  Schelling's 1971 segregation model). gamma = 1 sends a group's movers to areas in proportion
  to the group's residents there (per free dwelling), which keeps the composition of the areas
  as it is; gamma = 0 ignores composition; gamma > 1 sorts the groups further apart.

Capacity: ``shared.admit_in_rounds``, the rule of every dwelling search: every household draws
an area, areas accept applicants in random order up to their free dwellings, the rejected draw
again among areas still free (a few rounds), and whoever is left gets -1. Movers never draw their
own area.
The choice depends only on (income class, origin group) and the area, so the weights are six
rows over the areas; the draws are vectorised over households.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit

from simulation.population import Population, unsigned
from simulation.processes.shared import admit_in_rounds, pairwise_sum, persons_by
from simulation.vocabulary import INCOME_CLASSES, LOW, NOT_LOW, ORIGINS

N_GROUPS = len(ORIGINS)
MIN_SHARE = 1e-3  # an area without any resident of the group counts as this share (log of 0)


@dataclass(frozen=True)
class ChoiceParams:
    """Parameters of the location choice (see module docstring)."""

    rent_sensitivity: np.ndarray  # beta per income class code (LOW, NOT_LOW)
    homophily: float  # gamma
    income_constant: np.ndarray  # k per income class code and area, (2, areas)

    @classmethod
    def of(
        cls, rent_sensitivity: dict[str, float], homophily: float, area: np.ndarray, low_income: np.ndarray, n_areas: int
    ) -> "ChoiceParams":
        """From the scenario values (beta by income class name) and the base year's households
        (``area``, ``low_income`` per household), which set the constants k."""
        beta = np.array([rent_sensitivity[c] for c in INCOME_CLASSES], float)
        return cls(beta, float(homophily), income_constants(area, low_income, n_areas))


def income_constants(area: np.ndarray, low_income: np.ndarray, n_areas: int) -> np.ndarray:
    """k per income class and area: log(share of the class among the area's households / the
    city's share); an area without households of a class counts as MIN_SHARE of it."""
    households = np.bincount(area, minlength=n_areas).astype(float)
    low = np.bincount(area, weights=np.asarray(low_income, float), minlength=n_areas)
    share = np.empty((2, n_areas))
    share[LOW] = np.divide(low, households, out=np.zeros(n_areas), where=households > 0)
    share[NOT_LOW] = 1.0 - share[LOW]
    city = np.empty(2)
    city[LOW] = low.sum() / max(households.sum(), 1.0)
    city[NOT_LOW] = 1.0 - city[LOW]
    return np.log(np.maximum(share, MIN_SHARE) / np.maximum(city, MIN_SHARE)[:, None])


def utilities(rent: np.ndarray, group_share: np.ndarray, params: ChoiceParams) -> np.ndarray:
    """V per type and area, shape (2 x N_GROUPS, areas); type = income class code x N_GROUPS +
    origin group. ``rent``: the rent index per area (1 in the base year); ``group_share``: (areas,
    N_GROUPS) residents' shares."""
    v = params.income_constant - params.rent_sensitivity[:, None] * np.log(rent)[None, :]  # (income, areas)
    v = v[:, None, :] + (params.homophily * np.log(np.maximum(group_share, MIN_SHARE))).T[None, :, :]
    return v.reshape(-1, len(rent))


@njit(cache=True)
def household_types(group: np.ndarray, low_income: np.ndarray) -> np.ndarray:
    """Type code per household (the row of ``utilities``): its income class (LOW where
    ``low_income``, else NOT_LOW) and its head's origin group; of arrays, or of one household in
    compiled code."""
    return (NOT_LOW + (LOW - NOT_LOW) * low_income) * N_GROUPS + group


def attraction(rent: np.ndarray, group_share: np.ndarray, params: ChoiceParams) -> np.ndarray:
    """exp(V) per type and area (``utilities``), relative to the type's most attractive area."""
    v = utilities(rent, group_share, params)
    return np.exp(v - v.max(axis=1, keepdims=True))


def destination_weights(
    free: np.ndarray, rent: np.ndarray, group_share: np.ndarray, params: ChoiceParams, prior: np.ndarray | None = None
) -> np.ndarray:
    """Choice probabilities per type and area, (2 x N_GROUPS, areas): free_a x exp(V) (x ``prior``,
    an optional weight per area), normalised over the areas; a row is 0 where no area is free."""
    return _weights(free, attraction(rent, group_share, params), prior)


@njit(cache=True)
def _weights(free: np.ndarray, attraction: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
    """``destination_weights`` from the types' ``attraction`` of the areas: each row's weights
    over its total (summed as numpy sums, ``pairwise_sum``), 0 where the total is 0."""
    n_types, n_areas = attraction.shape
    w = np.empty((n_types, n_areas))
    for t in range(n_types):
        for a in range(n_areas):
            w[t, a] = attraction[t, a] * np.float64(max(free[a], 0))
            if prior is not None:
                w[t, a] *= prior[a]
        total = pairwise_sum(w[t])
        for a in range(n_areas):
            w[t, a] = w[t, a] / total if total > 0 else 0.0
    return w


@njit(cache=True)
def _draw(
    u: np.ndarray, free: np.ndarray, appeal: np.ndarray, prior: np.ndarray | None, types: np.ndarray, waiting: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One area per waiting household (``waiting``: positions in ``types``) from its type's row of
    the choice probabilities over the ``free`` dwellings (``_weights``), by inverse CDF with its
    uniform number ``u``; returns (areas, whether the household's type had any area at all)."""
    flat, possible = _cumulative_rows(_weights(free, appeal, prior))
    n_areas = appeal.shape[1]
    areas = np.empty(len(waiting), np.int64)
    could = np.empty(len(waiting), np.bool_)
    for i in range(len(waiting)):
        t = types[waiting[i]]
        areas[i] = _inverse_cdf(flat, t, n_areas, u[i])
        could[i] = possible[t]
    return areas, could


@njit(cache=True)
def _cumulative_rows(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows' cumulative sums normalised to end at 1 (0 for a row without any area) and
    shifted by their type, so that one sorted array holds them all (row t lies in [t, t + 1]);
    and per type whether its row has any area at all."""
    n_types, n_areas = probabilities.shape
    flat = np.empty(n_types * n_areas)
    possible = np.empty(n_types, np.bool_)
    for t in range(n_types):
        start = t * n_areas
        running = 0.0
        for a in range(n_areas):
            running += probabilities[t, a]
            flat[start + a] = running
        possible[t] = running > 0
        scale = running if possible[t] else 1.0
        for a in range(n_areas - 1):
            flat[start + a] = flat[start + a] / scale + t
        flat[start + n_areas - 1] = (1.0 if possible[t] else 0.0) + t
    return flat, possible


@njit(cache=True)
def _inverse_cdf(flat: np.ndarray, t: int, n_areas: int, u: float) -> int:
    """The first area of type t's row whose cumulative probability exceeds the uniform number u,
    at most the last area (``flat``: ``_cumulative_rows``): where u + t falls in ``flat``
    (``searchsorted(side='right')``; it is searched in the type's row only: the rows before lie
    at or below u + t and, as the row ends at t + 1, the rows after can only matter for the
    last area)."""
    start = t * n_areas
    key = u + t
    # binary search for the number of entries <= key in flat[start : start + n_areas]
    lo, n = start, n_areas
    while n > 1:
        half = n >> 1
        if flat[lo + half - 1] <= key:
            lo += half
        n -= half
    return min(lo + (flat[lo] <= key) - start, n_areas - 1)


def choose_areas(
    free: np.ndarray,
    rent: np.ndarray,
    group_share: np.ndarray,
    household_group: np.ndarray,
    low_income: np.ndarray,
    params: ChoiceParams,
    rng: np.random.Generator,
    own: np.ndarray | None = None,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """Destination area per household (-1: no dwelling found), never more than ``free`` per area.

    ``free``: free dwellings per area (the capacity); ``rent``: rent index per area;
    ``group_share``: (areas, N_GROUPS); ``household_group``/``low_income``: per household (the
    head's origin code, income class low); ``own``: the household's current area (movers), never
    chosen; ``prior``: an optional extra weight per area (e.g. where newcomers arrive).
    """
    return _choose(free, attraction(rent, group_share, params), household_group, low_income, rng, own, prior)


def _choose(
    free: np.ndarray,
    appeal: np.ndarray,
    household_group: np.ndarray,
    low_income: np.ndarray,
    rng: np.random.Generator,
    own: np.ndarray | None,
    prior: np.ndarray | None,
) -> np.ndarray:
    """``choose_areas`` with the types' ``appeal`` of the areas (``attraction``)."""
    types = household_types(np.asarray(household_group, np.int64), np.asarray(low_income, bool))

    def draw(capacity: np.ndarray, waiting: np.ndarray):
        if capacity.sum() <= 0:
            return None
        # the areas still free are what is on offer: their free dwellings weight the draw
        return _draw(rng.random(len(waiting)), capacity, appeal, prior, types, waiting)

    return admit_in_rounds(free, len(household_group), draw, rng, own)


def group_shares(pop: Population, n_areas: int) -> np.ndarray:
    """(areas, N_GROUPS): share of each origin group among the area's residents."""
    return shares_of(residents_by_group(pop, n_areas))


def residents_by_group(pop: Population, n_areas: int, since: int = 0) -> np.ndarray:
    """(areas, N_GROUPS): residents of each origin group per area, counting the persons from row
    ``since`` on (those added since then, when ``since`` was the number of persons)."""
    p = pop.persons
    hh, area, origin = unsigned(p.hh), unsigned(pop.households.area), unsigned(p.origin)
    return persons_by(hh[since:], area, origin[since:], n_areas, N_GROUPS)


def after_moves(residents: np.ndarray, pop: Population, rows: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(areas, N_GROUPS): the residents of each origin group per area (``residents``, counted
    before the households ``rows`` moved from the areas ``origin`` to where they live now) once
    they moved: their members count in their new areas instead of the old ones."""
    moved_from = np.full(len(pop.households), -1, np.int8)  # areas fit (population.MAX_AREAS)
    moved_from[rows] = origin
    p = pop.persons
    hh, area, origin = unsigned(p.hh), unsigned(pop.households.area), unsigned(p.origin)
    return _residents_after_moves(residents.copy(), hh, origin, moved_from, area)


@njit(cache=True)
def _residents_after_moves(
    residents: np.ndarray, hh: np.ndarray, origin: np.ndarray, moved_from: np.ndarray, area: np.ndarray
) -> np.ndarray:
    """``residents`` (areas, groups) with every member of a household that moved (``moved_from``:
    its old area, else -1) taken from its old area and counted in its household's ``area``."""
    # the movers' members are picked out first without a branch (every person is written, only a
    # mover keeps the place): few persons move, and a branch per person would often guess wrong
    members = np.empty(len(hh), np.int32)
    n = 0
    for i in range(len(hh)):
        members[n] = i
        n += moved_from[hh[i]] >= 0
    for i in members[:n]:
        residents[moved_from[hh[i]], origin[i]] -= 1
        residents[area[hh[i]], origin[i]] += 1
    return residents


def shares_of(residents: np.ndarray) -> np.ndarray:
    """(areas, N_GROUPS): share of each origin group among the area's ``residents`` (``residents_by_group``)."""
    counts = residents.astype(float)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.full_like(counts, 1.0 / N_GROUPS), where=total > 0)


def chooser(
    pop: Population,
    rent: np.ndarray,
    params: ChoiceParams,
    rng: np.random.Generator,
    prior: np.ndarray | None = None,
    shares: np.ndarray | None = None,
) -> Callable[..., np.ndarray]:
    """``choose(free, rows, own=None) -> dest`` for households (rows of ``pop``), with the areas'
    composition (``shares``, else ``group_shares`` now) and the households' groups and incomes
    as they are now (households may move in between, but not be added, removed or change
    members). Moves, displacement and in-migration (template households) call it; the processes
    stay independent of each other."""
    shares = group_shares(pop, len(rent)) if shares is None else shares
    appeal = attraction(rent, shares, params)  # the same for every call
    head, origin, income = pop.head_row(), pop.persons.origin, pop.households.income

    def choose(free: np.ndarray, rows: np.ndarray, own: np.ndarray | None = None) -> np.ndarray:
        group = origin.take(head.take(rows)).astype(np.int64)  # only the choosers' heads, not everyone's
        return _choose(free, appeal, group, income.take(rows) == LOW, rng, own, prior)

    return choose


def demand_pressure(
    pop: Population, searchers: np.ndarray, offered: np.ndarray, rent: np.ndarray, params: ChoiceParams, shares: np.ndarray | None = None
) -> np.ndarray:
    """Log demand per dwelling on offer in each area, relative to the city (0 where nothing was on
    offer): the expected choices of this year's searchers (``searchers``: rows of the households
    who settled this year) over the dwellings on offer (``offered`` per area, the size term);
    ``shares``: the areas' composition (else ``group_shares`` now)."""
    n_areas = len(rent)
    shares = group_shares(pop, n_areas) if shares is None else shares
    n_types = _count_types(searchers, unsigned(pop.head_row()), unsigned(pop.persons.origin), pop.households.income)
    demand = n_types @ destination_weights(offered, rent, shares, params)
    on_offer = offered > 0
    if not on_offer.any() or demand.sum() <= 0:
        return np.zeros(n_areas)
    per_dwelling = np.divide(demand, offered, out=np.ones(n_areas), where=on_offer)
    city = demand.sum() / offered[on_offer].sum()
    return np.where(on_offer & (demand > 0), np.log(np.maximum(per_dwelling, 1e-12) / city), 0.0)


@njit(cache=True)
def _count_types(rows: np.ndarray, head: np.ndarray, origin: np.ndarray, income: np.ndarray) -> np.ndarray:
    """Households ``rows`` per type (``household_types``), as numbers."""
    counts = np.zeros(2 * N_GROUPS)
    for h in rows:
        counts[household_types(origin[head[h]], income[h] == LOW)] += 1.0
    return counts
