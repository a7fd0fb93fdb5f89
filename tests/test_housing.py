"""Housing (processes/housing.py): where the city builds, rent levels and their change, displacement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation import data
from simulation.processes import housing
from simulation.scenario import Scenario
from tests.helpers import paired_runs


def observations(rows):
    return pd.DataFrame(rows, columns=["reference_date", "area", "kind", "since", "value"])


def test_growth_from_totals_changes_and_what_is_left_by_hand():
    r2012 = pd.Series({"A": 100.0, "B": 200.0, "C": 300.0, "D": 100.0})
    obs = observations(
        [
            ("2022-12-31", "A", "level", "", 200.0),  # +100 in 10 years
            ("2022-12-31", "B", "level", "", 210.0),
            ("2023-12-31", "B", "change", "2022-12-31", 5.0),  # chained: 215 on 31 Dec 2023
            ("2023-12-31", "C", "change", "2022-12-31", 30.0),  # only a one-year change
        ]
    )
    # the city grew by 11 x 60 = 660 in 11 years; A, B and C account for 10 + 15/11 + 30
    g = housing.stadtteil_growth(r2012, obs, ("2023-12-31", 700.0 + 660.0))
    years = (pd.Timestamp("2022-12-31") - pd.Timestamp("2012-12-31")).days / 365.25
    assert g.loc["A", "growth_per_year"] == pytest.approx(100 / years)
    assert g.loc["B", "latest"] == pytest.approx(215.0) and g.loc["B", "latest_date"] == "2023-12-31"
    assert g.loc["C", "growth_per_year"] == pytest.approx(30.0, rel=0.01)
    left = 60.0 - g.loc[["A", "B", "C"], "growth_per_year"].sum()
    assert g.loc["D", "growth_per_year"] == pytest.approx(left, rel=0.01)
    shares = housing.dwelling_growth(g, replacement=0.2)
    assert shares.observed.sum() == pytest.approx(1.0) and shares.stock.sum() == pytest.approx(1.0)
    positive = g["growth_per_year"].clip(lower=0)
    assert shares.observed["A"] == pytest.approx(0.2 * shares.stock["A"] + 0.8 * positive["A"] / positive.sum())


def test_combined_totals_split_by_2012_residents():
    r2012 = pd.Series({"N": 100.0, "S": 300.0})
    obs = observations([("2022-12-31", "N+S", "level", "", 480.0)])
    g = housing.stadtteil_growth(r2012, obs, ("2022-12-31", 480.0))
    assert g.loc["S", "growth_per_year"] == pytest.approx(3 * g.loc["N", "growth_per_year"])


@pytest.fixture(scope="module")
def city_growth():
    d = data.DEFAULT_DATA_DIR
    residents = data.stadtteil_residents_2012(d).reindex(data.load_areas(d).names)
    register = data.register_totals(d)
    growth = housing.stadtteil_growth(residents, data.stadtteil_observations(d), ("2023-12-31", float(register["2023-12-31"])))
    return housing.dwelling_growth(growth, 291 / 2158)


def test_growth_shares_sum_to_one_and_the_new_quarters_get_more_than_their_stock(city_growth):
    g = city_growth
    assert g.observed.sum() == pytest.approx(1.0) and g.stock.sum() == pytest.approx(1.0)
    assert (g.observed > 0).all() and g.last_year == 2023
    for quarter in ("Kalbach-Riedberg", "Gallus", "Niederrad"):
        assert g.observed[quarter] > 2 * g.stock[quarter], quarter
    assert g.observed["Bockenheim"] > g.stock["Bockenheim"]
    assert g.observed.idxmax() == "Gallus"
    # every Stadtteil keeps at least the replacement share of its stock share
    assert (g.observed >= 291 / 2158 * g.stock - 1e-12).all()


def test_the_observed_pattern_tapers_to_the_stock(city_growth):
    areas = list(city_growth.observed.index)
    pattern = housing.CompletionPattern.of(city_growth, areas)
    now = housing.completion_shares(pattern, 2024, "observed", 10.0)
    later = housing.completion_shares(pattern, 2033, "observed", 10.0)
    stock = housing.completion_shares(pattern, 2024, "stock", 10.0)
    i = areas.index("Gallus")
    assert now[i] > later[i] > stock[i]
    assert later[i] - stock[i] == pytest.approx(0.5 * (city_growth.observed["Gallus"] - stock[i]))  # one half-life after 2023
    assert housing.completion_shares(pattern, 2023, "observed", 10.0)[i] == pytest.approx(city_growth.observed["Gallus"])
    built = housing.spread_completions(3661, now)
    assert built.sum() == 3661 and built[i] > 400
    sub = [areas.index(a) for a in ("Gallus", "Griesheim")]  # a district run gets its own share of the city's completions
    assert housing.spread_completions(3661, now[sub]).sum() == round(3661 * now[sub].sum())


def test_relative_rents_combine_sources_by_hand():
    offers = pd.DataFrame(
        [
            ("s1", 2015, (), 10.0),
            ("s1", 2015, (("A", 1.0),), 12.0),
            ("s1", 2015, (("B", 1.0),), 8.0),
            ("s2", 2023, (("A", 1.0),), 24.0),  # a source without a city-wide figure
            ("s2", 2023, (("C", 1.0),), 12.0),
        ],
        columns=["source", "year", "members", "value"],
    )
    distance = np.array([[0, 5, 5, 9], [5, 0, 5, 9], [5, 5, 0, 1], [9, 9, 1, 0]], float)
    rel, how = housing.relative_rents(offers, ["A", "B", "C", "D"], distance, np.ones(4), ridge=1e-9)
    assert rel[0] / rel[1] == pytest.approx(1.5, rel=1e-4)
    assert rel[2] / rel[0] == pytest.approx(0.5, rel=1e-4)  # C is half of A in s2
    assert rel.mean() == pytest.approx(1.0)
    assert how[3].startswith("nearest") and abs(np.log(rel[3] / rel[2])) < abs(np.log(rel[3] / rel[0]))


def test_offer_rents_differ_by_stadtteil(city_growth):
    d = data.DEFAULT_DATA_DIR
    areas = data.load_areas(d)
    names = areas.names
    offers = data.offer_rents(d, names)
    from simulation import geography

    distance = geography.distance_matrix(d, areas.frame["area_nr"].tolist())
    rel, how = housing.relative_rents(offers[offers["year"] <= 2023], names, distance, city_growth.table["latest"].to_numpy())
    r = dict(zip(names, rel))
    assert r["Westend-Süd"] > 1.1 and r["Altstadt"] > 1.05 and r["Harheim"] < 0.8 and r["Griesheim"] < 0.85
    assert 0.6 < rel.min() and rel.max() < 1.4
    assert how[names.index("Gallus")].startswith("estimated") and how[names.index("Preungesheim")].startswith("nearest")


def test_rents_respond_to_local_pressure_and_do_not_move_in_lockstep():
    rent = np.ones(3)
    dwellings, households = np.array([100, 100, 110]), np.array([97, 97, 97])
    added, effect = np.array([0, 0, 10]), np.array([0.0, 0.0, 5.0])
    pressure = np.array([0.5, -0.5, 0.0])
    new = housing.update_rents(rent, dwellings, households, added, effect, 0.03, 2.0, 0.02, pressure, 0.02)
    assert new == pytest.approx([1.03 + 0.01, 1.03 - 0.01, 1.03 + 0.05])
    excess = housing.excess_rise(rent, new, households)
    assert excess == pytest.approx(np.maximum(0.0, new - 1 - np.mean(new - 1)))
    assert excess[1] == excess[0] == 0 and excess[2] > 0  # the mean rise is 4.67 %
    # tightness counts the stock the year's searchers met: new dwellings do not relieve it at once
    tight = housing.update_rents(np.ones(1), np.array([110]), np.array([100]), np.array([10]), np.array([0.0]), 0.03, 2.0, 0.02)
    assert tight == pytest.approx([1.03 + 2.0 * 0.02])


@pytest.fixture(scope="module")
def gallus_runs():
    """Sozialrathaus Gallus (contains Griesheim), baseline against densification, same seed."""
    return paired_runs(Scenario(areas="sozialrathaus:Gallus", horizon=8, seed=4), "densification_west.toml", "housing")


def test_district_rents_move_apart_and_densification_displaces(gallus_runs):
    base, dense = gallus_runs
    rent = base.tables["housing"].pivot(index="year", columns="area", values="rent_index")
    ratio = rent.div(rent.mean(axis=1), axis=0)
    assert (ratio.loc[2031].max() - ratio.loc[2031].min()) > 0.01  # not in lockstep
    hb, hd = (r.tables["housing"].set_index(["year", "area"]) for r in gallus_runs)
    g = (slice(2027, 2031), "Griesheim")
    assert hd.loc[g, "displaced_households"].sum() > hb.loc[g, "displaced_households"].sum()
    assert hd.loc[g, "displaced_households"].sum() > 0
    assert (hd.loc[(2031, "Griesheim"), "rent_index"]) > hb.loc[(2031, "Griesheim"), "rent_index"]
    # the district gets the completions of its Stadtteile (Gallus builds), not its population share
    dw = hb["dwellings"].unstack()
    assert dw.loc[2031, "Gallus"] / dw.loc[2023, "Gallus"] > dw.loc[2031, "Griesheim"] / dw.loc[2023, "Griesheim"]
