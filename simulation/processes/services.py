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

``serve_year`` runs the year for every service of the catalogue and returns what happened (new
service use and waiting years per person, counts per home area); the model applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from simulation.catalogue import ServiceType
from simulation.population import Population, household_type_of
from simulation.processes.shared import hash_step, uniform_below, unit_uniform
from simulation.vocabulary import (
    CHILD,
    FOREIGN,
    HEAD,
    HOUSEHOLD_TYPES,
    LOW,
    NONE,
    NOT_LOW,
    ORIGINS,
    OTHER,
    PARTNER,
    SERVICE_COUNTS,
    UNMET_GROUPS,
)

MAX_WAIT = 127  # years on the waiting list are stored as int8


def _rows(mask: np.ndarray) -> np.ndarray:
    """Positions where a 1-d mask is true (np.flatnonzero without its Python layers)."""
    return mask.nonzero()[0]


def _types_by_other_roles() -> np.ndarray:
    """``household_type_of`` for each set of roles a household has beside its one head, as a table
    indexed by partner + 2 child + 4 other (1 where present): the type depends on nothing else."""
    present = np.arange(8)[:, None] >> np.arange(3) & 1
    return household_type_of(np.column_stack([np.ones(8, np.int64), present]))


_TYPE_BY_OTHER_ROLES = _types_by_other_roles()


def _household_types(hh: np.ndarray, role: np.ndarray, n: int) -> np.ndarray:
    """Index into HOUSEHOLD_TYPES of households 0..n-1 from their members' rows ``hh`` and roles."""
    present = np.zeros(4 * n, np.uint8)  # role by role, then household
    code = role.astype(np.intp)
    code *= n
    code += hh
    present[code] = 1
    by_role = present.reshape(4, n)
    return _TYPE_BY_OTHER_ROLES.take(by_role[PARTNER] | by_role[CHILD] << 1 | by_role[OTHER] << 2)


@dataclass(frozen=True)
class PersonView:
    """Per-person attributes the eligibility rules need, for the population as it is when the
    view is made (``of``): use it before the population changes. ``household_type`` and
    ``head_origin`` are computed on first use (the yearly services need them for few persons or
    not at all)."""

    area: np.ndarray
    age: np.ndarray
    origin: np.ndarray
    low_income: np.ndarray
    alone: np.ndarray
    is_head: np.ndarray
    arrival: np.ndarray
    year: int
    hh: np.ndarray
    n_households: int
    role: np.ndarray

    @classmethod
    def of(cls, pop: Population, year: int) -> PersonView:
        """The view of ``pop`` in ``year``; it shares the population's own lookups (person_area, size)."""
        p, h = pop.persons, pop.households
        hh = p.hh.astype(np.intp)
        return cls(
            area=pop.person_area(),
            age=p.age,
            origin=p.origin,
            low_income=(h.income == LOW).take(hh),
            alone=(pop.size() == 1).take(hh),
            is_head=p.role == HEAD,
            arrival=p.arrival,
            year=year,
            hh=hh,
            n_households=len(h),
            role=p.role,
        )

    @cached_property
    def household_type_per_household(self) -> np.ndarray:
        """Index into HOUSEHOLD_TYPES per household row (``Population.household_type``)."""
        return _household_types(self.hh, self.role, self.n_households)

    @cached_property
    def household_type(self) -> np.ndarray:
        """Index into HOUSEHOLD_TYPES of each person's household."""
        return self.household_type_per_household.take(self.hh)

    def household_type_of_rows(self, rows: np.ndarray) -> np.ndarray:
        """``household_type[rows]``, from the types of all households: the model records those
        anyway, and computing them is faster than finding the members of the rows' households."""
        return self.household_type_per_household.take(self.hh.take(rows))

    @cached_property
    def head_origin(self) -> np.ndarray:
        """Origin of the head of each person's household."""
        heads = _rows(self.is_head)
        origin = np.zeros(self.n_households, self.origin.dtype)
        origin[self.hh[heads]] = self.origin[heads]
        return origin.take(self.hh)


def _has_member(v: PersonView, lo: int, hi: int) -> np.ndarray:
    """Per household: has a member aged lo to hi."""
    has = np.zeros(v.n_households, bool)
    has[v.hh.compress((v.age >= lo) & (v.age <= hi))] = True
    return has


