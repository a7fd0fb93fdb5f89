"""Service use: who is eligible, who seeks a service, and who gets a place.

Rules (catalogue in ``simulation/catalogue.py``, data and assumptions in
``calibration/data/service_catalogue.csv``):

- eligibility by age (the person's, or any member's for household-level services, whose head
  stands for the household), household type, income class, migration background, years since
  arrival in the city and living alone;
- demand: an eligible person seeks the service when a per-person, per-service uniform number
  (fixed for life, so demand is stable from year to year) is below the take-up probability of
  the person's group: take_up[origin] x low_income_factor (low income) x scenario factors;
- every chance in the allocation (order among equals, accepting a distant offer) is a fixed
  number per person, service, year and round, so that more places anywhere never leave more
  people unmet in that year (the allocation is monotone in capacity) and scenarios compare
  person by person;
- allocation, each year: users of last year keep their place while still eligible and seeking
  and while their offering has room; then seekers take places in their own area, those who
  waited longest first, the rest in random order; those left over try the nearest other areas
  in order of distance (up to ``max_distance_km``), accepting an offer at distance x with
  probability exp(-x / distance_decay_km); whoever finds nothing is unmet and stays on the
  waiting list (priority next year) while still seeking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation import population
from simulation.catalogue import ServiceType
from simulation.vocabulary import FOREIGN, HEAD, HOUSEHOLD_TYPES, LOW, NONE

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (a bijection on 64-bit integers with good avalanche)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def fixed_uniform(draw: np.ndarray, *key: int) -> np.ndarray:
    """A uniform number in [0, 1) per person for the given key (service, year, round...),
    derived from the person's fixed draw: the same person and key always give the same number,
    whatever else happens in the run."""
    z = draw.astype(np.uint64)
    with np.errstate(over="ignore"):
        for part in key:
            z = _mix(z + np.uint64(part + 1) * _GOLDEN)
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


@dataclass(frozen=True)
class PersonView:
    """Per-person attributes the eligibility rules need, computed once per year."""

    area: np.ndarray
    age: np.ndarray
    origin: np.ndarray
    low_income: np.ndarray
    household_type: np.ndarray
    alone: np.ndarray
    is_head: np.ndarray
    head_origin: np.ndarray
    years_since_arrival: np.ndarray
    hh: np.ndarray
    n_households: int

    @classmethod
    def of(cls, pop: population.Population, year: int) -> "PersonView":
        p, h = pop.persons, pop.households
        head = pop.head_row()
        return cls(
            area=h.area[p.hh].astype(np.int64), age=p.age, origin=p.origin, low_income=(h.income == LOW)[p.hh],
            household_type=pop.household_type()[p.hh], alone=(pop.size() == 1)[p.hh], is_head=p.role == HEAD,
            head_origin=p.origin[head][p.hh], years_since_arrival=year - p.arrival.astype(np.int64), hh=p.hh,
            n_households=len(h),
        )


def eligible(service: ServiceType, v: PersonView) -> np.ndarray:
    """Mask of persons eligible (for household-level services: the heads of eligible households)."""
    in_age = (v.age >= service.min_age) & (v.age <= service.max_age)
    if service.level == "household":
        has_member = np.bincount(v.hh[in_age], minlength=v.n_households) > 0
        mask = v.is_head & has_member[v.hh]
        origin = v.head_origin
    else:
        mask = in_age
        origin = v.origin
    if service.household_types is not None:
        allowed = np.isin(v.household_type, [HOUSEHOLD_TYPES.index(t) for t in service.household_types])
        mask &= allowed
    if service.income == "low":
        mask &= v.low_income
    if service.migration_background == "migrant":
        mask &= origin != NONE
    elif service.migration_background == "foreign":
        mask &= origin == FOREIGN
    if service.max_years_since_arrival is not None:
        mask &= v.years_since_arrival <= service.max_years_since_arrival
    if service.lives_alone:
        mask &= v.alone
    return mask


def take_up_probability(service: ServiceType, v: PersonView, rows: np.ndarray, factor: np.ndarray | float = 1.0) -> np.ndarray:
    """Probability of seeking the service for the given person rows."""
    origin = v.head_origin[rows] if service.level == "household" else v.origin[rows]
    p = np.asarray(service.take_up)[origin] * np.where(v.low_income[rows], service.low_income_factor, 1.0) * factor
    return np.clip(p, 0.0, 1.0)


def nearest_areas(dist: np.ndarray, max_km: float, limit: int = 8) -> np.ndarray:
    """For each area the other areas within ``max_km``, nearest first (-1 pads): shape (n, limit)."""
    n = len(dist)
    order = np.argsort(dist, axis=1, kind="stable")
    out = np.full((n, limit), -1, np.int64)
    for a in range(n):
        others = [b for b in order[a] if b != a and dist[a, b] <= max_km][:limit]
        out[a, : len(others)] = others
    return out


def _take_in_order(target: np.ndarray, key: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Mask of applicants accepted: per target area, the first ``free[area]`` by ``key``."""
    order = np.lexsort((key, target))
    sorted_target = target[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_target, sorted_target)
    accepted = np.zeros(len(target), bool)
    accepted[order[rank < free[sorted_target]]] = True
    return accepted


def allocate(home: np.ndarray, previous: np.ndarray, waited: np.ndarray, slots: np.ndarray, dist: np.ndarray,
             nearest: np.ndarray, decay_km: float, chance) -> np.ndarray:
    """Area whose offering serves each seeker, or -1 (unmet). Rules in the module docstring.

    home: seekers' areas; previous: area of the place they used last year (-1 none);
    waited: years on the waiting list; slots: free places per area (users, not units);
    chance: fixed uniform numbers per seeker, an array of shape (n, 1 + nearest.shape[1]) or a
    function (rows, column) -> numbers computed on demand: column 0 orders equals, column 1 + k
    decides whether the k-th nearest area is accepted.
    """
    if isinstance(chance, np.ndarray):
        table = chance
        chance = lambda rows, column: table[rows, column]  # noqa: E731
    n = len(home)
    served = np.full(n, -1, np.int64)
    free = slots.astype(np.int64).copy()
    tie = chance(np.arange(n), 0)
    stay = np.flatnonzero(previous >= 0)
    if len(stay):
        ok = _take_in_order(previous[stay], tie[stay], free)
        served[stay[ok]] = previous[stay[ok]]
        free -= np.bincount(previous[stay[ok]], minlength=len(free))
    priority = -waited.astype(np.float64) + tie  # longer waiting first, then the fixed order
    for k in range(-1, nearest.shape[1]):
        left = np.flatnonzero(served < 0)
        if len(left) == 0 or free.sum() <= 0:
            break
        target = home[left] if k < 0 else nearest[home[left], k]
        if k >= 0:
            reach = target >= 0
            d = dist[home[left], np.maximum(target, 0)]
            access = np.exp(-d / decay_km) if decay_km > 0 else np.zeros(len(left))
            accept = reach & (chance(left, 1 + k) < access)
            left, target = left[accept], target[accept]
        room = free[target] > 0  # no need to rank applicants of full areas
        left, target = left[room], target[room]
        ok = _take_in_order(target, priority[left], free)
        served[left[ok]] = target[ok]
        free -= np.bincount(target[ok], minlength=len(free))
    return served
