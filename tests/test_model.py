"""The model over time: accounting, determinism, agents, areas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from simulation.errors import InputError
from simulation.model import CityModel
from simulation.runner import run_scenario
from simulation.scenario import Scenario
from tests.conftest import SMALL_AREAS


def test_population_accounting_holds_in_every_year_and_area(small_result):
    pop = small_result.tables["population"].groupby(["year", "area"])["persons"].sum().unstack("area")
    ev = small_result.tables["events"].set_index(["year", "area"])
    for year in pop.index[1:]:
        e = ev.loc[year]
        change = e["births"] - e["deaths"] + e["immigrants"] - e["emigrants"] + e["moves_in"] - e["moves_out"]
        assert ((pop.loc[year] - pop.loc[year - 1]).reindex(change.index) == change).all(), year
    assert (ev["moves_in"].groupby("year").sum() == ev["moves_out"].groupby("year").sum()).all()


def test_every_event_happens(small_result):
    totals = small_result.tables["events"].drop(columns=["year", "area"]).sum()
    assert (totals > 0).all(), totals


def test_same_seed_same_tables_different_seed_different(small_scenario, small_result):
    again = run_scenario(small_scenario)
    for name in ("population", "events", "households", "housing"):
        pd.testing.assert_frame_equal(small_result.tables[name], again.tables[name])
    other = run_scenario(small_scenario, seed=8)
    assert not small_result.tables["events"].equals(other.tables["events"])


def test_results_do_not_depend_on_the_global_numpy_generator(small_scenario, small_result):
    np.random.seed(12345)
    again = run_scenario(small_scenario)
    pd.testing.assert_frame_equal(small_result.tables["population"], again.tables["population"])


def test_seed_zero_is_a_seed(small_scenario):
    a = run_scenario(small_scenario, seed=0, years=1)
    b = run_scenario(small_scenario, seed=0, years=1)
    pd.testing.assert_frame_equal(a.tables["events"], b.tables["events"])


def test_agents_track_households_through_the_years(small_scenario):
    model = CityModel(small_scenario)
    for _ in range(3):
        model.step()
        assert len(model.agents) == len(model.population.households)
    agent = model.agent_of(model.population.households.hid[5])
    assert agent.hid == model.population.households.hid[5]
    assert agent.area in SMALL_AREAS
    assert agent.size == len(agent.member_table()) >= 1
    assert agent.household_type in ("single", "couple", "couple_with_children", "single_parent", "other")
    assert agent.income_class in ("low", "not_low")


def test_households_never_exceed_dwellings(small_result):
    housing = small_result.tables["housing"]
    assert (housing["households"] <= housing["dwellings"]).all()


def test_sozialrathaus_subset_runs_only_its_areas():
    model = CityModel(Scenario(areas="sozialrathaus:Bockenheim", horizon=1))
    assert sorted(model.area_names) == sorted(["Westend-Süd", "Bockenheim", "Rödelheim", "Hausen", "Praunheim"])
    # in-migration is scaled to the district's share of the city
    assert 0.1 < model.area_share_of_city < 0.2


def test_unknown_area_is_a_clear_error():
    with pytest.raises(InputError) as err:
        CityModel(Scenario(areas=["Altstadt", "Atlantis"]))
    assert err.value.field == "areas" and "Atlantis" in str(err.value)
    with pytest.raises(InputError) as err:
        CityModel(Scenario(areas="sozialrathaus:Mitte"))
    assert "Bockenheim" in str(err.value)


def test_history_2012_starts_from_the_complete_table():
    from simulation.scenario import load_scenario

    from tests.conftest import ROOT

    sc = load_scenario(ROOT / "scenarios" / "history_2012.toml")
    model = CityModel(sc)
    assert model.year == 2012
    assert len(model.population.persons) == 678_691


def test_with_only_mortality_on_survivors_follow_the_life_table():
    """All other events off: persons aged x-1 become x with L(x)/L(x-1) (2022/24 table)."""
    from simulation import data

    sc = Scenario(horizon=1, seed=3, fertility={"factor": 0.0}, in_migration={"persons_per_year": 0},
                  out_migration={"rate_per_1000": 0.0}, mobility={"move_rate": 0.0},
                  households={"leave_home_rate": 0.0, "couple_formation_rate": 0.0, "separation_rate": 0.0},
                  mortality={"life_table": "2022/24"}, housing_market={"new_dwellings_per_year": 0})
    result = run_scenario(sc)
    pop = result.tables["population"].groupby(["year", "sex", "age"])["persons"].sum()
    life = data.life_tables(data.DEFAULT_DATA_DIR)
    events = result.tables["events"].sum(numeric_only=True)
    assert events[["births", "immigrants", "emigrants", "moves_in"]].sum() == 0
    expected_deaths = 0.0
    p_values = []
    for sex in ("female", "male"):
        t = life[(life["period"] == "2022/24") & (life["sex"] == sex)].set_index("age")["Lx"]
        for age in range(1, 100):
            n = int(pop.get((2023, sex, age - 1), 0))
            s = t[age] / t[age - 1]
            expected_deaths += n * (1 - s)
            died = n - int(pop.get((2024, sex, age), 0))
            p_values.append(binomtest(died, n, 1 - s).pvalue)
    # exact binomial test per sex and age, Bonferroni over the ~200 tests at a 0.1 % family level
    assert min(p_values) > 0.001 / len(p_values)
    # ages 100+ use q(100); all deaths together within a few percent of the expectation
    assert abs(events["deaths"] - expected_deaths) / expected_deaths < 0.05


def test_whole_city_base_year_and_two_years_pass_every_check():
    model = CityModel(Scenario(horizon=2, seed=1))
    assert len(model.population.persons) == 770_166
    model.run(2)  # check() after every step raises on any violation
    assert model.year == 2025


def test_agent_of_a_dissolved_household_says_so(small_scenario):
    model = CityModel(small_scenario)
    hid = int(model.population.households.hid[0])
    agent = model.agent_of(hid)
    model.population.remove_households(np.arange(len(model.population.households)) == 0)
    with pytest.raises(LookupError, match="no longer exists"):
        agent.size
