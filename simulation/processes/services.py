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
from numba import njit

from simulation.catalogue import ServiceType
from simulation.population import Population, mask_rows, unsigned
from simulation.processes.shared import GOLDEN, households_with_member, key_step, mix_one, unit_one
from simulation.vocabulary import (
    FOREIGN,
    HEAD,
    HOUSEHOLD_TYPES,
    LOW,
    NONE,
    NOT_LOW,
    ORIGINS,
    SERVICE_COUNTS,
    UNMET_GROUPS,
)

MAX_WAIT = 127  # years on the waiting list are stored as int8


@dataclass(frozen=True)
class PersonView:
    """Per-person attributes the eligibility rules need, for the population as it is when the
    view is made (``of``): use it before the population changes. It holds the population's columns
    and lookups; the per-person flags and types below are computed on first use (the yearly
    services read the columns themselves)."""

    area: np.ndarray  # home area of each person
    age: np.ndarray
    origin: np.ndarray
    role: np.ndarray
    arrival: np.ndarray
    hh: np.ndarray  # household row of each person
    year: int
    income: np.ndarray  # income class of each household
    size: np.ndarray  # members of each household
    head_row: np.ndarray  # person row of each household's head
    household_type_per_household: np.ndarray  # index into HOUSEHOLD_TYPES per household row

    @classmethod
    def of(cls, pop: Population, year: int) -> PersonView:
        """The view of ``pop`` in ``year``; it shares the population's own columns and lookups
        (person_area, size, head_row, household_type)."""
        p, h = pop.persons, pop.households
        return cls(
            area=pop.person_area(),
            age=p.age,
            origin=p.origin,
            role=p.role,
            arrival=p.arrival,
            hh=p.hh,
            year=year,
            income=h.income,
            size=pop.size(),
            head_row=pop.head_row(),
            household_type_per_household=pop.household_type(),
        )

    @property
    def n_households(self) -> int:
        return len(self.income)

    @cached_property
    def _household_flags(self) -> tuple[np.ndarray, np.ndarray]:
        """(low_income, alone): both are read from each person's household, in one pass."""
        return _household_flags(self.hh, self.income, self.size)

    @property
    def low_income(self) -> np.ndarray:
        """Each person lives in a low-income household."""
        return self._household_flags[0]

    @property
    def alone(self) -> np.ndarray:
        """Each person lives alone."""
        return self._household_flags[1]

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
        return self.origin.take(self.head_row).take(self.hh)


@njit(cache=True)
def _household_flags(hh, income, size):
    """Per person: whether their household (row ``hh``) has low income, and whether it has one member."""
    rows = unsigned(hh)
    low, alone = np.empty(len(hh), np.bool_), np.empty(len(hh), np.bool_)
    for i in range(len(hh)):
        h = rows[i]
        low[i] = income[h] == LOW
        alone[i] = size[h] == 1
    return low, alone


@njit(cache=True)
def _aged(age, lo, hi):
    """Per person: aged lo to hi (in the type of the ages, whose comparisons the compiler vectorises)."""
    mask = np.empty(len(age), np.bool_)
    for i in range(len(age)):
        mask[i] = (age[i] >= lo) & (age[i] <= hi)
    return mask


def _in_age(v: PersonView, lo: int, hi: int) -> np.ndarray:
    """Per person: aged lo to hi (nobody if lo is above every age the age type can hold)."""
    t = v.age.dtype.type
    top = np.iinfo(t).max
    if lo > top:
        return np.zeros(len(v.age), bool)
    return _aged(v.age, t(lo), t(min(hi, top)))


def _has_member(v: PersonView, lo: int, hi: int) -> np.ndarray:
    """Per household: has a member aged lo to hi."""
    return households_with_member(v.hh, v.age, lo, hi, v.n_households).view(bool)


def _heads_with_member(v: PersonView, lo: int, hi: int) -> np.ndarray:
    """Per person: is the head of a household with a member aged lo to hi. Found from the persons
    of that age (few for the ranges of the rules), their households and those households' heads:
    quicker than a pass over every person's household (``_has_member``) and then over the heads."""
    heads = np.zeros(len(v.age), bool)
    heads[v.head_row.take(v.hh.take(mask_rows(_in_age(v, lo, hi), True)))] = True
    return heads