def eligible(service: ServiceType, v: PersonView) -> np.ndarray:
    """Mask of persons eligible (for household-level services: the heads of eligible households)."""
    lo, hi = service.min_age, service.max_age
    if service.level == "household":
        mask = v.is_head.copy()
        if len(v.age) and (v.age.min() < lo or v.age.max() > hi):  # else every household has a member of that age
            mask &= _has_member(v, lo, hi).take(v.hh)
    else:
        mask = (v.age >= lo) & (v.age <= hi)
    if service.household_types is not None:
        mask &= np.isin(v.household_type, [HOUSEHOLD_TYPES.index(t) for t in service.household_types])
    if service.income == "low":
        mask &= v.low_income
    if service.migration_background != "any":
        origin = v.head_origin if service.level == "household" else v.origin
        mask &= (origin != NONE) if service.migration_background == "migrant" else (origin == FOREIGN)
    if service.max_years_since_arrival is not None:  # years since arrival <= max, on the years themselves
        mask &= v.arrival >= v.year - service.max_years_since_arrival
    if service.lives_alone:
        mask &= v.alone
    return mask


def _eligibility(service: ServiceType) -> tuple:
    """What eligibility depends on: services with the same rules have the same eligible persons."""
    s = service
    return s.level, s.min_age, s.max_age, s.household_types, s.income, s.migration_background, s.max_years_since_arrival, s.lives_alone


def take_up_probability(service: ServiceType, v: PersonView, rows: np.ndarray, factor: np.ndarray | float = 1.0) -> np.ndarray:
    """Probability of seeking the service for the given person rows."""
    origin = v.head_origin[rows] if service.level == "household" else v.origin[rows]
    p = np.asarray(service.take_up)[origin] * np.where(v.low_income[rows], service.low_income_factor, 1.0) * factor
    return np.clip(p, 0.0, 1.0)


@dataclass(frozen=True)
class TakeUpChange:
    """One scenario change of take-up in force this year: take-up of ``service`` is multiplied by
    ``factor`` for persons of the given origin codes (``vocabulary.ORIGINS``) aged ``min_age`` to
    ``max_age`` (for household-level services: households with a member of that age)."""

    service: str
    factor: float
    origins: tuple[int, ...]
    min_age: int
    max_age: int


def take_up_factor(service: ServiceType, v: PersonView, rows: np.ndarray, changes: list[TakeUpChange]) -> np.ndarray:
    """Product of the take-up changes for this service over the given person rows (1 where none)."""
    factor = np.ones(len(rows))
    household_level = service.level == "household"
    origin = v.head_origin[rows] if household_level else v.origin[rows]
    for t in changes:
        if t.service != service.name:
            continue
        hit = np.isin(np.arange(len(ORIGINS)), t.origins).take(origin)  # by lookup: np.isin over many persons is slow
        if household_level:  # the household has a member of that age
            hit &= _has_member(v, t.min_age, t.max_age)[v.hh[rows]]
        else:
            age = v.age.take(rows)
            hit &= (age >= t.min_age) & (age <= t.max_age)
        np.multiply(factor, t.factor, out=factor, where=hit)
    return factor


def nearest_areas(dist: np.ndarray, max_km: float, limit: int = 8) -> np.ndarray:
    """For each area the other areas within ``max_km``, nearest first (-1 pads): shape (n, limit)."""
    n = len(dist)
    order = np.argsort(dist, axis=1, kind="stable")
    out = np.full((n, limit), -1, np.int64)
    for a in range(n):
        others = [b for b in order[a] if b != a and dist[a, b] <= max_km][:limit]
        out[a, : len(others)] = others
    return out


def _stable_order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")``, faster: an unstable sort, unless it met equal keys."""
    order = np.argsort(key)
    ordered = key[order]
    if len(key) > 1 and np.any(ordered[1:] == ordered[:-1]):
        order = np.argsort(key, kind="stable")
    return order


def _take_in_order(target: np.ndarray, free: np.ndarray, key_of) -> np.ndarray:
    """Mask of applicants accepted: per target area, the first ``free[area]`` by key (equal keys:
    the earlier applicant first). ``key_of(positions)`` gives the keys of the applicants at these
    positions; it is asked only for applicants to areas with more applicants than places."""
    applicants = np.bincount(target, minlength=len(free))
    contested = applicants > free
    accepted = np.ones(len(target), bool)
    if not contested.any():
        return accepted
    ranked = _rows(contested[target])
    ranked = ranked[_stable_order(key_of(ranked))]  # by key, then by position
    group = target[ranked]
    by_area = np.argsort(group.astype(np.int16) if len(free) < 2**15 else group, kind="stable")  # radix sort, keeps the key order
    ranked, group = ranked[by_area], group[by_area]
    counts = np.bincount(group, minlength=len(free))
    rank = np.arange(len(ranked)) - (np.cumsum(counts) - counts)[group]
    accepted[ranked] = False
    accepted[ranked.compress(rank < free[group])] = True
    return accepted


