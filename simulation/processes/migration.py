"""Moves across the city boundary, by age: model schedules for out-migration, balances for in-migration.

Out-migration (persons, then households):
- a person aged x leaves with the rate ``k * m(x)``, where m is a Rogers-Castro model migration
  schedule (scenario ``out_migration.schedule``; default: the 'fundamental' parameters of Rogers
  and Castro 1981, a peak in the early twenties, children moving with their parents, a low
  level in old age) and k is set in the base year so that the crude rate equals
  ``out_migration.rate_per_1000`` (Frankfurt 2013: 50,228 moves out over 701,350 residents,
  frankfurt_migration_totals.csv). The age-specific rates then stay fixed, so the number who
  leave follows the age structure.
- persons leave with their households: each household class (with minors; without minors by the
  head's age group) gets one leave probability, fitted each year (bounded least squares) so that
  the expected persons leaving per migration age group equal the schedule's. Families with
  children are the class that carries the children's rate, so they leave more often than
  adults of their age living without children.

In-migration: the arrivals per migration age group (the groups of the federal district migration
matrix: 0-17, 18-24, 25-29, 30-49, 50-64, 65+) are the expected out-migrants of that group plus the
group's net migration: net migration with the rest of Germany (mean of the years named in the
scenario, Kreiswanderungsmatrix 2018-2021: young adults arrive, families leave) plus net migration
from abroad (``abroad_net_per_1000`` of the residents, INKAR 2023: +3.9), spread over the age
groups by the Rogers-Castro shape (ASSUMPTION, no age breakdown of moves to and from abroad is in
the data). Newcomer households copy the make-up of resident households of a class; the number of
newcomer households per class is fitted (non-negative least squares) so that the arrivals per age
group match, then scaled to ``persons_per_year`` if the scenario fixes the volume; within a class,
templates are weighted by ``migration_background_weights`` of the head's origin, and households
with minors by ``family_weight`` (a wave of refugee families). Destinations: the location choice
of processes/location.py (free dwellings, rent, composition), with a prior for the areas where
newcomers settled in 2012 (adults < 5 years at the address, per dwelling), limited by the free
free dwellings. Single newcomers aged 18-34 who find no dwelling move in with a resident of that
age living alone (a flat share, ``flat_shares``); the others who find no dwelling do not come and
are reported as ``unhoused``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit
from scipy.optimize import lsq_linear

from simulation.data import MIGRATION_AGE_GROUPS
from simulation.population import Population, unsigned
from simulation.processes.shared import households_with_member, pairwise_sum, persons_by
from simulation.vocabulary import MAX_AGE, ORIGINS

# the age groups of the federal district migration matrix (data.MIGRATION_AGE_GROUPS)
AGE_GROUPS = tuple(MIGRATION_AGE_GROUPS)
# household classes: with minors; without minors by the head's migration age group 18-24 (heads
# under 18 count here), 25-29, 30-49, 50-64, 65+
CLASSES = ("with_minors", "head_18_24", "head_25_29", "head_30_49", "head_50_64", "head_65_plus")
GROUP_EDGES = np.array([lo for lo, _ in list(MIGRATION_AGE_GROUPS.values())[1:]], np.int16)  # first age of groups 1..
AGE_GROUP_OF_AGE = np.digitize(np.arange(MAX_AGE + 1), GROUP_EDGES).astype(np.int64)
GROUP_STARTS = np.concatenate([[0], GROUP_EDGES]).astype(np.intp)  # first age of every group
FLAT_SHARE_AGES = (18, 34)  # the ages of those living alone who share flats (``flat_shares``)


def age_groups(ages: np.ndarray) -> np.ndarray:
    """Migration age group (int8) of every age: the number of group edges at or below it (a few
    comparisons, cheaper than a table lookup over all residents)."""
    groups = (ages >= GROUP_EDGES[0]).view(np.int8).copy()
    for edge in GROUP_EDGES[1:]:
        groups += ages >= edge
    return groups


def by_group(ages: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Persons (or ``weights``) per migration age group of persons of ``ages``."""
    return np.bincount(age_groups(ages), weights=weights, minlength=len(AGE_GROUPS))


