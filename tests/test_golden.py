"""Golden run: a small seeded run's key aggregates, pinned.

Sozialrathaus Bockenheim (the pilot district, 5 areas), 5 years from the baseline, seed
20231231, with the new Kita of ``new_kita_bockenheim.toml`` so that an offering change is part
of it. Any change of results -- a refactor that should not change them, or an intended change of
a rule -- shows here. An intended change updates the file with

    .venv/bin/python -m tests.test_golden --update

and says in the commit message which figures moved and why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

GOLDEN = Path(__file__).with_name("golden") / "bockenheim_kita_5y.json"
SCENARIO = "new_kita_bockenheim.toml"
YEARS = 5
SEED = 20231231


def golden_figures() -> dict[str, dict[str, float]]:
    """Key aggregates of the golden run by year: residents, events, households, dwellings, rents,
    service demand and unmet need, a few cohesion indicators (district level)."""
    from simulation.runner import run_scenario
    from simulation.scenario import load_scenario
    from tests.conftest import ROOT

    scenario = load_scenario(ROOT / "scenarios" / SCENARIO, areas="sozialrathaus:Bockenheim")
    tables = run_scenario(scenario, seed=SEED, years=YEARS).tables
    by_year: dict[str, pd.Series] = {
        "residents": tables["population"].groupby("year")["persons"].sum(),
        "foreign": tables["population"].query("migration_background == 'foreign'").groupby("year")["persons"].sum(),
        "aged_75plus": tables["population"].query("age >= 75").groupby("year")["persons"].sum(),
        "households": tables["households"].groupby("year")["households"].sum(),
        "single_parent_households": tables["households"].query("household_type == 'single_parent'").groupby("year")["households"].sum(),
        "dwellings": tables["housing"].groupby("year")["dwellings"].sum(),
        "rent_index_mean": tables["housing"].groupby("year")["rent_index"].mean(),
        "displaced_households": tables["housing"].groupby("year")["displaced_households"].sum(),
    }
    for event in ("births", "deaths", "immigrants", "emigrants", "moves_in"):
        by_year[event] = tables["events"].groupby("year")[event].sum()
    services = tables["services"]
    for service in ("kita_u3", "kita_3_6", "family_centre", "senior_meeting", "integration_course"):
        one = services[services["service"] == service].groupby("year")
        by_year[f"{service}.demand"] = one["demand"].sum()
        by_year[f"{service}.unmet"] = one["unmet"].sum()
    by_year["unmet_all_services"] = services.groupby("year")["unmet"].sum()
    district = tables["cohesion"].query("level == 'sozialrathaus'")
    for indicator in ("dissimilarity_migration", "turnover_rate", "volunteers_per_1000", "cohesion_index"):
        by_year[indicator] = district[district["indicator"] == indicator].set_index("year")["value"]
    return {name: {str(int(y)): float(v) for y, v in series.items()} for name, series in by_year.items()}


def test_golden_run_is_unchanged():
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    actual = golden_figures()
    assert sorted(actual) == sorted(expected)
    for name, years in expected.items():
        assert sorted(actual[name]) == sorted(years), name
        for year, value in years.items():
            # counts exactly; indices and rates to rounding noise
            assert np.isclose(actual[name][year], value, rtol=1e-9, atol=1e-12, equal_nan=True), (
                f"{name} {year}: {actual[name][year]} != {value}"
            )


if __name__ == "__main__":
    if "--update" in sys.argv:
        GOLDEN.write_text(json.dumps(golden_figures(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {GOLDEN}")
