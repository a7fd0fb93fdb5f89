"""The yearly service allocation (services.serve_year) on small hand-made populations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulation import catalogue
from simulation.catalogue import ServiceType
from simulation.data import DEFAULT_DATA_DIR
from simulation.processes import services, shared
from simulation.processes.services import PersonView, ServiceYear, TakeUpChange, serve_year
from simulation.vocabulary import CHILD, FOREIGN, GERMAN_MB, HEAD, HOUSEHOLD_TYPES, LOW, NONE, NOT_LOW, ORIGINS, PARTNER, UNMET_GROUPS
from tests.helpers import make_population

YEAR = 2030
ELIGIBLE, DEMAND, SERVED, UNMET, WAITING = range(5)


def service(name: str = "club", **fields) -> ServiceType:
    """A person-level service for everybody, sought by everybody, own area only; fields override."""
    base = ServiceType(
        name=name,
        label_en=name,
        label_de=name,
        unit="places",
        level="person",
        min_age=0,
        max_age=200,
        household_types=None,
        income="any",
        migration_background="any",
        max_years_since_arrival=None,
        lives_alone=False,
        take_up=(1.0, 1.0, 1.0),
        low_income_factor=1.0,
        units_per_user=1.0,
        distance_decay_km=0.0,
        max_distance_km=5.0,
        base_capacity=None,
        base_coverage=1.0,
        unlimited=False,
        uses_volunteers=False,
        source="test",
        assumption="test",
    )
    return replace(base, **fields)


def line_distances(n: int) -> np.ndarray:
    """Areas on a line, 1 km apart."""
    x = np.arange(n, dtype=float)
    return np.abs(x[:, None] - x[None, :])


def one_person_households(areas: list[int], origins: list[int] | None = None, ages: list[int] | None = None):
    """One adult living alone per entry, in the given areas."""
    n = len(areas)
    origins = origins or [NONE] * n
    ages = ages or [40] * n
    return make_population([(ages[k], 0, origins[k], k, HEAD) for k in range(n)], [(a, NOT_LOW, 5) for a in areas], n_areas=max(areas) + 1)


def year_of(pop, cat: dict[str, ServiceType], capacity, use=None, wait=None, changes=(), dist=None) -> ServiceYear:
    """serve_year for a population and catalogue; no use and no waiting before, unless given."""
    n, s = len(pop.persons), len(cat)
    capacity = np.asarray(capacity, float).reshape(s, -1)
    dist = line_distances(capacity.shape[1]) if dist is None else dist
    use = np.full((n, s), -1, np.int8) if use is None else np.asarray(use, np.int8).reshape(n, s)
    wait = np.zeros((n, s), np.int8) if wait is None else np.asarray(wait, np.int8).reshape(n, s)
    nearest = {name: services.nearest_areas(dist, t.max_distance_km) for name, t in cat.items()}
    return serve_year(cat, PersonView.of(pop, YEAR), use, wait, pop.persons.draw, capacity, dist, nearest, list(changes), YEAR)


def random_city(seed: int, n_households: int = 400, n_areas: int = 4):
    """Families, couples and people living alone of all ages and origins in a few areas, with
    last year's service use and waiting years for the real catalogue."""
    rng = np.random.default_rng(seed)
    people, households = [], []
    for h in range(n_households):
        households.append((int(rng.integers(n_areas)), LOW if rng.random() < 0.25 else NOT_LOW, int(rng.integers(0, 20))))
        origin = int(rng.choice(3, p=[0.6, 0.2, 0.2]))
        head_age = int(rng.integers(18, 95))
        people.append((head_age, int(rng.integers(2)), origin, h, HEAD))
        if rng.random() < 0.5:
            people.append((int(np.clip(head_age + rng.integers(-5, 6), 18, 100)), int(rng.integers(2)), origin, h, PARTNER))
        if head_age < 55:
            for _ in range(int(rng.integers(0, 4))):
                people.append((int(rng.integers(0, 18)), int(rng.integers(2)), origin, h, CHILD))
    pop = make_population(people, households, n_areas)
    p = pop.persons
    p.draw[:] = rng.integers(0, 2**32, len(p), dtype=np.uint32)
    p.arrival[:] = YEAR - rng.integers(0, 10, len(p))
    cat = catalogue.load_catalogue(DEFAULT_DATA_DIR)
    n_services = len(cat)
    use = np.where(rng.random((len(p), n_services)) < 0.3, rng.integers(0, n_areas, (len(p), n_services)), -1).astype(np.int8)
    wait = np.where(use < 0, rng.integers(0, 3, (len(p), n_services)), 0).astype(np.int8)
    capacity = rng.integers(0, 25, (n_services, n_areas)).astype(float)
    capacity[[list(cat).index(name) for name, t in cat.items() if t.unlimited]] = np.inf
    return pop, cat, capacity, use, wait


