"""The synthesiser reproduces its marginals: persons exactly, households close to the city data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.scenario import Scenario
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


def test_household_structure_is_close_to_the_2022_statistics(city):
    pop = city.population
    kind = np.bincount(pop.household_type(), minlength=5) / len(pop.households)
    # 30 June 2022: 53.2 % one-person households; 14.6 % couples and 4.3 % single parents with minors
    assert 0.50 < kind[0] < 0.57
    has_minor = np.bincount(pop.persons.hh[pop.persons.age < 18], minlength=len(pop.households)) > 0
    assert 0.16 < has_minor.mean() < 0.22  # 19 % of households have minors
    assert len(pop.persons) / len(pop.households) == pytest.approx(1.86, abs=0.1)


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
