"""Events against independent expectations: life table, ASFR, hand-made households."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import data, rates
from simulation.processes import fertility, households, migration, mobility, mortality, shared
from simulation.vocabulary import CHILD, FEMALE, FOREIGN, GERMAN_MB, HEAD, HOUSEHOLD_TYPES, LOW, MALE, NONE, NOT_LOW, PARTNER, SEXES
from tests.helpers import assert_capacity_rule, make_population, uniform_population, weighted_chooser


def z_score(observed: float, n: int, p: float) -> float:
    return (observed - n * p) / np.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("age, sex", [(71, "female"), (86, "male"), (40, "male")])
def test_survivors_follow_the_life_table(data_dir, age, sex):
    """Persons aged x-1 at the start survive to age x with L(x)/L(x-1), read straight from the CSV."""
    life = pd.read_csv(data.data_path(data_dir, "life_table"))
    t = life[(life["period"] == "2022/24") & (life["sex"] == sex)].set_index("age")
    survive = t.loc[age, "Lx"] / t.loc[age - 1, "Lx"]
    n = 200_000
    pop = uniform_population(n, age, SEXES.index(sex))
    table = rates.death_probabilities(data.life_tables(data_dir), "2022/24")
    dead = mortality.draw_deaths(pop, table, 1.0, np.random.default_rng(1))
    assert abs(z_score(n - dead.sum(), n, survive)) < 4.5


def test_mortality_factor_scales_deaths(data_dir):
    pop = uniform_population(100_000, 80, MALE)
    table = rates.death_probabilities(data.life_tables(data_dir), "2022/24")
    base = mortality.draw_deaths(pop, table, 1.0, np.random.default_rng(2)).sum()
    half = mortality.draw_deaths(pop, table, 0.5, np.random.default_rng(2)).sum()
    assert 0.45 < half / base < 0.55


def test_expected_births_equal_asfr_times_women(data_dir):
    asfr = pd.read_csv(data.data_path(data_dir, "asfr"))
    asfr_2024 = asfr[asfr["year"] == 2024].set_index("age_of_mother")["live_births_per_1000_women"] / 1000.0
    per_age = 20_000
    people = [(age, FEMALE, NONE, i, HEAD) for i, age in enumerate(np.repeat(np.arange(12, 56), per_age))]
    pop = make_population(people, [(0, NOT_LOW, 0)] * len(people), 1)
    table = rates.fertility_rates(data.asfr_table(data_dir), 2024)
    born = fertility.draw_births(pop, table, 1.0, 0.51, 0.3, np.zeros(2), np.random.default_rng(3))
    expected = per_age * asfr_2024.sum()
    assert abs(len(born.mother) - expected) < 4.5 * np.sqrt(expected)
    mothers_age = pop.persons.age[born.mother]
    assert mothers_age.min() >= 15 and mothers_age.max() <= 49
    assert (born.origin == NONE).all() and (born.role == CHILD).all()


def test_children_of_migrant_mothers_are_german_mb_or_foreign(data_dir):
    pop = uniform_population(50_000, 30, FEMALE, FOREIGN)
    table = rates.fertility_rates(data.asfr_table(data_dir), 2024)
    born = fertility.draw_births(pop, table, 1.0, 0.5, 0.25, np.zeros(2), np.random.default_rng(4))
    assert set(born.origin.tolist()) == {FOREIGN, GERMAN_MB}
    assert abs((born.origin == FOREIGN).mean() - 0.25) < 0.05


def two_families():
    people = [
        (45, MALE, NONE, 0, HEAD),
        (44, FEMALE, NONE, 0, PARTNER),
        (20, FEMALE, NONE, 0, CHILD),
        (15, MALE, NONE, 0, CHILD),
        (50, FEMALE, NONE, 1, HEAD),
        (52, MALE, NONE, 1, PARTNER),
    ]
    return make_population(people, [(0, LOW, 10), (1, NOT_LOW, 20)])


def test_leave_home_moves_only_adult_children_into_new_households():
    pop = two_families()
    leavers = households.leave_home(pop, 1.0, 18, np.array([5, 5]), np.random.default_rng(0))
    assert len(pop.households) == 2  # the event only says what happens; the model applies it
    assert pop.persons.age[leavers].tolist() == [20]
    pop.found_households(leavers)
    assert len(pop.households) == 3
    leaver = np.flatnonzero(pop.persons.age == 20)[0]
    new = pop.persons.hh[leaver]
    assert pop.persons.role[leaver] == HEAD
    assert pop.households.area[new] == 0 and pop.households.income[new] == LOW and pop.households.years[new] == 0
    assert pop.size().tolist() == [3, 2, 1]
    assert len(households.leave_home(pop, 0.0, 18, np.array([5, 5]), np.random.default_rng(0))) == 0
    pop.check()


def test_new_households_need_a_free_dwelling():
    pop = two_families()
    # area 0 has its one household and no free dwelling: the adult child stays at home
    assert len(households.leave_home(pop, 1.0, 18, np.array([1, 1]), np.random.default_rng(0))) == 0
    leavers, stayers = households.separate(pop, 1.0, 1.0, np.array([1, 2]), np.random.default_rng(0))
    assert len(leavers) == 1 and pop.households.area[pop.persons.hh[leavers]].tolist() == [1]  # only in area 1
    pop.separate_couples(leavers, stayers)
    assert len(pop.households) == 3
    pop.check()


def test_separation_with_children_mother_stays_when_share_is_one():
    pop = two_families()
    leavers, stayers = households.separate(pop, 1.0, 1.0, np.array([5, 5]), np.random.default_rng(0))
    assert len(leavers) == 2
    pop.separate_couples(leavers, stayers)
    pop.check()
    kids_home = pop.persons.hh[pop.persons.age == 15][0]
    adults = np.flatnonzero(pop.persons.hh == kids_home)
    assert sorted(pop.persons.age[adults].tolist()) == [15, 20, 44]  # the mother kept the children
    assert pop.persons.role[pop.persons.age == 44][0] == HEAD
    assert len(pop.households) == 4
    assert HOUSEHOLD_TYPES[pop.household_type()[kids_home]] == "single_parent"


def test_couples_form_only_within_an_area_and_between_women_and_men():
    people = [(30, FEMALE, NONE, 0, HEAD), (31, MALE, NONE, 1, HEAD), (29, MALE, NONE, 2, HEAD), (33, FEMALE, NONE, 3, HEAD)]
    pop = make_population(people, [(0, NOT_LOW, 0), (1, NOT_LOW, 0), (0, NOT_LOW, 0), (1, NOT_LOW, 0)])
    movers, stayers = households.form_couples(pop, 1.0, 64, 10, np.random.default_rng(5))
    assert len(movers) == 2
    pop.join_couples(movers, stayers)
    pop.check()
    assert len(pop.households) == 2
    for h in range(2):
        members = np.flatnonzero(pop.persons.hh == h)
        assert sorted(pop.persons.sex[members].tolist()) == [FEMALE, MALE]
    pairs = {tuple(sorted(pop.persons.age[pop.persons.hh == h].tolist())) for h in range(2)}
    assert pairs == {(29, 30), (31, 33)}


def test_couples_too_far_apart_in_age_do_not_form():
    people = [(25, FEMALE, NONE, 0, HEAD), (60, MALE, NONE, 1, HEAD)]
    pop = make_population(people, [(0, NOT_LOW, 0), (0, NOT_LOW, 0)], 1)
    movers, stayers = households.form_couples(pop, 1.0, 64, 10, np.random.default_rng(5))
    assert len(movers) == len(stayers) == 0


def test_allocation_hand_case():
    dest = shared.allocate_dwellings(np.array([1.0, 1.0, 1.0]), np.array([0, 2, 1]), 5, np.random.default_rng(0))
    assert sorted(dest.tolist()) == [-1, -1, 1, 1, 2]


@settings(max_examples=50, deadline=None)
@given(cap=st.lists(st.integers(0, 30), min_size=1, max_size=8), n=st.integers(0, 120), seed=st.integers(0, 10_000))
def test_allocation_never_exceeds_capacity_and_avoids_own_area(cap, n, seed):
    rng = np.random.default_rng(seed)
    capacity = np.array(cap)
    own = rng.integers(0, len(cap), n)
    dest = shared.allocate_dwellings(rng.random(len(cap)) + 0.01, capacity, n, rng, own=own)
    assert_capacity_rule(dest, capacity, own)


def test_immigrants_copy_template_households_into_free_dwellings():
    pop = two_families()
    wanted = np.array([10.0, 10.0, 0.0, 10.0, 10.0, 0.0])  # persons per migration age group
    rng = np.random.default_rng(1)
    classes = migration.HouseholdClasses.of_population(pop)
    arrivals = migration.immigrate(pop, classes, wanted, None, np.ones(3), 1.0, weighted_chooser([1.0, 0.0], rng), np.array([5, 0]), rng)
    assert len(arrivals.templates) == 5 and arrivals.unhoused > 0  # only 5 dwellings free, all in area 0
    persons_before = len(pop.persons)
    rows = pop.copy_households(arrivals.templates, arrivals.dest, 2024, arrivals.draw)
    assert len(pop.persons) - persons_before == len(arrivals.draw) == pop.size()[rows].sum()
    assert (pop.persons.arrival[persons_before:] == 2024).all()
    assert (pop.households.area[rows] == 0).all()
    sizes = pop.size()[rows]
    assert set(sizes.tolist()) <= {4, 2}
    pop.check()


def test_moves_respect_dwellings_and_change_area():
    people = [(30, MALE, NONE, i, HEAD) for i in range(10)]
    pop = make_population(people, [(0, NOT_LOW, 5)] * 10, 2)
    dwellings = np.array([10, 3])
    rows, dest = mobility.relocate(pop, np.arange(10), dwellings, np.random.default_rng(0))
    assert len(rows) == 3 and (dest == 1).all() and (pop.households.area == 0).all()  # not applied yet
    origin = pop.move_households(rows, dest)
    assert (origin == 0).all()
    assert (pop.households.area[rows] == 1).all() and (pop.households.years[rows] == 0).all()
    assert np.bincount(pop.households.area, minlength=2).tolist() == [7, 3]


def test_compiled_deaths_draw_numpys_stream_of_uniform_numbers():
    """The compiled deaths pass draws from the generator itself: the same numbers as
    rng.random(n) in row order, and the generator goes on where numpy's would (a numba or numpy
    upgrade that changed either would move every later draw of the run)."""
    n = 2_000
    r = np.random.default_rng(3)
    sex, age = r.integers(0, 2, n).astype(np.int8), r.integers(0, 101, n).astype(np.int16)
    q = r.random((2, 101))
    hh, role, area = np.arange(n, dtype=np.int32), np.full(n, HEAD, np.int8), np.zeros(n, np.int16)
    compiled, plain = np.random.default_rng(11), np.random.default_rng(11)
    dead, per_area, _ = mortality._die(compiled, q, sex, age, hh, role, area, 1)
    expected = plain.random(n) < q[sex, age]
    assert np.array_equal(dead, expected) and per_area[0] == expected.sum()
    assert compiled.random() == plain.random()