def rogers_castro(ages: np.ndarray, a1: float, alpha1: float, a2: float, alpha2: float, mu2: float, lambda2: float, c: float) -> np.ndarray:
    """The 7-parameter Rogers-Castro model migration schedule m(x) (Rogers and Castro 1981)."""
    x = np.asarray(ages, float)
    return a1 * np.exp(-alpha1 * x) + a2 * np.exp(-alpha2 * (x - mu2) - np.exp(-lambda2 * (x - mu2))) + c


def out_rates(pop: Population, schedule: dict, rate_per_person: float) -> np.ndarray:
    """Out-migration rate per single age: the schedule's shape scaled so that the expected
    persons leaving from ``pop`` equal ``rate_per_person`` x residents."""
    shape = rogers_castro(np.arange(MAX_AGE + 1), **schedule)
    ages = np.bincount(np.minimum(pop.persons.age, MAX_AGE), minlength=MAX_AGE + 1)  # residents per single age
    return shape * rate_per_person * ages.sum() / max(float(ages @ shape), 1e-12)


@njit(cache=True)
def _classify(
    age: np.ndarray, hh: np.ndarray, head: np.ndarray, size: np.ndarray, group_of_age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class per household, households per class, whether one person aged FLAT_SHARE_AGES lives
    in it alone): a household with a member under 18 (the first migration age group) is
    'with_minors' (0), any other has the class of its head's age group (a head under 18 counts as
    18-24). ``group_of_age``: the group of every age, the last for everyone older."""
    with_minors = households_with_member(hh, age, 0, GROUP_EDGES[0] - 1, len(head))
    oldest = len(group_of_age) - 1
    lo, hi = FLAT_SHARE_AGES
    of = np.empty(len(head), np.uint8)
    alone = np.empty(len(head), np.bool_)
    households = np.zeros(len(CLASSES), np.int64)
    for h in range(len(head)):
        head_age = age[head[h]]
        c = 0 if with_minors[h] else max(group_of_age[min(head_age, oldest)], 1)
        of[h] = c
        households[c] += 1
        alone[h] = (size[h] == 1) & (lo <= head_age) & (head_age <= hi)
    return of, households, alone


@njit(cache=True)
def _draw_leaving(
    rng: np.random.Generator, prob: np.ndarray, of: np.ndarray, alone: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per household: its class if it leaves (the next uniform number of ``rng``, one per
    household in row order, below its class's probability ``prob``), else len(prob); the
    households leaving per class; and the classes and ``alone`` of those that stay, in row order."""
    n_classes = len(prob)
    key = np.empty(len(of), np.uint8)
    leaving = np.zeros(n_classes, np.int64)
    staying = np.empty(len(of), np.uint8)
    staying_alone = np.empty(len(of), np.bool_)
    n = 0
    for h in range(len(of)):
        c = of[h]
        if rng.random() < prob[c]:
            key[h] = c
            leaving[c] += 1
        else:
            key[h] = n_classes
            staying[n] = c
            staying_alone[n] = alone[h]
            n += 1
    return key, leaving, staying[:n], staying_alone[:n]


@njit(cache=True)
def _leavers_and_stayers(
    hh: np.ndarray, key: np.ndarray, age: np.ndarray, area: np.ndarray, origin: np.ndarray, n_areas: int
) -> tuple[np.ndarray, np.ndarray]:
    """One pass over the persons: the members of the leaving households per class and single age
    (``key``: per household its class if it leaves, else len(CLASSES); the open age counts
    everyone older), and those of the staying households per area and origin group."""
    gone = np.zeros((len(CLASSES), MAX_AGE + 1), np.int64)
    residents = np.zeros((n_areas, len(ORIGINS)), np.int64)
    for i in range(len(hh)):
        h = hh[i]
        if key[h] < len(CLASSES):
            gone[key[h], min(age[i], MAX_AGE)] += 1
        else:
            residents[area[h], origin[i]] += 1
    return gone, residents