def reference_year(pop, cat, capacity, use, wait, dist, changes) -> ServiceYear:
    """The yearly allocation spelled out with the module's public rules, service by service, as the
    model did it before serve_year (the definition serve_year must reproduce exactly)."""
    view = PersonView.of(pop, YEAR)
    draw = pop.persons.draw
    use, wait = use.copy(), wait.copy()
    n_areas, n_groups = capacity.shape[1], len(UNMET_GROUPS)
    counts = np.zeros((len(cat), n_areas, 5), np.int64)
    groups = np.zeros((len(cat), n_areas, n_groups), np.int64)
    for i, (name, t) in enumerate(cat.items()):
        rows = np.flatnonzero(services.eligible(t, view))
        factor = np.ones(len(rows))
        origin = (view.head_origin if t.level == "household" else view.origin)[rows]
        for c in changes:
            if c.service == name:
                hit = np.isin(origin, c.origins)
                in_range = (view.age >= c.min_age) & (view.age <= c.max_age)
                if t.level == "household":
                    in_range = (np.bincount(view.hh[in_range], minlength=view.n_households) > 0)[view.hh]
                factor[hit & in_range[rows]] *= c.factor
        seekers = rows[shared.fixed_uniform(draw[rows], i) < services.take_up_probability(t, view, rows, factor)]
        waited = wait[seekers, i]
        if t.unlimited:
            served = view.area[seekers].copy()
        else:
            served = services.allocate(
                view.area[seekers],
                use[seekers, i].astype(np.int64),
                waited,
                np.floor(capacity[i] / t.units_per_user),
                dist,
                services.nearest_areas(dist, t.max_distance_km),
                t.distance_decay_km,
                lambda r, k, d=draw[seekers], i=i: shared.fixed_uniform(d[r], i, YEAR, k),
            )
        unmet = seekers[served < 0]
        for k, who in enumerate([rows, seekers, seekers[served >= 0], unmet, unmet[waited[served < 0] >= 1]]):
            counts[i, :, k] = np.bincount(view.area[who], minlength=n_areas)
        origin = (view.head_origin if t.level == "household" else view.origin)[unmet]
        codes = np.concatenate([origin, 3 + np.where(view.low_income[unmet], LOW, NOT_LOW), 5 + view.household_type[unmet]])
        groups[i] = np.bincount(np.tile(view.area[unmet], 3) * n_groups + codes, minlength=n_areas * n_groups).reshape(n_areas, -1)
        new_wait = np.zeros(len(use), np.int8)
        new_wait[unmet] = np.minimum(wait[unmet, i].astype(np.int16) + 1, 127)
        use[:, i] = -1
        use[seekers, i] = served
        wait[:, i] = new_wait
    person, service = np.nonzero(use >= 0)
    return ServiceYear(use=use, wait=wait, counts=counts, unmet_groups=groups, uses=(person, service, use[person, service]))


# ---- hand-computed allocations -----------------------------------------------------------------
def test_two_areas_three_seekers_one_place():
    # area 0: two seekers, no place; area 1: one seeker and its single place. Own area first: the
    # place goes to the seeker of area 1 although the first seeker of area 0 has waited longest.
    pop = one_person_households([0, 0, 1])
    club = service(distance_decay_km=1e9)  # any distance is accepted: only the places decide
    out = year_of(pop, {"club": club}, [[0, 1]], wait=[3, 0, 0])
    assert out.use[:, 0].tolist() == [-1, -1, 1]
    assert out.wait[:, 0].tolist() == [4, 1, 0]
    assert out.counts[0].tolist() == [[2, 2, 0, 2, 1], [1, 1, 1, 0, 0]]