def _household_rules(service: ServiceType, v: PersonView, mask: np.ndarray) -> np.ndarray:
    """``mask`` (changed in place) where the conditions on the person's household (type, income,
    living alone) are met."""
    if service.household_types is not None:
        mask &= np.isin(v.household_type, [HOUSEHOLD_TYPES.index(t) for t in service.household_types])
    if service.income == "low":
        mask &= v.low_income
    if service.lives_alone:
        mask &= v.alone
    return mask


def _person_rules(service: ServiceType, v: PersonView, mask: np.ndarray) -> np.ndarray:
    """``mask`` (changed in place) where the conditions on the person's own origin and arrival are met."""
    if service.migration_background != "any":
        mask &= (v.origin != NONE) if service.migration_background == "migrant" else (v.origin == FOREIGN)
    if service.max_years_since_arrival is not None:  # years since arrival <= max, on the years themselves
        mask &= v.arrival >= v.year - service.max_years_since_arrival
    return mask


def eligible_rows(service: ServiceType, v: PersonView) -> np.ndarray:
    """Rows of the eligible persons, ascending; for household-level services the heads of the
    households that have a member of the age and meet the conditions on the household, the heads
    themselves meeting those on the person."""
    lo, hi = service.min_age, service.max_age
    if service.level != "household":
        mask = _in_age(v, lo, hi)
    elif len(v.age) and (lo > 0 or v.age.max() > hi):  # ages are never negative
        mask = _heads_with_member(v, lo, hi)
    else:  # every household has a member of that age
        mask = v.role == HEAD
    return mask_rows(_household_rules(service, v, _person_rules(service, v, mask)), True)


def eligible(service: ServiceType, v: PersonView) -> np.ndarray:
    """Mask of persons eligible (for household-level services: the heads of eligible households)."""
    mask = np.zeros(len(v.age), bool)
    mask[eligible_rows(service, v)] = True
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


@njit(cache=True)
def _chance(table, z, year_step, row, column):
    """A seeker's fixed number for a column: ``table[row, column]``, or, when the table has no rows,
    the number serve_year defines, unit_uniform(hash_step(hash_step(z[row], year), column)) with
    year_step = hash_step's increment for the year."""
    if table.shape[0]:
        return table[row, column]
    return unit_one(mix_one(mix_one(z[row] + year_step) + np.uint64(column + 1) * GOLDEN))


@njit(cache=True)
def _tie(tie, table, z, year_step, row):
    """Column 0 of a seeker (orders equals), drawn on first use and kept in ``tie``."""
    if np.isnan(tie[row]):
        tie[row] = _chance(table, z, year_step, row, 0)
    return tie[row]


@njit(cache=True)
def _admit(rows, target, free, served, waited, by_waiting, tie, table, z, year_step):
    """Seekers ``rows`` apply to areas ``target`` (one per row); per area the first ``free[area]``
    are admitted (``served`` set, ``free`` reduced), ordered by longer waiting first (if
    ``by_waiting``) then the fixed number of column 0, equal keys in the order of ``rows``. Keys
    are drawn only in areas with more applicants than places."""
    applicants = np.zeros(len(free), np.int64)
    for j in range(len(rows)):
        applicants[target[j]] += 1
    contested = np.empty(len(rows), np.int64)
    m = 0
    for j in range(len(rows)):
        if applicants[target[j]] > free[target[j]]:
            contested[m] = j
            m += 1
    contested = contested[:m]
    key = np.empty(m)
    for q in range(m):
        row = rows[contested[q]]
        key[q] = _tie(tie, table, z, year_step, row)
        if by_waiting:
            key[q] = -np.float64(waited[row]) + key[q]
    taken = np.zeros(len(free), np.int64)
    for j in contested[np.argsort(key, kind="mergesort")]:  # stable: equal keys keep the order of rows
        a = target[j]
        if taken[a] < free[a]:
            taken[a] += 1
            served[rows[j]] = a
    for j in range(len(rows)):
        a = target[j]
        if applicants[a] <= free[a]:
            taken[a] += 1
            served[rows[j]] = a
    free -= taken