def allocate(
    home: np.ndarray,
    previous: np.ndarray,
    waited: np.ndarray,
    slots: np.ndarray,
    dist: np.ndarray,
    nearest: np.ndarray,
    decay_km: float,
    chance,
) -> np.ndarray:
    """Area whose offering serves each seeker, or -1 (unmet). Rules in the module docstring.

    home: seekers' areas; previous: area of the place they used last year (-1 none);
    waited: years on the waiting list; slots: free places per area (users, not units);
    chance: fixed uniform numbers per seeker, an array of shape (n, 1 + nearest.shape[1]) or a
    function (rows, column) -> numbers computed on demand: column 0 orders equals, column 1 + k
    decides whether the k-th nearest area is accepted. Numbers are asked for only where they
    decide something (column 0: applicants to areas with more applicants than places).
    """
    if isinstance(chance, np.ndarray):
        table = chance

        def chance(rows: np.ndarray, column: int) -> np.ndarray:
            return table[rows, column]

    n = len(home)
    served = np.full(n, -1, np.int64)
    free = slots.astype(np.int64).copy()
    tie = np.full(n, np.nan)  # column 0, filled in where needed

    def tie_of(rows: np.ndarray) -> np.ndarray:
        todo = rows.compress(np.isnan(tie[rows]))
        if len(todo):
            tie[todo] = chance(todo, 0)
        return tie[rows]

    def priority(rows: np.ndarray) -> np.ndarray:
        """Longer waiting first, then the fixed order."""
        return -waited[rows].astype(np.float64) + tie_of(rows)

    stay = _rows(previous >= 0)
    if len(stay):
        ok = _take_in_order(previous[stay], free, lambda at: tie_of(stay[at]))
        kept = stay.compress(ok)
        served[kept] = previous[kept]
        free -= np.bincount(served[kept], minlength=len(free))
    # own area
    left = _rows(served < 0)
    if len(left) == 0 or free.sum() <= 0:
        return served
    target = home[left]
    applicants = _rows(free[target] > 0)  # no need to rank applicants of full areas
    applicants, target = left[applicants], target[applicants]
    ok = _rows(_take_in_order(target, free, lambda at: priority(applicants[at])))
    served[applicants[ok]] = target[ok]
    free -= np.bincount(target[ok], minlength=len(free))
    # the nearest other areas in order of distance, for those left (positions in ``left``)
    left = _rows(served < 0)
    if len(left) == 0 or free.sum() <= 0:
        return served
    rounds = int(_rows((nearest >= 0).any(axis=0)).max(initial=-1)) + 1  # up to the last round with an area to try
    targets = np.ascontiguousarray(nearest[home[left], :rounds].T)  # round k: the k-th nearest area
    access = np.exp(-dist[home[left][None, :], np.maximum(targets, 0)] / decay_km) if decay_km > 0 else np.zeros(targets.shape)
    waiting = np.ones(len(left), bool)
    for k in range(rounds):
        if free.sum() <= 0:
            break
        target = targets[k]
        at = _rows(waiting & (target >= 0) & (free[target] > 0))  # offers in reach and with room
        if len(at) == 0:
            continue
        at = at[_rows(chance(left[at], 1 + k) < access[k, at])]  # accepted at that distance
        ok = _rows(_take_in_order(target[at], free, lambda a, at=at: priority(left[at[a]])))
        won = at[ok]
        served[left[won]] = target[won]
        waiting[won] = False
        free -= np.bincount(target[won], minlength=len(free))
        if not waiting.any():
            break
    return served


@dataclass
class ServiceYear:
    """What happened to service use in one year (``serve_year``); the model applies it."""

    use: np.ndarray  # (persons, services) int8: area whose offering each person uses this year, -1 none
    wait: np.ndarray  # (persons, services) int8: years on the waiting list
    counts: np.ndarray  # (services, areas, SERVICE_COUNTS) int64, by home area
    unmet_groups: np.ndarray  # (services, areas, UNMET_GROUPS) int64: unmet persons by group, by home area


def _take_up_by_group(service: ServiceType) -> np.ndarray:
    """take_up[origin] x low_income_factor (low income), by group origin x 2 + low income: the
    products of ``take_up_probability`` before the scenario's factors and the clip."""
    return (np.asarray(service.take_up)[:, None] * np.array([1.0, service.low_income_factor])[None, :]).ravel()