@dataclass(frozen=True)
class HouseholdClasses:
    """Households by class, and the persons of each single age in each class; and per household
    whether one person aged FLAT_SHARE_AGES lives in it alone (who shares a flat, ``flat_shares``)."""

    of: np.ndarray  # class per household row (uint8)
    by_age: np.ndarray  # (classes, ages 0..MAX_AGE) persons, the open age counting everyone older
    households: np.ndarray  # households per class
    alone: np.ndarray  # per household row: one person aged FLAT_SHARE_AGES lives in it alone

    @classmethod
    def of_population(cls, pop: Population) -> "HouseholdClasses":
        hh, age = unsigned(pop.persons.hh), unsigned(pop.persons.age)
        of, households, alone = _classify(age, hh, unsigned(pop.head_row()), pop.size(), AGE_GROUP_OF_AGE)
        return cls(of, persons_by(hh, of, age, len(CLASSES), MAX_AGE + 1), households, alone)

    def leaving(
        self, pop: Population, key: np.ndarray, households: np.ndarray, staying_of: np.ndarray, staying_alone: np.ndarray
    ) -> tuple["HouseholdClasses", np.ndarray, np.ndarray]:
        """When some households leave (``key``: per household its class if it leaves, else
        len(CLASSES); ``households``: those leaving per class; ``staying_of``, ``staying_alone``:
        the classes and ``alone`` of the others, in row order): (the classes of the households
        that stay, the members of those that leave per migration age group, the members of those
        that stay per area and origin group). A household's class and facts depend only on its own
        members, so those that stay keep theirs."""
        p = pop.persons
        hh, age, origin = unsigned(p.hh), unsigned(p.age), unsigned(p.origin)
        gone, residents = _leavers_and_stayers(hh, key, age, unsigned(pop.households.area), origin, pop.n_areas)
        stayers = HouseholdClasses(staying_of, self.by_age - gone, self.households - households, staying_alone)
        return stayers, np.add.reduceat(gone.sum(axis=0), GROUP_STARTS), residents

    def persons_by_class(self) -> np.ndarray:
        """(age groups, classes): persons of each migration age group living in households of each class."""
        return np.add.reduceat(self.by_age, GROUP_STARTS, axis=1).T.astype(float)

    def households_by_class(self) -> np.ndarray:
        return self.households.astype(float)

    def persons_by_age(self) -> np.ndarray:
        """Persons per single age 0..MAX_AGE (the open age counts everyone older)."""
        return self.by_age.sum(axis=0)


def _relative_fit(matrix: np.ndarray, target: np.ndarray, upper: float) -> np.ndarray:
    """Least-squares x in [0, upper] of matrix @ x = target, every equation relative to its target
    (so that small age groups count as much as large ones)."""
    scale = 1.0 / np.maximum(np.abs(target), 1.0)
    a, b = matrix * scale[:, None], target * scale
    # the unbounded least-squares solution is the answer when it lies within the bounds (as it
    # does in practice); lsq_linear starts from this very solution and returns it then
    x = np.linalg.lstsq(a, b, rcond=-1)[0]
    if np.all((x >= 0.0) & (x <= upper)):
        return x
    return lsq_linear(a, b, bounds=(0.0, upper)).x


def expected_leavers(classes: HouseholdClasses, rates: np.ndarray) -> np.ndarray:
    """Expected persons leaving per migration age group under the per-age ``rates`` (``classes``:
    those of the population)."""
    return np.bincount(AGE_GROUP_OF_AGE, weights=classes.persons_by_age() * rates, minlength=len(AGE_GROUPS))


def leave_probabilities(classes: HouseholdClasses, target: np.ndarray) -> np.ndarray:
    """Leave probability per household class so that expected leavers per age group ~ ``target``."""
    return _relative_fit(classes.persons_by_class(), target, 1.0)


@dataclass(frozen=True)
class Emigrants:
    """Households leaving the city this year."""

    leave: np.ndarray  # mask per household row
    by_group: np.ndarray  # their members per migration age group
    stayers: HouseholdClasses  # the classes of the households that stay (rows once the others left)
    residents: np.ndarray  # the members of the households that stay per area and origin group


def draw_emigrants(pop: Population, classes: HouseholdClasses, expected: np.ndarray, rng: np.random.Generator) -> Emigrants:
    """Households that leave the city this year, so that ``expected`` persons per migration age
    group leave on average (rules in the module docstring); ``classes``: those of ``pop``."""
    prob = leave_probabilities(classes, expected)
    key, households, staying_of, staying_alone = _draw_leaving(rng, prob, classes.of, classes.alone)  # rng.random(households)
    stayers, by_group, residents = classes.leaving(pop, key, households, staying_of, staying_alone)
    return Emigrants(key < len(CLASSES), by_group, stayers, residents)