@njit(cache=True)
def _allocate_rounds(home, previous, waited, free, nearest, access, table, z, year_step):
    """The rounds of ``allocate`` (served area per seeker, -1 unmet); ``free`` is used up. access:
    per home area and round the probability of accepting that round's area (nearest[home, k])."""
    n = len(home)
    served = np.full(n, -1, np.int64)
    tie = np.full(n, np.nan)
    stay = np.flatnonzero(previous >= 0)
    _admit(stay, previous[stay].astype(np.int64), free, served, waited, False, tie, table, z, year_step)
    # own area: applicants to areas with room
    left = np.flatnonzero(served < 0)
    if len(left) == 0 or free.sum() <= 0:
        return served
    rows = left[free[home[left]] > 0]
    _admit(rows, home[rows].astype(np.int64), free, served, waited, True, tie, table, z, year_step)
    # the nearest other areas in order of distance, for those left
    left = np.flatnonzero(served < 0)
    for k in range(access.shape[1]):
        if len(left) == 0 or free.sum() <= 0:
            break
        rows = np.empty(len(left), np.int64)
        target = np.empty(len(left), np.int64)
        m = 0
        for row in left:
            a = nearest[home[row], k]
            if a >= 0 and free[a] > 0 and _chance(table, z, year_step, row, 1 + k) < access[home[row], k]:
                rows[m], target[m] = row, a  # an offer in reach with room, accepted at that distance
                m += 1
        _admit(rows[:m], target[:m], free, served, waited, True, tie, table, z, year_step)
        left = left[served[left] < 0]
    return served


@njit(cache=True)
def _round_distances(dist, nearest):
    """Per area and round the distance to the round's area, ``dist[a, nearest[a, k]]`` (that of
    area 0 where there is none), over the rounds up to the last with an area to try."""
    rounds = 0
    for a in range(nearest.shape[0]):
        for k in range(nearest.shape[1]):
            if nearest[a, k] >= 0:
                rounds = max(rounds, k + 1)
    km = np.empty((nearest.shape[0], rounds))
    for a in range(nearest.shape[0]):
        for k in range(rounds):
            km[a, k] = dist[a, max(nearest[a, k], 0)]
    return km


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
    chance: fixed uniform numbers per seeker, an array of shape (n, 1 + nearest.shape[1]), a
    function (rows, column) -> numbers, or a pair (z, year) of hash states and year from which
    they are computed in compiled code (``_chance``): column 0 orders equals, column 1 + k decides
    whether the k-th nearest area is accepted. Numbers are drawn from states only where they
    decide something (column 0: applicants to areas with more applicants than places).
    """
    z, year_step, table = np.zeros(0, np.uint64), np.uint64(0), np.zeros((0, 0))
    km = _round_distances(dist, nearest)
    rounds = km.shape[1]
    if isinstance(chance, tuple):
        z, year_step = chance[0], key_step(chance[1])
    elif isinstance(chance, np.ndarray):
        table = np.ascontiguousarray(chance, np.float64)
    else:
        table = np.column_stack([chance(np.arange(len(home)), c) for c in range(1 + rounds)]) if len(home) else table
    access = np.exp(-km / decay_km) if decay_km > 0 else np.zeros((len(slots), rounds))
    return _allocate_rounds(home, previous, waited, slots.astype(np.int64), nearest, access, table, z, year_step)


@dataclass
class ServiceYear:
    """What happened to service use in one year (``serve_year``); the model applies it."""

    use: np.ndarray  # (persons, services) int8: area whose offering each person uses this year, -1 none
    wait: np.ndarray  # (persons, services) int8: years on the waiting list
    counts: np.ndarray  # (services, areas, SERVICE_COUNTS) int64, by home area
    unmet_groups: np.ndarray  # (services, areas, UNMET_GROUPS) int64: unmet persons by group, by home area
    uses: tuple[np.ndarray, np.ndarray, np.ndarray]  # person row, service and offering area of each entry of ``use`` >= 0


def _take_up_by_group(service: ServiceType) -> np.ndarray:
    """take_up[origin] x low_income_factor (low income), by group origin x 2 + low income: the
    products of ``take_up_probability`` before the scenario's factors and the clip."""
    return (np.asarray(service.take_up)[:, None] * np.array([1.0, service.low_income_factor])[None, :]).ravel()


