"""The synthesiser reproduces its marginals: persons exactly, households close to the city data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.scenario import Scenario
from simulation.synthesis import area_income_risk
from simulation.vocabulary import CHILD, FOREIGN, LOW, NONE, ORIGINS, SEXES
from tests.helpers import build_model


@pytest.fixture(scope="module")
def city():
    """The whole city's synthetic base population (31 Dec 2023)."""
    return build_model(Scenario(horizon=1, seed=11))


def test_persons_equal_the_cells_exactly(city, data_dir):
    from simulation.base_population import person_cells
    from simulation.data import load_areas

    cells, _ = person_cells("anchored", data_dir, 2023, load_areas(data_dir).names)
    pop = city.population
    got = (
        pd.DataFrame(
            {
                "area": np.array(city.area_names)[pop.person_area()],
                "age": pop.persons.age,
                "sex": np.array(SEXES)[pop.persons.sex],
                "origin": np.array(ORIGINS)[pop.persons.origin],
            }
        )
        .value_counts()
        .rename("persons")
    )
    want = cells.set_index(["area", "age", "sex", "origin"])["persons"]
    assert got.sum() == 770_166
    pd.testing.assert_series_equal(got.reindex(want.index).astype(int), want.astype(int), check_names=False)


def test_every_household_has_one_head_and_an_agent(city):
    city.population.check()
    assert len(city.agents) == len(city.population.households)


# tolerance per statistic: totals 3 %; families (their number follows the base year's minors,
# built elsewhere) and sizes (rounded to 1,000 in the source) 5 %
STATISTICS_2022 = {
    "households": ("private_households", 0.03),
    "one_person": ("one_person_households", 0.03),
    "couple_with_minors": ("couple_families_with_minors", 0.05),
    "single_parent_with_minors": ("single_parent_households", 0.05),
    "with_minors": ("families_with_minors", 0.05),
    "size_2": ("two_person_households", 0.05),
    "size_3": ("three_person_households", 0.05),
    "size_4_plus": ("four_plus_person_households", 0.05),
}


def test_household_types_match_the_statistics_of_2022(city, data_dir):
    """Households by type and size as the city's statistics count them (families with minors),
    against the figures of 30 June 2022 scaled to the base year's residents (the statistics'
    population: 221,064 living alone = 28.6 %, so 772,951 persons)."""
    from simulation.data import household_facts
    from simulation.processes.households import composition

    f = {k[1]: v for k, v in household_facts(data_dir).items() if k[0] == "2022-06-30"}
    got = composition(city.population)
    scale = got["persons"] / (f["one_person_households"] / (f["one_person_share_of_population_pct"] / 100.0))
    for key, (indicator, tolerance) in STATISTICS_2022.items():
        assert got[key] == pytest.approx(f[indicator] * scale, rel=tolerance), (key, got[key], f[indicator] * scale)
    # single parents among families with minors: 21.7 % (31 Dec 2019), 22.8 % (30 June 2022)
    single = got["single_parent_with_minors"] / (got["single_parent_with_minors"] + got["couple_with_minors"])
    assert single == pytest.approx(f["single_parent_households"] / f["families_with_minors"], abs=0.02)
    monitoring = pd.read_csv(data_dir / "frankfurt_social_minimum_income.csv")
    row = monitoring[(monitoring["reference_date"] == "2019") & (monitoring["area"] == "Frankfurt am Main")].set_index("indicator")
    value = row["value"].astype(float)  # 31 Dec 2019: 16,770 of 77,173
    assert single == pytest.approx(value["single-parent households"] / value["households with minor children"], abs=0.02)
    # nobody under 18 lives in a household other than as a child of its head
    p = city.population.persons
    assert (p.role[p.age < 18] == CHILD).all()


def test_old_people_live_alone_more_often_with_age(city):
    """Within 65+ the chance of living alone rises with widowhood (the sex ratio by age)."""
    pop = city.population
    p = pop.persons
    alone = (pop.size() == 1)[p.hh]
    women = p.sex == 0
    share = [alone[women & (p.age >= lo) & (p.age <= hi)].mean() for lo, hi in ((65, 74), (75, 84), (85, 100))]
    assert share[0] < share[1] < share[2]


def test_parents_are_of_plausible_age_for_their_children(city):
    p = city.population.persons
    head_age = p.age[city.population.head_row()][p.hh]
    kids = (p.role == CHILD) & (p.age < 18)
    gap = head_age[kids] - p.age[kids]
    assert np.mean((gap >= 15) & (gap <= 55)) > 0.95


def test_low_income_share_matches_the_city_figure(city):
    pop = city.population
    share = (pop.size() * (pop.households.income == LOW)).sum() / len(pop.persons)
    assert share == pytest.approx(0.116, abs=0.005)
    # the assumed relative risk ranks the groups: foreign-headed households are poorer more often
    head_origin = pop.persons.origin[pop.head_row()]
    low = pop.households.income == LOW
    assert low[head_origin == FOREIGN].mean() > low[head_origin == NONE].mean()


def test_years_at_address_follow_the_residence_duration_shares(city, data_dir):
    from simulation.data import residence_duration

    dur = residence_duration(data_dir).groupby("age_group")[["lt5", "persons"]].sum()
    pop = city.population
    head_age = pop.persons.age[pop.head_row()]
    young = (head_age >= 18) & (head_age <= 29)
    assert np.mean(pop.households.years[young] < 5) == pytest.approx(dur.loc["18-29", "lt5"] / dur.loc["18-29", "persons"], abs=0.05)


def test_area_income_risk_by_hand():
    # A: 50 m2 per resident, B: 25 m2, C: 20 m2, 100 residents each without migration background;
    # observed SGB II rates 10 and 80 per 1,000 in A and B: b = ln 8 / ln 2 = 3
    persons = pd.DataFrame({"none": [100.0, 100.0, 100.0], "german_mb": 0.0, "foreign": 0.0}, index=["A", "B", "C"])
    space = pd.Series([50.0, 25.0, 20.0], index=["A", "B", "C"])
    risk, b = area_income_risk(persons, space, {"A": 10.0, "B": 80.0}, (1.0, 2.0, 3.0))
    assert b == pytest.approx(3.0)
    assert risk["B"] / risk["A"] == pytest.approx(8.0)
    assert risk["C"] == pytest.approx(risk["B"])  # B is the city's highest: C, more crowded, stays at B's level
    assert risk.mean() == pytest.approx(1.0)  # person-weighted mean 1 (equal residents)
    # the origin mix explains part of the difference: B all foreign (risk 3) -> b = ln(8 / 3) / ln 2
    persons.loc["B"] = [0.0, 0.0, 100.0]
    _, b = area_income_risk(persons, space, {"A": 10.0, "B": 80.0}, (1.0, 2.0, 3.0))
    assert b == pytest.approx(np.log(8 / 3) / np.log(2))
    # without two observed areas: no area differences beyond the origin mix
    risk, b = area_income_risk(persons, space, {"A": 10.0}, (1.0, 2.0, 3.0))
    assert b == 0.0 and np.allclose(risk, 1.0)