def test_the_longest_waiting_seeker_takes_the_place_of_another_area():
    # area 1's second place goes to a seeker of area 0: the one who has waited longer, not the other
    pop = one_person_households([0, 0, 1])
    club = service(distance_decay_km=1e9)
    u = shared.fixed_uniform(pop.persons.draw[:2], 0, YEAR, 1)
    assert (u < np.exp(-1.0 / 1e9)).all()  # both would accept the offer 1 km away
    for waited, winner in (([2, 0, 0], 0), ([0, 1, 0], 1)):
        out = year_of(pop, {"club": club}, [[0, 2]], wait=waited)
        expected = [-1, -1, 1]
        expected[winner] = 1
        assert out.use[:, 0].tolist() == expected


def test_last_years_users_keep_their_place_then_the_longest_waiting():
    # area 0: one place, seekers who waited 0 and 2 years; area 1: one place, last year's user and
    # a seeker who has waited 5 years. Own area only (distance_decay_km = 0).
    pop = one_person_households([0, 0, 1, 1], origins=[NONE, NONE, GERMAN_MB, FOREIGN])
    out = year_of(pop, {"club": service()}, [[1, 1]], use=[-1, -1, 1, -1], wait=[0, 2, 0, 5])
    assert out.use[:, 0].tolist() == [-1, 0, 1, -1]
    assert out.wait[:, 0].tolist() == [1, 0, 0, 6]
    assert out.counts[0].tolist() == [[2, 2, 1, 1, 0], [2, 2, 1, 1, 1]]
    groups = dict(zip(UNMET_GROUPS, out.unmet_groups[0].T.tolist()))
    assert groups[("migration_background", "none")] == [1, 0]
    assert groups[("migration_background", "foreign")] == [0, 1]
    assert groups[("income_class", "not_low")] == [1, 1]
    assert groups[("household_type", "single")] == [1, 1]


def test_an_entitlement_serves_every_seeker_where_they_live():
    pop = one_person_households([0, 1, 1, 2])
    out = year_of(pop, {"benefit": service("benefit", unlimited=True)}, [[np.inf] * 3])
    assert out.use[:, 0].tolist() == [0, 1, 1, 2]
    assert (out.wait == 0).all() and (out.counts[0, :, UNMET] == 0).all()


def test_a_household_level_service_serves_the_head_of_an_eligible_household():
    # household 0: a parent with a child of 2; household 1: a couple without children
    people = [(35, 0, NONE, 0, HEAD), (2, 1, NONE, 0, CHILD), (40, 0, NONE, 1, HEAD), (38, 1, NONE, 1, PARTNER)]
    pop = make_population(people, [(0, NOT_LOW, 3), (0, NOT_LOW, 3)], n_areas=1)
    out = year_of(pop, {"family": service("family", level="household", max_age=5)}, [[5]])
    assert out.use[:, 0].tolist() == [0, -1, -1, -1]
    assert out.counts[0, 0, ELIGIBLE] == 1


