"""The one entry point: ``run_scenario(scenario, seed) -> RunResult``.

The CLI, benchmarks and (later) ensembles and the dashboard all call it.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable

import numpy as np
import pandas as pd

from simulation import __version__
from simulation.inputs import CityInputs, load_inputs
from simulation.model import CityModel
from simulation.scenario import Scenario
from simulation.tables import build_tables

# Assumptions every run states in its manifest (where real data is missing or a proxy is used).
ASSUMPTIONS = [
    "Stadtteil structure (age groups x origin, female share) is that of 31 Dec 2012; for later base years it is scaled to the official totals (see population_method).",
    "Single years of age within the profile's age groups follow Germany on 31 Dec 2014, the date nearest to the 2012 profile (Destatis 12411-0006); 85+ spread by life-table Lx.",
    "Mortality: German period life tables (Destatis 12621-0001), not Frankfurt-specific; scenario factor mortality.factor.",
    "Fertility: German ASFR (Destatis 12612-0008) of the simulated year or the nearest available year; scenario factor fertility.factor.",
    "Household structure: Frankfurt register-based household statistics of 30 June 2022, applied in every area (no area-level household data).",
    "Household transition hazards (leaving home, couple formation, separation) are scenario assumptions, see scenarios/baseline.toml.",
    "Age profile of migration and moves: share of adults living < 5 years at their address by age group (Stadtteil profile 2012).",
    "Out-migration level: Frankfurt 2010 out-moves per resident; in-migration volume: Frankfurt 2010 in-moves (scenario values).",
    "Income class 'low' = minimum-income benefits; city share 11.6 % (2022); relative risk by origin group is a scenario assumption.",
    "Dwellings: base-year households / (1 - vacancy_reserve) per area; new dwellings per year from the scenario (2023 completions: 3,661), spread by stock.",
    "Rents: an index per area, 1 in the base year (no rent levels per Stadtteil in the data); growth, tightness and new-build effects and displacement rates are scenario assumptions.",
    "Volunteering: 39.7 % of residents 14+ (Freiwilligensurvey 2019, national); hours, the share going to social services and hours per place are scenario assumptions.",
]


@dataclass
class RunResult:
    scenario: Scenario
    seed: int | dict
    tables: dict[str, pd.DataFrame]
    manifest: dict
    timings: dict = field(default_factory=dict)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "sozialraum": __version__}
    for name in ("mesa", "numpy", "pandas", "scipy", "pyarrow", "pydantic", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_scenario(
    scenario: Scenario,
    seed: int | np.random.SeedSequence | None = None,
    years: int | None = None,
    progress: Callable[[int], None] | None = None,
    inputs: CityInputs | None = None,
) -> RunResult:
    """Build the model from ``inputs`` (loaded here when not given), run it for ``years``
    (default: the scenario's horizon) and collect the output tables (``simulation/tables.py``)."""
    seed = scenario.seed if seed is None else seed
    years = scenario.horizon if years is None else years
    t0 = time.perf_counter()
    inputs = inputs if inputs is not None else load_inputs(scenario)
    t1 = time.perf_counter()
    model = CityModel(scenario, inputs, seed)
    t2 = time.perf_counter()
    model.run(years, progress=progress)
    t3 = time.perf_counter()
    tables = build_tables(model.recorder)
    timings = {
        "inputs_s": round(t1 - t0, 3),
        "setup_s": round(t2 - t1, 3),
        "simulation_s": round(t3 - t2, 3),
        "years": years,
        "per_year_s": round((t3 - t2) / max(years, 1), 4),
    }
    manifest = {
        "scenario": scenario.model_dump(mode="json"),
        "scenario_file": inputs.source,
        "seed": model.seed,
        "years": [scenario.base_year, scenario.base_year + years],
        "areas": model.area_names,
        "versions": package_versions(),
        "data_dir": str(inputs.data_dir),
        "input_data_sha256": inputs.files,
        "population_method": inputs.population_method,
        "assumptions": ASSUMPTIONS,
        "services": {name: {"source": t.source, "assumption": t.assumption, "unit": t.unit} for name, t in model.catalogue.items()},
        "cohesion_index": {
            "parts": list(scenario.cohesion.weights),
            "weights": scenario.cohesion.weights,
            "small_area_threshold": scenario.cohesion.small_area_threshold,
        },
        "run_time": timings,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return RunResult(scenario, model.seed, tables, manifest, timings)
