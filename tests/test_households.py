"""Household transitions: each rule on a hand-made case, and the family composition of a district
kept without migration (issue 10: single parents grew 30 % in the first projected year)."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.processes import fertility, households
from simulation.rates import RateTable
from simulation.vocabulary import CHILD, FEMALE, HEAD, HOUSEHOLD_TYPES, MALE, MAX_AGE, NONE, NOT_LOW, OTHER, PARTNER
from tests.helpers import make_population


def kind(pop, row: int) -> str:
    return HOUSEHOLD_TYPES[pop.household_type()[row]]


# ---- births by partnership ------------------------------------------------------------------


def test_birth_chances_split_by_partnership_by_hand():
    # one age, 100 women with and 100 without a partner, chance 0.1: 20 births expected. With
    # 20 % of births to women without a partner: 4 births / 100 women = 0.04, 16 / 100 = 0.16.
    f, g = fertility.chance_by_partnership(np.array([0.1]), np.array([100]), np.array([100]), 0.2)
    assert f[0] == pytest.approx(0.16, abs=1e-9) and g[0] == pytest.approx(0.04, abs=1e-9)
    # two ages: 0.1 x 200 + 0.2 x 200 = 60 births; k = 0.25 gives f = 20 / 125 = 0.16 and
    # 40 / 87.5 at the second age; births without partner 0.25 x (0.16 x 100 + 40 / 87.5 x 150)
    share = (0.25 * 0.16 * 100 + 0.25 * 40 / 87.5 * 150) / 60
    f, g = fertility.chance_by_partnership(np.array([0.1, 0.2]), np.array([100, 50]), np.array([100, 150]), share)
    assert f == pytest.approx([0.16, 40 / 87.5], abs=1e-9)
    assert g == pytest.approx([0.04, 0.25 * 40 / 87.5], abs=1e-9)
    # every age keeps its expected births
    assert f * [100, 50] + g * [100, 150] == pytest.approx([20, 40])
    # an age without women with a partner gives its births to the others at the age's chance
    f, g = fertility.chance_by_partnership(np.array([0.05, 0.1]), np.array([0, 100]), np.array([100, 100]), 0.5)
    assert g[0] == pytest.approx(0.05)
    assert f[1] * 100 + g[1] * 100 == pytest.approx(20)


def _women_with_and_without_partner(n: int, age: int = 30):
    """n couples (man heads, woman is the partner) and n women living alone, all of one age."""
    people, hhs = [], []
    for i in range(n):
        people += [(age + 2, MALE, NONE, i, HEAD), (age, FEMALE, NONE, i, PARTNER), (age, FEMALE, NONE, n + i, HEAD)]
    hhs = [(0, NOT_LOW, 5)] * (2 * n)
    return make_population(people, hhs, 1)


def _with_partner(pop, persons):
    """Whether each of ``persons`` lives with a partner: is the partner, or heads a household with one."""
    p = pop.persons
    has_partner = np.zeros(len(pop.households), bool)
    has_partner[p.hh[p.role == PARTNER]] = True
    role = p.role[persons]
    return (role == PARTNER) | ((role == HEAD) & has_partner[p.hh[persons]])


def test_births_go_to_women_with_a_partner_with_the_share_asked():
    n, rate, share = 20_000, 0.1, 0.1
    pop = _women_with_and_without_partner(n)
    values = np.zeros(MAX_AGE + 1)
    values[30] = rate
    born = fertility.draw_births(pop, RateTable(values, ("age",), "test"), 1.0, 0.5, 0.0, np.zeros(2), np.random.default_rng(1), share)
    expected = rate * 2 * n  # births stay ASFR x women
    assert abs(len(born.mother) - expected) < 4.5 * np.sqrt(expected)
    alone = pop.persons.role[born.mother] == HEAD
    assert abs(alone.sum() - share * expected) < 4.5 * np.sqrt(share * expected)
    assert (born.role == CHILD).all()  # both kinds of mothers head their household or are the partner
    assert _with_partner(pop, born.mother).mean() == pytest.approx(1 - share, abs=0.01)
    # without the share, fertility does not depend on partnership (the rule before issue 10)
    born = fertility.draw_births(pop, RateTable(values, ("age",), "test"), 1.0, 0.5, 0.0, np.zeros(2), np.random.default_rng(1))
    assert _with_partner(pop, born.mother).mean() == pytest.approx(0.5, abs=0.02)


def test_an_adult_mother_living_with_her_parents_founds_a_household_with_the_newborn():
    people = [
        (50, MALE, NONE, 0, HEAD),
        (48, FEMALE, NONE, 0, PARTNER),
        (25, FEMALE, NONE, 0, CHILD),  # row 2: an adult daughter
        (16, FEMALE, NONE, 0, CHILD),  # row 3: a minor daughter
    ]
    pop = make_population(people, [(0, NOT_LOW, 10)], 1)
    born = fertility.Newborns(
        mother=np.array([2, 3]),
        sex=np.array([0, 1], np.int8),
        origin=np.zeros(2, np.int8),
        role=np.array([OTHER, OTHER], np.int8),
        dies=np.zeros(2, bool),
        draw=np.zeros(2, np.uint32),
    )
    leaving = fertility.leave_with_newborn(pop, born, 18)
    assert leaving.tolist() == [2]  # the minor mother stays
    leaving = households.within_free_dwellings(pop, leaving, np.array([2]), np.random.default_rng(0))
    pop.found_households(leaving)
    roles = fertility.newborn_roles(pop, born)
    pop.add_persons(np.zeros(2, np.int16), born.sex, born.origin, pop.persons.hh[born.mother], roles, np.full(2, 2024, np.int16), born.draw)
    pop.check()
    assert roles.tolist() == [CHILD, OTHER]
    assert pop.persons.role[2] == HEAD and kind(pop, pop.persons.hh[2]) == "single_parent"
    assert pop.size().tolist() == [4, 2]  # parents, 16-year-old and her baby; the new family
    # without a free dwelling she stays and her child is 'other' in her parents' household
    pop = make_population(people, [(0, NOT_LOW, 10)], 1)
    assert len(households.within_free_dwellings(pop, np.array([2]), np.array([1]), np.random.default_rng(0))) == 0


# ---- couple formation and re-partnering -------------------------------------------------------


def test_couple_formation_rate_by_age_band():
    rate = households.rate_by_age({18: 0.5, 35: 0.2, 45: 0.1}, 64)
    assert rate[[17, 18, 34, 35, 44, 45, 64, 65, 100]].tolist() == [0, 0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0, 0]
    # 50-year-olds with rate 0 stay alone while 30-year-olds pair
    people = [(30, FEMALE, NONE, 0, HEAD), (31, MALE, NONE, 1, HEAD), (50, FEMALE, NONE, 2, HEAD), (51, MALE, NONE, 3, HEAD)]
    pop = make_population(people, [(0, NOT_LOW, 0)] * 4, 1)
    movers, stayers = households.form_couples(pop, households.rate_by_age({18: 1.0, 45: 0.0}, 64), 64, 10, np.random.default_rng(0))
    assert sorted(pop.persons.age[np.concatenate([movers, stayers])].tolist()) == [30, 31]


def _single_mother_and_man_alone(man_has_child: bool = False):
    people = [(35, FEMALE, NONE, 0, HEAD), (6, MALE, NONE, 0, CHILD), (37, MALE, NONE, 1, HEAD)]
    if man_has_child:
        people.append((9, FEMALE, NONE, 1, CHILD))
    return make_population(people, [(0, NOT_LOW, 3), (0, NOT_LOW, 3)], 1)


def test_a_single_parent_repartners_with_a_person_living_alone_who_moves_in():
    pop = _single_mother_and_man_alone()
    assert kind(pop, 0) == "single_parent"
    movers, stayers = households.form_couples(pop, 1.0, 64, 10, np.random.default_rng(3), repartnering_rate=1.0)
    assert movers.tolist() == [2] and stayers.tolist() == [0]  # the man living alone moves, every seed
    pop.join_couples(movers, stayers)
    pop.check()
    assert len(pop.households) == 1 and kind(pop, 0) == "couple_with_children"
    assert pop.persons.role.tolist() == [HEAD, CHILD, PARTNER]


def test_single_parents_seek_only_with_the_repartnering_rate_and_do_not_pair_with_each_other():
    pop = _single_mother_and_man_alone()
    movers, _ = households.form_couples(pop, 1.0, 64, 10, np.random.default_rng(3), repartnering_rate=0.0)
    assert len(movers) == 0  # the man seeks, the mother does not
    pop = _single_mother_and_man_alone(man_has_child=True)
    movers, _ = households.form_couples(pop, 1.0, 64, 10, np.random.default_rng(3), repartnering_rate=1.0)
    assert len(movers) == 0  # two single parents: neither household would take the other's children


def test_couples_with_a_head_of_60_or_more_separate_with_their_own_rate():
    # two couples without children, heads 59 and 60; plenty of free dwellings
    people = [(59, MALE, NONE, 0, HEAD), (57, FEMALE, NONE, 0, PARTNER), (60, MALE, NONE, 1, HEAD), (58, FEMALE, NONE, 1, PARTNER)]
    pop = make_population(people, [(0, NOT_LOW, 5), (0, NOT_LOW, 5)], 1)
    dwellings = np.array([10])
    for seed in range(5):
        leavers, stayers = households.separate(pop, 1.0, 0.9, dwellings, np.random.default_rng(seed), rate_60_plus=0.0)
        assert sorted(np.concatenate([leavers, stayers]).tolist()) == [0, 1]  # only the younger couple
        leavers, _ = households.separate(pop, 0.0, 0.9, dwellings, np.random.default_rng(seed), rate_60_plus=1.0)
        assert pop.persons.hh[leavers].tolist() == [1]  # only the older couple
    # without its own rate, every couple separates with the general one
    leavers, _ = households.separate(pop, 1.0, 0.9, dwellings, np.random.default_rng(0))
    assert sorted(pop.persons.hh[leavers].tolist()) == [0, 1]


# ---- the statistics' household types ----------------------------------------------------------


def test_composition_counts_families_with_minors_like_the_statistics():
    people = [
        (30, MALE, NONE, 0, HEAD),  # 0: alone
        (40, MALE, NONE, 1, HEAD),  # 1: couple with a minor
        (38, FEMALE, NONE, 1, PARTNER),
        (10, MALE, NONE, 1, CHILD),
        (60, MALE, NONE, 2, HEAD),  # 2: couple with an adult child only -> couple without minors
        (58, FEMALE, NONE, 2, PARTNER),
        (25, FEMALE, NONE, 2, CHILD),
        (33, FEMALE, NONE, 3, HEAD),  # 3: single parent with two minors
        (4, FEMALE, NONE, 3, CHILD),
        (2, MALE, NONE, 3, CHILD),
        (55, FEMALE, NONE, 4, HEAD),  # 4: lone parent with an adult child -> other
        (22, MALE, NONE, 4, CHILD),
        (24, FEMALE, NONE, 5, HEAD),  # 5: flat share -> other
        (26, FEMALE, NONE, 5, OTHER),
        (27, MALE, NONE, 5, OTHER),
        (36, MALE, NONE, 6, HEAD),  # 6: couple with a minor and a lodger -> still a couple family
        (35, FEMALE, NONE, 6, PARTNER),
        (3, FEMALE, NONE, 6, CHILD),
        (29, MALE, NONE, 6, OTHER),
    ]
    pop = make_population(people, [(0, NOT_LOW, 1)] * 7, 1)
    got = households.composition(pop)
    assert got == {
        "households": 7,
        "persons": 19,
        "one_person": 1,
        "couple_without_minors": 1,
        "couple_with_minors": 2,
        "single_parent_with_minors": 1,
        "other": 2,
        "size_2": 1,
        "size_3": 4,
        "size_4_plus": 1,
        "with_minors": 3,
    }
    # the model's household types (households.parquet) follow the same definitions: household 2
    # (a couple with an adult child) is a couple, household 4 (a lone parent with an adult child) other
    assert [HOUSEHOLD_TYPES[t] for t in pop.household_type()] == [
        "single",
        "couple_with_children",
        "couple",
        "single_parent",
        "other",
        "other",
        "couple_with_children",
    ]


# ---- a district without migration ---------------------------------------------------------------


# the rates of the closed-population fit (scenarios/baseline.toml [households] documents both fits)
CLOSED_FIT = {
    "couple_formation_rate": 0.065,
    "couple_formation_rate_35_44": 0.078,
    "couple_formation_rate_45_plus": 0.018,
    "repartnering_rate": 0.055,
}


def closed(scenario):
    """The scenario without migration across the city boundary (out, in, displaced out of the city),
    with the household rates of the closed-population fit."""
    return scenario.model_copy(
        update={
            "households": scenario.households.model_copy(update=CLOSED_FIT),
            "out_migration": scenario.out_migration.model_copy(update={"rate_per_1000": 0.0}),
            "in_migration": scenario.in_migration.model_copy(update={"persons_per_year": 0.0, "changes": []}),
            "housing_market": scenario.housing_market.model_copy(update={"displacement_leave_city_share": 0.0}),
        }
    )


def family_shares(pop) -> np.ndarray:
    """Single parents among families with minors; minors living with a couple; persons living
    alone at 18-34, 35-44, 45-64 (the fit's targets, see scenarios/baseline.toml [households])."""
    c = households.composition(pop)
    p = pop.persons
    n = len(pop.households)
    partner = np.bincount(p.hh[p.role == PARTNER], minlength=n) > 0
    minor = p.age < 18
    alone = (pop.size() == 1)[p.hh]
    bands = [(p.age >= lo) & (p.age <= hi) for lo, hi in ((18, 34), (35, 44), (45, 64))]
    return np.array(
        [
            c["single_parent_with_minors"] / (c["single_parent_with_minors"] + c["couple_with_minors"]),
            (minor & partner[p.hh] & (p.role == CHILD)).sum() / minor.sum(),
            *[(alone & band).sum() / band.sum() for band in bands],
        ]
    )


@pytest.fixture(scope="module")
def bockenheim_closed():
    """Sozialrathaus Bockenheim (five Stadtteile, about 80,000 residents) for ten years without
    migration; model.check (state and population accounting) runs after every year."""
    from simulation.scenario import load_scenario
    from tests.conftest import ROOT
    from tests.helpers import build_model

    model = build_model(closed(load_scenario(ROOT / "scenarios" / "bockenheim.toml")))
    start = family_shares(model.population)
    start_persons = len(model.population.persons)
    migrants = 0
    for _ in range(10):
        model.step()  # raises AccountingError if the accounting fails
        migrants += model.events["immigrants"].sum() + model.events["emigrants"].sum()
    return model, start, start_persons, migrants


def test_family_composition_stays_without_migration(bockenheim_closed):
    """Tolerance 3 percentage points after ten years. Why: the city's single-parent share among
    families moved 1.1 points between 2019 (21.7 %) and 2022 (22.8 %); a district of about 9,000
    families adds about 1 point of chance. The rules before issue 10 took the city's share from
    23 % to 50 % in ten years without migration (to 30 % with births by partnership alone), so
    the tolerance still tells a drift from none."""
    model, start, _, _ = bockenheim_closed
    end = family_shares(model.population)
    assert np.abs(end - start)[:2] == pytest.approx([0, 0], abs=0.03), (start, end)
    # persons living alone by age band (the fit's targets): 4 points, since the rates were fitted
    # on the whole city and a district's band of some 10,000 persons moves by chance and by its
    # own age mix (the rules before issue 10 took the city's 45-64 band from 32 % to 18 %)
    assert np.abs(end - start)[2:] == pytest.approx([0, 0, 0], abs=0.04), (start, end)
    # newborns of mothers living in someone else's household are rare 'other' members
    p = model.population.persons
    assert ((p.age < 18) & (p.role != CHILD)).sum() < 0.005 * (p.age < 18).sum()


def test_the_closed_district_keeps_its_people(bockenheim_closed):
    """Without migration the population changes only by births and deaths (model.check verified
    the balancing equation every year); the events table shows no migration."""
    model, _, start_persons, migrants = bockenheim_closed
    assert migrants == 0
    assert len(model.population.persons) > 0.9 * start_persons