def schedule_shares(schedule: dict, population_by_age: np.ndarray) -> np.ndarray:
    """Share of each migration age group in sum over ages of population x m(x) (the shape by which
    a total without age breakdown is spread)."""
    weight = rogers_castro(np.arange(MAX_AGE + 1), **schedule) * population_by_age
    return np.bincount(AGE_GROUP_OF_AGE, weights=weight, minlength=len(AGE_GROUPS)) / max(weight.sum(), 1e-12)


@dataclass(frozen=True)
class Arrivals:
    """Newcomer households of the year: copies of ``templates`` moving into ``dest``."""

    templates: np.ndarray  # household rows whose members' make-up the newcomers copy
    dest: np.ndarray  # destination area per new household
    draw: np.ndarray  # the newcomers' fixed random numbers (one per person, uint32)
    unhoused: int  # persons who found neither a dwelling nor a flat share and do not come
    wanted: np.ndarray  # arrivals aimed at per migration age group (persons)
    lodger_templates: np.ndarray  # person rows whose make-up the flat mates copy
    hosts: np.ndarray  # household rows the flat mates join (as 'other' members)
    lodger_draw: np.ndarray  # the flat mates' fixed random numbers


def immigrate(
    pop: Population,
    classes: HouseholdClasses,
    arrivals_by_group: np.ndarray,
    volume: float | None,
    origin_weights: np.ndarray,
    family_weight: float,
    choose: Callable[[np.ndarray, np.ndarray], np.ndarray],
    capacity: np.ndarray,
    rng: np.random.Generator,
) -> Arrivals:
    """Who arrives this year and where (rules in the module docstring); the model adds them.

    ``classes``: the household classes of ``pop``; ``arrivals_by_group``: persons wanted per migration age group; ``volume``: if not None, the
    total persons, keeping the age mix of the fit; ``choose(free, template rows) -> areas`` (-1:
    none) is the location choice (processes/location.py), given the free dwellings per area."""
    empty = np.zeros(0, np.int64)
    wanted = np.maximum(arrivals_by_group, 0.0)
    if len(pop.households) == 0 or wanted.sum() <= 0 or (volume is not None and volume <= 0):
        return Arrivals(empty, empty, np.zeros(0, np.uint32), 0, wanted, empty, empty, np.zeros(0, np.uint32))
    count = classes.households_by_class()
    mean_members = classes.persons_by_class() / np.maximum(count, 1.0)
    per_class = _relative_fit(mean_members, wanted, np.inf) * (count > 0)
    per_class[0] *= family_weight
    persons = mean_members.sum(axis=0)
    if volume is not None:
        per_class *= volume / max(float(per_class @ persons), 1e-12)
    templates = _draw_templates(pop, classes, per_class, origin_weights, rng)
    dest = choose(capacity, templates)
    size = pop.size()
    housed = dest >= 0
    lodgers, hosts = flat_shares(pop, classes, templates.compress(~housed), rng)
    unhoused = int(size[templates.compress(~housed)].sum()) - len(lodgers)
    templates, dest = templates.compress(housed), dest.compress(housed)
    draw = rng.integers(0, 2**32, int(size[templates].sum()), dtype=np.uint32)
    lodger_draw = rng.integers(0, 2**32, len(lodgers), dtype=np.uint32)
    return Arrivals(templates, dest, draw, unhoused, wanted, lodgers, hosts, lodger_draw)