def serve_year(
    catalogue: dict[str, ServiceType],
    view: PersonView,
    use: np.ndarray,
    wait: np.ndarray,
    draw: np.ndarray,
    capacity: np.ndarray,
    distance_km: np.ndarray,
    nearest: dict[str, np.ndarray],
    changes: list[TakeUpChange],
    year: int,
) -> ServiceYear:
    """Demand and allocation of every service of the catalogue in one year (rules in the module docstring).

    view: the persons this year; use, wait: last year's service use and waiting years (persons x
    services, columns in catalogue order); draw: the persons' fixed random numbers; capacity:
    effective capacity per service and area in the service's units (volunteer places included,
    inf = no limit); distance_km: between areas; nearest: per service the nearest other areas
    (``nearest_areas``); changes: the take-up changes in force this year (matched to services by
    name). Inputs are not changed; the result holds new arrays.

    The same as, service by service (i = position in the catalogue): rows = eligible(service,
    view); seekers = rows where fixed_uniform(draw, i) < take_up_probability(service, view, rows,
    take_up_factor(...)); allocate(..., chance = fixed_uniform(draw, i, year, column)); counts by
    home area. Faster: hash states are shared between those keys, seeking is decided on integers,
    services with the same eligibility rules share their rows, and numbers are only drawn where
    they decide something.
    """
    n, n_services = len(view.age), len(catalogue)
    n_areas, n_groups = capacity.shape[1], len(UNMET_GROUPS)
    new_use = np.full((n, n_services), -1, np.int8)
    new_wait = np.zeros((n, n_services), np.int8)
    flat_use, flat_wait = new_use.reshape(-1), new_wait.reshape(-1)
    counts = np.zeros((n_services, n_areas, len(SERVICE_COUNTS)), np.int64)
    # take-up group: origin x 2 + low income (household-level services: the eligible are heads,
    # whose own origin is their household's head_origin, every household having one head)
    group = view.origin * np.int8(2) + view.low_income.view(np.int8)
    person_area = view.area.astype(np.int8) if n_areas <= 127 else view.area  # gathered once per service: small is fast
    eligible_rows: dict[tuple, np.ndarray] = {}
    unmet_keys, unmet_rows = [], []  # (service, home area, group) of every unmet person, counted at the end
    for i, (name, service) in enumerate(catalogue.items()):
        rule = _eligibility(service)
        if rule not in eligible_rows:
            eligible_rows[rule] = _rows(eligible(service, view))
        rows = eligible_rows[rule]
        area = person_area.take(rows)
        factor = take_up_factor(service, view, rows, changes) if any(t.service == service.name for t in changes) else None
        row_group = group.take(rows)
        by_group = _take_up_by_group(service)
        if service.unlimited and factor is None and np.all(by_group >= 1.0):  # everybody eligible seeks and is served
            at = np.arange(len(rows))
        else:
            z = hash_step(draw.take(rows).astype(np.uint64), i)  # behind fixed_uniform(draw, i, ...)
            at = _rows(uniform_below(by_group, row_group, z, factor))
        seekers, home = rows[at], area[at]
        if service.unlimited:  # an entitlement: everybody is served where they live
            served = home
        else:
            # the allocation's numbers fixed_uniform(draw, i, year, round) continue the seeking number's hash
            served = allocate(
                home,
                use[seekers, i].astype(np.int64),
                wait[seekers, i],
                np.floor(capacity[i] / service.units_per_user),
                distance_km,
                nearest[name],
                service.distance_decay_km,
                lambda r, k, z=z[at]: unit_uniform(hash_step(hash_step(z[r], year), k)),
            )
        at_unmet = _rows(served < 0)
        unmet, unmet_home = seekers[at_unmet], home[at_unmet]
        unmet_waited = wait[unmet, i]
        c = counts[i]
        c[:, 0] = np.bincount(area, minlength=n_areas)
        c[:, 1] = np.bincount(home, minlength=n_areas)
        c[:, 3] = np.bincount(unmet_home, minlength=n_areas)
        c[:, 2] = c[:, 1] - c[:, 3]
        c[:, 4] = np.bincount(unmet_home.compress(unmet_waited >= 1), minlength=n_areas)
        if len(unmet):
            unmet_group = row_group[at[at_unmet]]
            origin = unmet_group >> 1
            key = (i * n_areas + unmet_home.astype(np.int64)) * n_groups
            unmet_keys += [key + origin, key + 3 + np.where(unmet_group & 1, LOW, NOT_LOW)]
            unmet_rows.append((key + 5, unmet))
        flat_use[seekers * n_services + i] = served
        flat_wait[unmet * n_services + i] = np.minimum(unmet_waited.astype(np.int16) + 1, MAX_WAIT)
    if unmet_rows:  # household types of the unmet, all services at once
        unmet_keys.append(
            np.concatenate([k for k, _ in unmet_rows]) + view.household_type_of_rows(np.concatenate([r for _, r in unmet_rows]))
        )
    keys = np.concatenate(unmet_keys) if unmet_keys else np.zeros(0, np.int64)
    unmet_groups = np.bincount(keys, minlength=n_services * n_areas * n_groups).reshape(n_services, n_areas, n_groups)
    return ServiceYear(use=new_use, wait=new_wait, counts=counts, unmet_groups=unmet_groups)