@njit(cache=True)
def _seek(rows, draw, group, area, use, wait, old, column, by_group, factor, counts):
    """The eligible ``rows`` who seek the service in ``column``: whose fixed number unit_uniform(z),
    z = hash_step(draw, column), is below the take-up probability clip(by_group[group] x factor, 0,
    1) (factor per row; none if empty). Counts by area the eligible (``counts[:, 0]``) and the
    seekers (``counts[:, 1]``). Returns per seeker: z, row, home area, and last year's use and
    waiting years (in row ``old[row]`` of ``use`` and ``wait``, none where that is -1; in row
    ``row`` if ``old`` is empty)."""
    step = np.uint64(column + 1) * GOLDEN
    at, states = np.empty(len(rows), np.int64), np.empty(len(rows), np.uint64)
    m = 0
    for j in range(len(rows)):
        row = rows[j]
        counts[area[row], 0] += 1
        z = mix_one(np.uint64(draw[row]) + step)
        p = by_group[group[row]] * factor[j] if len(factor) else by_group[group[row]]
        at[m], states[m] = j, z  # kept by counting it (no branch: seeking is hard to predict)
        m += unit_one(z) < min(max(p, 0.0), 1.0)
    seekers = rows[:m].copy()
    home, previous, waited = area[:m].copy(), np.full(m, -1, use.dtype), np.zeros(m, wait.dtype)
    for q in range(m):
        seekers[q] = row = rows[at[q]]
        home[q] = area[row]
        counts[home[q], 1] += 1
        r = old[row] if len(old) else row
        if r >= 0:
            previous[q], waited[q] = use[r, column], wait[r, column]
    return states[:m], seekers, home, previous, waited