def eligible_by_definition(t: ServiceType, pop) -> list[int]:
    """The eligible rows of a service spelled out person by person from the rules (module docstring)."""
    p, h = pop.persons, pop.households
    members = [np.flatnonzero(p.hh == k) for k in range(len(h))]
    types = pop.household_type()
    rows = []
    for i in range(len(p)):
        k = p.hh[i]
        if t.level == "household":
            aged = any(t.min_age <= p.age[j] <= t.max_age for j in members[k])
            if p.role[i] != HEAD or not aged:
                continue
        elif not t.min_age <= p.age[i] <= t.max_age:
            continue
        if t.household_types is not None and HOUSEHOLD_TYPES[types[k]] not in t.household_types:
            continue
        if (t.income == "low" and h.income[k] != LOW) or (t.lives_alone and len(members[k]) != 1):
            continue
        if (t.migration_background == "migrant" and p.origin[i] == NONE) or (
            t.migration_background == "foreign" and p.origin[i] != FOREIGN
        ):
            continue
        if t.max_years_since_arrival is not None and YEAR - p.arrival[i] > t.max_years_since_arrival:
            continue
        rows.append(i)
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_eligible_rows_follow_the_rules_person_by_person(seed):
    """Random combinations of every condition, at person and household level."""
    pop = random_city(seed, n_households=150)[0]
    view = PersonView.of(pop, YEAR)
    rng = np.random.default_rng(seed)
    found = 0
    for k in range(40):
        lo = 0 if k % 4 == 0 else int(rng.integers(0, 80))  # from 0: every household has a member of the age
        t = service(
            level=str(rng.choice(["person", "household"])),
            min_age=lo,
            max_age=int(rng.choice([lo - 1, lo + 5, lo + 30, 200])),
            household_types=None if rng.random() < 0.5 else tuple(rng.choice(HOUSEHOLD_TYPES, 2, replace=False)),
            income=str(rng.choice(["any", "low"])),
            migration_background=str(rng.choice(["any", "migrant", "foreign"])),
            max_years_since_arrival=None if rng.random() < 0.5 else int(rng.integers(0, 8)),
            lives_alone=bool(rng.random() < 0.3),
        )
        expected = eligible_by_definition(t, pop)
        assert services.eligible_rows(t, view).tolist() == expected, t
        found += len(expected) > 0
    assert found >= 10  # the comparison is not only of empty lists
    # every head at household level; nobody for ages beyond every stored age (int16)
    everyone = service(level="household", min_age=0, max_age=200)
    assert services.eligible_rows(everyone, view).tolist() == np.flatnonzero(pop.persons.role == HEAD).tolist()
    for level in ("person", "household"):
        assert len(services.eligible_rows(service(level=level, min_age=40000, max_age=50000), view)) == 0


# ---- take-up changes ---------------------------------------------------------------------------
def test_a_take_up_change_with_factor_zero_removes_that_groups_demand():
    origins = [NONE, FOREIGN, GERMAN_MB, FOREIGN, NONE, FOREIGN]
    ages = [70, 70, 70, 50, 50, 80]
    pop = one_person_households([0, 0, 1, 1, 0, 1], origins=origins, ages=ages)
    cat = {"club": service(take_up=(0.6, 0.6, 0.6)), "meeting": service("meeting")}
    change = TakeUpChange(service="meeting", factor=0.0, origins=(ORIGINS.index("foreign"),), min_age=65, max_age=120)
    out = year_of(pop, cat, [[10, 10], [10, 10]], changes=[change])
    # foreigners 65+ (persons 1 and 5) no longer seek the meeting place; everybody else still does
    assert out.use[:, 1].tolist() == [0, -1, 1, 1, 0, -1]
    assert out.counts[1, :, DEMAND].tolist() == [2, 2]
    # the other service is untouched
    assert np.array_equal(out.use[:, 0], year_of(pop, cat, [[10, 10], [10, 10]]).use[:, 0])


def test_take_up_factor_of_household_level_services_looks_at_the_members_ages():
    people = [
        (40, 0, FOREIGN, 0, HEAD),
        (70, 1, FOREIGN, 0, PARTNER),
        (40, 0, FOREIGN, 1, HEAD),
        (40, 0, NONE, 2, HEAD),
        (80, 1, NONE, 2, PARTNER),
    ]
    pop = make_population(people, [(0, LOW, 1), (0, LOW, 1), (0, LOW, 1)], n_areas=1)
    view = PersonView.of(pop, YEAR)
    counselling = service("counselling", level="household", income="low")
    rows = np.flatnonzero(services.eligible(counselling, view))
    assert rows.tolist() == [0, 2, 3]
    changes = [
        TakeUpChange("counselling", 2.0, (FOREIGN,), 65, 120),
        TakeUpChange("other", 9.0, (FOREIGN,), 0, 120),
        TakeUpChange("counselling", 1.5, (FOREIGN, NONE), 0, 120),
    ]
    # household 0 has a foreign head and a member of 70; household 1 none over 65; household 2 a head without migration background
    assert services.take_up_factor(counselling, view, rows, changes).tolist() == [3.0, 1.5, 1.5]


