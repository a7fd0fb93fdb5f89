"""Kita places and demand from the city's evidence (issue 10, cause 7).

Places per area: a Kita planning district's places per child where the data has a figure near the
base year, else the city's places per child (12,549 under-3 places for 23,400 children and 26,340
kindergarten places for 27,363 children, 31 Dec 2022). Demand: 60.0 % of under-3s (ASSUMPTION in
service_catalogue.csv) and every child from 3 to school entry (the city's planning target).
"""

from __future__ import annotations

import numpy as np
import pytest

from simulation import catalogue
from simulation.processes import services
from simulation.scenario import load_scenario
from tests.conftest import ROOT
from tests.helpers import build_model, with_intervention


def _children(model, service: str) -> dict[str, int]:
    """Base-year eligible persons per area of a service."""
    view = services.PersonView.of(model.population, model.year)
    rows = services.eligible(model.catalogue[service], view)
    counts = np.bincount(view.area[rows], minlength=len(model.area_names))
    return dict(zip(model.area_names, counts.tolist()))


def test_base_year_places_follow_the_documented_rule():
    """Hand-computed: Preungesheim has a 2022 planning-district figure (265 places for 591 children
    under 3; 693 for 716 kindergarten children), Bockenheim none (city-wide 12,549 / 23,400 and
    26,340 / 27,363), Sossenheim only a 2012 figure, outside the 5-year window of a 2023 base year."""
    areas = ["Preungesheim", "Bockenheim", "Sossenheim"]
    model = build_model(load_scenario(ROOT / "scenarios" / "baseline.toml").model_copy(update={"areas": areas, "horizon": 1}))
    u3, k36 = _children(model, "kita_u3"), _children(model, "kita_3_6")
    cap = {name: dict(zip(model.area_names, model.capacity[i])) for i, name in enumerate(model.service_names)}
    assert min(u3.values()) > 100 and min(k36.values()) > 100  # enough children for the ratios to matter
    assert cap["kita_u3"]["Preungesheim"] == round(265 / 591 * u3["Preungesheim"])
    assert cap["kita_u3"]["Bockenheim"] == round(12549 / 23400 * u3["Bockenheim"])
    assert cap["kita_u3"]["Sossenheim"] == round(12549 / 23400 * u3["Sossenheim"])  # not 27 / 489 (2012)
    assert cap["kita_3_6"]["Preungesheim"] == round(693 / 716 * k36["Preungesheim"])
    assert cap["kita_3_6"]["Bockenheim"] == round(26340 / 27363 * k36["Bockenheim"])


def test_area_figures_count_near_the_base_year_only(data_dir):
    t2023 = catalogue.area_capacity_table(data_dir, 2023).set_index(["service", "area"])
    t2012 = catalogue.area_capacity_table(data_dir, 2012).set_index(["service", "area"])
    assert ("kita_u3", "Preungesheim") in t2023.index and ("kita_u3", "Sossenheim") not in t2023.index
    assert ("kita_u3", "Gutleutviertel") in t2023.index  # planning district Bahnhof/Gutleut, end of 2019
    assert tuple(t2023.loc[("kita_u3", "Gutleutviertel"), ["places", "children"]]) == (98, 271)
    assert tuple(t2012.loc[("kita_u3", "Sossenheim"), ["places", "children"]]) == (27, 489)
    assert ("kita_u3", "Preungesheim") not in t2012.index
    assert not t2023.index.duplicated().any()


@pytest.fixture(scope="module")
def city_base_year():
    from simulation.runner import run_scenario

    result = run_scenario(load_scenario(ROOT / "scenarios" / "baseline.toml"), years=0)
    table = result.tables["services"]
    return table[table["year"] == table["year"].min()]


@pytest.mark.slow
def test_base_year_under3_shortage_is_the_size_the_data_implies(city_base_year, data_dir):
    """Unmet under-3 demand in the base year: seekers minus places, as a share of all under-3s.

    The data imply take-up - places per child = 0.600 - 12,549 / 23,400 = 6.4 % of the under-3s
    (about 1,490 children at the city's 2022 count). Tolerance +-2 points: the seekers are random
    (binomial, 3 standard deviations = 1 point of 22,800 children), places beyond demand stay idle
    where a planning district has more than its seekers (Eckenheim 122 %: up to 1 point), the
    under-supplied districts (Preungesheim 45 %, Bahnhof/Gutleut 36 %) add about 0.4 points.
    """
    u3 = city_base_year[city_base_year["service"] == "kita_u3"]
    cat = catalogue.load_catalogue(data_dir)["kita_u3"]
    implied = cat.take_up[0] - cat.base_capacity / cat.base_children
    share = u3["unmet"].sum() / u3["eligible"].sum()
    assert u3["unmet"].sum() > 0
    assert abs(share - implied) <= 0.02, (share, implied)
    assert (u3.groupby("sozialrathaus")["unmet"].sum() > 0).all()  # every Sozialrathaus district short
    assert (u3["unmet"] > 0).mean() >= 0.8  # and most Stadtteile


@pytest.mark.slow
def test_base_year_kindergarten_shortage_is_small(city_base_year):
    """3 to school entry: every child seeks (the city's 100 % target), 96.3 % places: a few per cent
    unmet, in many areas, never more than the gap to the worst district figure (Bahnhof/Gutleut 76 %)."""
    k = city_base_year[city_base_year["service"] == "kita_3_6"]
    share = k["unmet"].sum() / k["eligible"].sum()
    assert 0.01 <= share <= (1 - 26340 / 27363) + 0.02, share
    assert (k["unmet"] > 0).mean() >= 0.5
    assert (k["unmet"] <= k["eligible"] * (1 - 183 / 240) + 3).all()


def test_new_kita_lowers_bockenheim_under3_unmet_every_year_after_it_opens():
    """Sozialrathaus Bockenheim, 6 years, same seed with and without the Kita of 2027 (19 places)."""
    from simulation.runner import run_scenario

    base = load_scenario(ROOT / "scenarios" / "bockenheim.toml").model_copy(update={"horizon": 6})
    kita = with_intervention(base, "new_kita_bockenheim.toml", "offerings")
    tables = [run_scenario(s).tables["services"] for s in (base, kita)]
    without, with_kita = (t[(t["service"] == "kita_u3") & (t["area"] == "Bockenheim")].set_index("year")["unmet"] for t in tables)
    opening = 2027
    assert (without.loc[: opening - 1] == with_kita.loc[: opening - 1]).all()  # nothing changes before it opens
    after = without.loc[opening:]
    assert len(after) >= 2
    for year, unmet in after.items():
        assert unmet > 0, f"no unmet under-3 demand in Bockenheim in {year} without the Kita: nothing for it to lower"
        assert with_kita.loc[year] < unmet, year