def flat_shares(
    pop: Population, classes: HouseholdClasses, homeless: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Newcomers without a dwelling who live alone and are aged 18-34 (FLAT_SHARE_AGES; ``classes``:
    those of ``pop``, which tell who lives so) move in with a resident of
    that age living alone, as flat mates (ASSUMPTION: flat shares are how young adults arrive in a
    tight market; the register counts such flat mates as households of their own or as 'other'
    members). Each host takes one; hosts and the newcomers who get one are drawn at random.
    Returns (person rows of the templates, household rows of the hosts)."""
    hosts = np.flatnonzero(classes.alone)
    movers = homeless.compress(classes.alone.take(homeless))
    n = min(len(movers), len(hosts))
    return pop.head_row().take(rng.permutation(movers)[:n]), rng.permutation(hosts)[:n]


def _draw_templates(
    pop: Population, classes: HouseholdClasses, per_class: np.ndarray, origin_weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Template household rows: per class (``classes``: those of ``pop``), the expected number
    rounded at random (so the mean is exact), drawn with replacement with weight = origin weight
    of the head."""
    whole = np.floor(per_class)
    n = (whole + (rng.random(len(per_class)) < per_class - whole)).astype(np.int64)
    head, origin = unsigned(pop.head_row()), unsigned(pop.persons.origin)
    return _draw_by_class(rng, n, classes.of, classes.households, head, origin, origin_weights)


@njit(cache=True)
def _draw_by_class(
    rng: np.random.Generator,
    n: np.ndarray,
    of: np.ndarray,
    households: np.ndarray,
    head: np.ndarray,
    origin: np.ndarray,
    origin_weights: np.ndarray,
) -> np.ndarray:
    """Class after class, ``n`` (per class) household rows of the class (``of``; ``households``
    per class) drawn with replacement, each with the weight ``origin_weights`` of its head's
    origin (``_weighted_choice``); a class whose weights are all 0 draws none."""
    rows, weight, start = _group_by_class(of, households, head, origin, origin_weights)
    drawn = np.empty(n.sum(), np.int64)
    k = 0
    for c in range(len(n)):
        w = weight[start[c] : start[c + 1]]
        if n[c] > 0 and pairwise_sum(w) > 0:
            drawn[k : k + n[c]] = rows[start[c] + _weighted_choice(rng, w, n[c])]
            k += n[c]
    return drawn[:k]


@njit(cache=True)
def _group_by_class(
    of: np.ndarray, households: np.ndarray, head: np.ndarray, origin: np.ndarray, origin_weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Household rows grouped by class (``of``; ``households`` per class), in row order within a
    class, the weight of each in the same order (``origin_weights`` of its head's origin), and
    where each class starts (class c's part: start[c] to start[c + 1])."""
    start = np.zeros(len(households) + 1, np.int64)
    start[1:] = np.cumsum(households)
    cursor = start[:-1].copy()
    rows = np.empty(len(of), np.int64)
    weight = np.empty(len(of), origin_weights.dtype)
    for h in range(len(of)):
        k = cursor[of[h]]
        rows[k] = h
        weight[k] = origin_weights[origin[head[h]]]
        cursor[of[h]] = k + 1
    return rows, weight, start


@njit(cache=True)
def _weighted_choice(rng: np.random.Generator, weight: np.ndarray, n: int) -> np.ndarray:
    """``rng.choice(len(weight), n, p=weight / weight.sum())``: the same numbers from the same draws
    (n uniform numbers looked up in the cumulative distribution), without the checks of ``p``."""
    return _choice_lookup(weight, pairwise_sum(weight), rng.random(n))


@njit(cache=True)
def _choice_lookup(weight: np.ndarray, total: float, uniform: np.ndarray) -> np.ndarray:
    """Per uniform number: how many entries of the cumulative distribution are at or below it,
    as ``rng.choice`` looks it up (the running sum of weight / total, divided by its last entry;
    ``searchsorted(side='right')``). The count is found through equal buckets of [0, 1): those
    before the number's bucket are all below it, those after it all above; within its bucket the
    entries are counted one by one (one or two on average: the buckets are as many as the entries,
    and a number falls into a bucket with the bucket's width, not with its entries)."""
    m = len(weight)
    cdf = np.empty(m)
    running = 0.0
    for j in range(m):
        running += weight[j] / total
        cdf[j] = running
    cdf /= cdf[-1]
    buckets = 1  # a power of two: the bucket of a number, floor(number x buckets), is exact in binary
    while buckets < m:
        buckets *= 2
    first = np.zeros(buckets + 2, np.int64)  # first[b]: entries in buckets before b
    for j in range(m):
        first[int(cdf[j] * buckets) + 1] += 1
    first = np.cumsum(first)
    out = np.empty(len(uniform), np.int64)
    for i in range(len(uniform)):
        b = int(uniform[i] * buckets)
        k = first[b]
        while k < first[b + 1] and cdf[k] <= uniform[i]:
            k += 1
        out[i] = k
    return out