# ---- properties on random small cities ---------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_serve_year_reproduces_the_rules_service_by_service(seed):
    pop, cat, capacity, use, wait = random_city(seed)
    dist = line_distances(capacity.shape[1]) * 1.5
    changes = [TakeUpChange("senior_meeting", 1.5, (GERMAN_MB, FOREIGN), 65, 120), TakeUpChange("social_counselling", 0.5, (NONE,), 0, 5)]
    for changes_in_force in ([], changes):
        expected = reference_year(pop, cat, capacity, use, wait, dist, changes_in_force)
        out = year_of(pop, cat, capacity, use, wait, changes_in_force, dist)
        for field in ("use", "wait", "counts", "unmet_groups"):
            assert np.array_equal(getattr(out, field), getattr(expected, field)), field
            assert getattr(out, field).dtype == getattr(expected, field).dtype, field
    assert (out.counts[..., UNMET] > 0).any() and (out.counts[..., SERVED] > 0).any()  # places are scarce somewhere, not everywhere


def test_serve_year_does_not_change_its_inputs():
    pop, cat, capacity, use, wait = random_city(4)
    dist = line_distances(capacity.shape[1])
    view = PersonView.of(pop, YEAR)
    nearest = {name: services.nearest_areas(dist, t.max_distance_km) for name, t in cat.items()}
    draw = pop.persons.draw
    inputs = [
        view.area,
        view.age,
        view.origin,
        view.low_income,
        view.alone,
        view.role,
        view.income,
        view.size,
        view.head_row,
        view.hh,
        use,
        wait,
        draw,
        capacity,
        dist,
        *nearest.values(),
    ]
    before = [a.copy() for a in inputs]
    out = serve_year(cat, view, use, wait, draw, capacity, dist, nearest, [TakeUpChange("youth_centre", 2.0, (NONE,), 0, 120)], YEAR)
    assert all(np.array_equal(a, b) for a, b in zip(inputs, before))
    assert not np.shares_memory(out.use, use) and not np.shares_memory(out.wait, wait)
    assert out.use.shape == use.shape and out.use.dtype == np.int8 and out.wait.dtype == np.int8


@pytest.mark.parametrize("seed", [5, 6])
def test_counts_match_the_returned_arrays(seed):
    pop, cat, capacity, use, wait = random_city(seed)
    out = year_of(pop, cat, capacity, use, wait)
    home = pop.person_area()
    n_areas = capacity.shape[1]
    for i, (name, t) in enumerate(cat.items()):
        c = out.counts[i]
        users = out.use[:, i] >= 0
        unmet = out.wait[:, i] > 0  # the unmet wait one year more; everybody else waits no more
        assert np.array_equal(c[:, SERVED], np.bincount(home[users], minlength=n_areas)), name
        assert np.array_equal(c[:, UNMET], np.bincount(home[unmet], minlength=n_areas)), name
        assert np.array_equal(c[:, WAITING], np.bincount(home[out.wait[:, i] > 1], minlength=n_areas)), name
        assert np.array_equal(c[:, SERVED] + c[:, UNMET], c[:, DEMAND]), name
        assert (c[:, DEMAND] <= c[:, ELIGIBLE]).all(), name
        assert np.array_equal(out.wait[unmet, i], np.minimum(wait[unmet, i] + 1, 127)), name
        if not t.unlimited:  # places: users per area of the offering they use, within its capacity
            per_offering = np.bincount(out.use[users, i], minlength=n_areas)
            assert (per_offering * t.units_per_user <= capacity[i]).all(), name
        else:
            assert np.array_equal(out.use[users, i], home[users]) and not unmet.any(), name
        for dimension in ("migration_background", "income_class", "household_type"):
            columns = [k for k, (d, _) in enumerate(UNMET_GROUPS) if d == dimension]
            assert np.array_equal(out.unmet_groups[i][:, columns].sum(axis=1), c[:, UNMET]), (name, dimension)
    person, service, offering = out.uses  # the entries of use that are a use, in any order
    table = np.full_like(out.use, -1)
    table[person, service] = offering
    assert np.array_equal(table, out.use) and len(person) == (out.use >= 0).sum()


