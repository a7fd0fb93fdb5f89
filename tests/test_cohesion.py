"""Housing pressure, volunteering and the cohesion table of whole runs."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.processes import housing
from simulation.scenario import Scenario
from simulation.vocabulary import HEAD, LOW, MALE, NONE, NOT_LOW
from tests.helpers import make_population, paired_runs, scenario_error


@pytest.fixture(scope="module")
def gallus_runs():
    """Sozialrathaus Gallus (contains Griesheim), baseline against densification, same seed."""
    return paired_runs(Scenario(areas="sozialrathaus:Gallus", horizon=7, seed=4), "densification_west.toml", "housing")


def test_densification_raises_dwellings_population_and_changes_displacement(gallus_runs):
    base, dense = gallus_runs
    hb, hd = (r.tables["housing"].set_index(["year", "area"]) for r in gallus_runs)
    griesheim = (slice(2027, None), "Griesheim")
    assert (hd.loc[griesheim, "dwellings"] > hb.loc[griesheim, "dwellings"]).all()
    # new building pushes rents up but also relieves tightness: rents differ, in either direction
    assert (hd.loc[griesheim, "rent_index"] != hb.loc[griesheim, "rent_index"]).all()
    pb, pd_ = (r.tables["population"].groupby(["year", "area"])["persons"].sum() for r in gallus_runs)
    assert pd_.loc[(2030, "Griesheim")] > pb.loc[(2030, "Griesheim")]
    assert (pd_.loc[:2026] == pb.loc[:2026]).all()  # identical until the first new dwellings
    cb, cd = (r.tables["cohesion"] for r in gallus_runs)
    disp = lambda c: c[(c["indicator"] == "displacement") & (c["area"] == "Griesheim")]["value"].sum()  # noqa: E731
    assert disp(cd) != disp(cb) and disp(cd) > 0


def test_displacement_only_takes_low_income_households():
    people = [(40, MALE, NONE, i, HEAD) for i in range(200)]
    households = [(0, LOW if i % 2 else NOT_LOW, 5) for i in range(200)]
    pop = make_population(people, households, 1)
    leaving, staying = housing.draw_displaced(pop, np.array([10.0]), 1.0, 0.3, np.random.default_rng(0))  # certain for the low-income
    rows = np.concatenate([leaving, staying])
    assert len(rows) == len(np.unique(rows)) == 100 and (pop.households.income[rows] == LOW).all()
    assert 15 <= len(leaving) <= 45  # 30 % of 100 leave the city
    assert sum(map(len, housing.draw_displaced(pop, np.array([0.0]), 1.0, 0.3, np.random.default_rng(0)))) == 0


def test_rents_rise_with_tightness_and_new_building():
    rent = np.ones(3)
    dwellings, households = np.array([100, 100, 110]), np.array([98, 100, 98])
    added, effect = np.array([0, 0, 10]), np.array([0.0, 0.0, 10 * 0.5])
    new = housing.update_rents(rent, dwellings, households, added, effect, 0.03, 2.0, 0.02)
    assert new[0] == pytest.approx(1.03)  # vacancy at the reserve: general growth only
    assert new[1] == pytest.approx(1.03 + 2.0 * 0.02)  # no vacancy: tightness
    assert new[2] == pytest.approx(1.03 + 0.5 * 10 / 100)  # new building: 10 % more stock


def test_volunteer_programme_raises_volunteering_and_capacity():
    a, b = paired_runs(
        Scenario(areas="sozialrathaus:Bockenheim", horizon=4, seed=6), "volunteer_programme_bockenheim.toml", "volunteer_programmes"
    )
    ca, cb = (r.tables["cohesion"].set_index(["year", "level", "area", "indicator"])["value"] for r in (a, b))
    key = lambda y: (y, "area", "Bockenheim", "volunteers_per_1000")  # noqa: E731
    assert cb[key(2025)] == ca[key(2025)]
    assert cb[key(2026)] > ca[key(2026)] * 1.15
    sa, sb = (r.tables["services"].set_index(["year", "area", "service"]) for r in (a, b))
    k = (2026, "Bockenheim", "senior_meeting")
    assert sb.loc[k, "capacity"] > sa.loc[k, "capacity"]
    assert sb.loc[(2026, "Bockenheim", "kita_u3"), "capacity"] == sa.loc[(2026, "Bockenheim", "kita_u3"), "capacity"]


def test_cohesion_table_contract_and_composite(gallus_runs):
    c = gallus_runs[0].tables["cohesion"]
    assert list(c.columns) == ["year", "level", "area", "sozialrathaus", "indicator", "value"]
    assert set(c["level"]) == {"area", "sozialrathaus", "city"}
    assert set(c.loc[c["level"] == "city", "area"]) == {"Frankfurt am Main"}
    needed = {
        "dissimilarity_migration",
        "isolation_migration",
        "exposure_migration",
        "entropy_migration",
        "dissimilarity_income",
        "turnover_rate",
        "median_years_at_address",
        "displacement",
        "service_mixing_migration",
        "volunteers_per_1000",
        "alone_75plus_no_contact",
        "dependency_young",
        "dependency_old",
        "cohesion_index",
    }
    assert needed <= set(c["indicator"])
    wide = c.pivot_table(index=["year", "level", "area"], columns="indicator", values="value")
    parts = ["mixing", "stability", "service_reach", "volunteering", "no_isolation"]
    later = wide.loc[wide.index.get_level_values("year") > 2023]
    weighted = sum(later[f"cohesion_weight_{p}"] * later[f"cohesion_part_{p}"] for p in parts)
    assert np.allclose(weighted, later["cohesion_index"])
    assert np.allclose(sum(later[f"cohesion_weight_{p}"] for p in parts), 1.0)
    for name in ("dissimilarity_migration", "entropy_income", "cohesion_index", "service_mixing_income"):
        values = c.loc[c["indicator"] == name, "value"].dropna()
        assert values.between(0, 1).all(), name
    # segregation is a between-area measure: not reported for single areas
    assert not ((c["level"] == "area") & c["indicator"].str.startswith("dissimilarity")).any()


def test_small_areas_are_flagged(gallus_runs):
    c = gallus_runs[0].tables["cohesion"]
    pop = gallus_runs[0].tables["population"].groupby(["year", "area"])["persons"].sum()
    flagged = c[c["indicator"] == "small_area"].set_index(["year", "area"])["value"] == 1
    assert (flagged == (pop.reindex(flagged.index) < 5000)).all()
    assert flagged.loc[(2023, "Bahnhofsviertel")] and not flagged.loc[(2023, "Gallus")]
    assert set(c.loc[c["indicator"] == "small_area", "level"]) == {"area"}
    areas = gallus_runs[0].tables["areas"].set_index(["year", "area"])
    assert (areas["small_area"] == flagged.reindex(areas.index)).all()
    assert (areas["residents"] == pop.reindex(areas.index)).all()


@pytest.mark.parametrize(
    "text, field",
    [
        ('[[housing]]\narea = "Atlantis"\nyear = 2027\ndwellings = 100\n', "housing[1].area"),
        ('[[housing]]\narea = "Griesheim"\nyear = 2027\ndwellings = -100\n', "housing[1].dwellings"),
        ('[[volunteer_programmes]]\narea = "Bockenheim"\nyear = 2070\n', "volunteer_programmes[1].year"),
        ("[cohesion]\nweights = { happiness = 1.0 }\n", "cohesion.weights.happiness"),
    ],
)
def test_bad_cohesion_scenarios_name_the_field(tmp_path, text, field):
    assert scenario_error(tmp_path, text).field == field