@njit(cache=True)
def _record(seekers, home, served, waited, column, use, wait, counts):
    """Enters the year's outcome of the seekers of the service in ``column``: their use (area
    served, -1 unmet) in ``use``, and for the unmet one more year on the waiting list (up to
    MAX_WAIT) in ``wait``; counts the unmet by home area (``counts[:, 3]``) and those of them
    who had waited before (``counts[:, 4]``). Returns, in seeker order, the seekers served and the
    area serving each, and the unmet seekers and their home areas."""
    users, offerings = np.empty(len(seekers), seekers.dtype), np.empty(len(seekers), served.dtype)
    unmet, unmet_home = np.empty(len(seekers), seekers.dtype), np.empty(len(seekers), home.dtype)
    n_users = n_unmet = 0
    for q in range(len(seekers)):
        use[seekers[q], column] = served[q]
        if served[q] < 0:
            wait[seekers[q], column] = min(waited[q] + 1, MAX_WAIT)
            counts[home[q], 3] += 1
            counts[home[q], 4] += waited[q] >= 1
            unmet[n_unmet], unmet_home[n_unmet] = seekers[q], home[q]
            n_unmet += 1
        else:
            users[n_users], offerings[n_users] = seekers[q], served[q]
            n_users += 1
    return users[:n_users].copy(), offerings[:n_users].copy(), unmet[:n_unmet].copy(), unmet_home[:n_unmet].copy()


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
    rows_before: np.ndarray | None = None,
) -> ServiceYear:
    """Demand and allocation of every service of the catalogue in one year (rules in the module docstring).

    view: the persons this year; use, wait: last year's service use and waiting years (persons x
    services, columns in catalogue order); draw: the persons' fixed random numbers; capacity:
    effective capacity per service and area in the service's units (volunteer places included,
    inf = no limit); distance_km: between areas; nearest: per service the nearest other areas
    (``nearest_areas``); changes: the take-up changes in force this year (matched to services by
    name); rows_before: the row in use and wait of each person, -1 for none (new persons), if
    they are not one row per person (``Population.align_service_use``). Inputs are not changed;
    the result holds new arrays.

    The same as, service by service (i = position in the catalogue): rows = eligible_rows(service,
    view); seekers = rows where fixed_uniform(draw, i) < take_up_probability(service, view, rows,
    take_up_factor(...)); allocate(..., chance = fixed_uniform(draw, i, year, column)); counts by
    home area. Faster: hash states are shared between those keys, seeking is decided on integers,
    services with the same eligibility rules share their rows, and numbers are only drawn where
    they decide something.
    """
    n, n_services = len(view.age), len(catalogue)
    n_areas, n_groups = capacity.shape[1], len(UNMET_GROUPS)
    # one column per service after another (Fortran order): a service's reads and writes of
    # its seekers then fall in one column, close together, instead of one row of all each
    new_use = np.full((n, n_services), -1, np.int8, order="F")
    new_wait = np.zeros((n, n_services), np.int8, order="F")
    counts = np.zeros((n_services, n_areas, len(SERVICE_COUNTS)), np.int64)
    # take-up group: origin x 2 + low income (household-level services: the eligible are heads,
    # whose own origin is their household's head_origin, every household having one head)
    group = view.origin * np.int8(2) + view.low_income.view(np.int8)
    person_area = view.area.astype(np.int8) if n_areas <= 127 else view.area  # gathered once per service: small is fast
    old = np.zeros(0, np.int32) if rows_before is None else rows_before
    # every service's eligible rows first: the passes over all persons would otherwise push the
    # columns the seekers are read from out of the cache between services
    rows_by_rule: dict[tuple, np.ndarray] = {}
    for service in catalogue.values():
        rule = _eligibility(service)
        if rule not in rows_by_rule:
            rows_by_rule[rule] = eligible_rows(service, view)
    unmet_keys, unmet_rows = [], []  # (service, home area, group) of every unmet person, counted at the end
    users, offerings = [], []  # per service: who uses it and where
    for i, (name, service) in enumerate(catalogue.items()):
        rows = rows_by_rule[_eligibility(service)]
        factor = take_up_factor(service, view, rows, changes) if any(t.service == service.name for t in changes) else np.zeros(0)
        c = counts[i]
        z, seekers, home, previous, waited = _seek(rows, draw, group, person_area, use, wait, old, i, _take_up_by_group(service), factor, c)
        if service.unlimited:  # an entitlement: everybody is served where they live
            served = home
        else:
            # the allocation's numbers fixed_uniform(draw, i, year, round) continue the seeking number's hash
            served = allocate(
                home,
                previous,
                waited,
                np.floor(capacity[i] / service.units_per_user),
                distance_km,
                nearest[name],
                service.distance_decay_km,
                (z, year),
            )
        served_rows, serving, unmet, unmet_home = _record(seekers, home, served, waited, i, new_use, new_wait, c)
        users.append(served_rows)
        offerings.append(serving)
        c[:, 2] = c[:, 1] - c[:, 3]
        if len(unmet):
            unmet_group = group.take(unmet)
            origin = unmet_group >> 1
            key = (i * n_areas + unmet_home.astype(np.int64)) * n_groups
            unmet_keys += [key + origin, key + 3 + np.where(unmet_group & 1, LOW, NOT_LOW)]
            unmet_rows.append((key + 5, unmet))
    if unmet_rows:  # household types of the unmet, all services at once
        unmet_keys.append(
            np.concatenate([k for k, _ in unmet_rows]) + view.household_type_of_rows(np.concatenate([r for _, r in unmet_rows]))
        )
    keys = np.concatenate(unmet_keys) if unmet_keys else np.zeros(0, np.int64)
    unmet_groups = np.bincount(keys, minlength=n_services * n_areas * n_groups).reshape(n_services, n_areas, n_groups)
    uses = (
        np.concatenate([np.zeros(0, np.int64), *users]),
        np.repeat(np.arange(n_services), [len(u) for u in users]),
        np.concatenate([np.zeros(0, np.int64), *offerings]),
    )
    return ServiceYear(use=new_use, wait=new_wait, counts=counts, unmet_groups=unmet_groups, uses=uses)