def test_more_places_never_leave_more_people_unmet():
    pop, cat, capacity, use, wait = random_city(7)
    base = year_of(pop, cat, capacity, use, wait)
    rng = np.random.default_rng(7)
    for _ in range(5):
        more = capacity.copy()
        more[rng.integers(len(cat)), rng.integers(capacity.shape[1])] += rng.integers(1, 4)
        out = year_of(pop, cat, more, use, wait)
        assert (out.wait <= base.wait).all()  # nobody unmet now who was served before
        assert (out.counts[..., UNMET] <= base.counts[..., UNMET]).all()


def test_household_type_of_rows_matches_the_full_column():
    pop, *_ = random_city(8)
    view = PersonView.of(pop, YEAR)
    rows = np.random.default_rng(8).choice(len(pop.persons), 50, replace=False)
    assert np.array_equal(view.household_type_of_rows(rows), pop.household_type()[pop.persons.hh[rows]])
    assert np.array_equal(view.household_type, pop.household_type()[pop.persons.hh])
    assert np.array_equal(view.household_type_per_household, pop.household_type())
    assert np.array_equal(view.household_type_of_rows(rows), pop.household_type()[pop.persons.hh[rows]])  # from the cached column
    assert np.array_equal(view.head_origin, pop.persons.origin[pop.head_row()][pop.persons.hh])


def test_fixed_numbers_are_compared_with_probabilities_exactly_at_the_boundary():
    # u = (z >> 11) / 2**53 < p is decided on the integers; check the numbers next to the boundary
    by_group = np.array([0.3, 0.45, 0.0, 0.0, 0.7, 1.0])  # by origin x 2 + low income
    zs, groups = [], []
    for g, p in enumerate(by_group):
        m = int(np.ceil(p * 2.0**53))
        for mm in (m - 1, m, m + 1):
            if 0 <= mm < 2**53:
                zs += [mm << 11, (mm << 11) | 2047]
                groups += [g, g]
    z, group = np.array(zs, np.uint64), np.array(groups, np.int8)
    expected = shared.unit_uniform(z) < np.clip(by_group[group], 0.0, 1.0)
    assert expected.any() and not expected.all()
    assert np.array_equal((z >> np.uint64(11)) < shared.below_threshold(by_group)[group], expected)
    above_one = by_group * 7.0  # probabilities above 1 are certain
    assert np.array_equal(
        (z >> np.uint64(11)) < shared.below_threshold(above_one)[group], shared.unit_uniform(z) < np.minimum(above_one[group], 1.0)
    )


def test_volunteers_follow_their_rule_written_with_the_fixed_numbers():
    # the compiled pass against the module's rule, written with the numpy definition of the fixed
    # numbers: aged min_age or more, fixed_uniform(draw, VOLUNTEER_KEY) below share x relative
    # propensity of the origin x the area's programme factor (clipped to 1)
    from simulation.processes import volunteering

    rng = np.random.default_rng(5)
    n, n_areas = 20_000, 4
    age = rng.integers(0, 100, n).astype(np.int16)
    origin = rng.integers(0, 3, n).astype(np.int8)
    area = rng.integers(0, n_areas, n).astype(np.int8)
    draw = rng.integers(0, 2**32, n, dtype=np.uint32)
    relative, factor = np.array([2.0, 1.0, 0.5]), np.array([1.0, 1.5, 3.0, 0.0])
    volunteer, count = volunteering.volunteers(age, origin, area, draw, 0.4, relative, factor, 14)
    chance = np.minimum(0.4 * relative[origin] * factor[area], 1.0)
    expected = (age >= 14) & (shared.fixed_uniform(draw, volunteering.VOLUNTEER_KEY) < chance)
    assert np.array_equal(volunteer, expected)
    assert count.tolist() == np.bincount(area[expected], minlength=n_areas).tolist()
    assert 0 < expected.sum() < n and not expected[area == 3].any()  # the rule is exercised, factor 0 stops it
