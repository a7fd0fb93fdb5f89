"""The one entry point: ``run_scenario(scenario, seed) -> RunResult``.

The CLI, benchmarks and (later) ensembles and the dashboard all call it.
"""

from __future__ import annotations

import gc
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
    "Stadtteil structure (age groups x origin, female share) is that of 31 Dec 2012; for 2023 it is raked to the official Stadtteil totals, the register's city total and foreigners, and the official 17 age groups of 31 Dec 2023 (their shares carried to the register level; see population_method).",
    "Single years of age follow Frankfurt tables (Germans: 31 Dec 2023; foreigners: 31 Dec 2013) by a mean-preserving monotone interpolation; 75+ as a stable population from the German life table.",
    "Mortality: German period life tables (Destatis 12621-0001) x a city factor fitted to Frankfurt's life expectancy 81.9 (2020); after the latest table death probabilities fall by mortality.improvement_per_year (assumption).",
    "Fertility: German age pattern (Destatis 12612-0008) of the simulated year or the nearest year x a city factor = Frankfurt's TFR 1.42 / Germany's 1.565 (2018).",
    "Household structure: Frankfurt register-based household statistics of 30 June 2022, applied in every area (no area-level household data).",
    "Household transition hazards (leaving home, couple formation, separation) are scenario assumptions, see scenarios/baseline.toml.",
    "Out-migration: Frankfurt 2013 out-moves per resident (71.6 per 1,000), by age after the Rogers-Castro fundamental schedule (assumed shape; no gross moves by age in the data).",
    "In-migration: expected out-migrants + net migration by age with the rest of Germany (Kreiswanderungsmatrix 2018-2021) + net migration from abroad (INKAR 2023, spread by the schedule's shape: assumption).",
    "Moves inside the city: age profile from the share of adults living < 5 years at their address by age group (Stadtteil profile 2012).",
    "Income class 'low' = minimum-income benefits; city share 11.6 % (2022); relative risk by origin group is a scenario assumption.",
    "Dwellings: base-year households / (1 - vacancy_reserve) per area; new dwellings per year from the scenario (2023 completions: 3,661), placed by each Stadtteil's observed population growth 2012-2023 with a replacement share by stock, tapering to the stock pattern after 2023 (half-life: assumption); shares in housing_method.",
    "Rents: base-year offer rents (listings, not stock rents) per Stadtteil where the data has them, the nearest Stadtteile elsewhere (assumption; housing_method); the index per area (1 in the base year) moves with general growth, tightness, new building and demand pressure; their sizes and displacement rates are scenario assumptions.",
    "Location choice of movers, displaced households and newcomers: conditional logit on free dwellings, rent by income class and the share of the household's origin group (homophily); rent sensitivities and homophily are calibrated assumptions (scenarios/baseline.toml).",
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
    check_more: bool = False,
) -> RunResult:
    """Build the model from ``inputs`` (loaded here when not given), run it for ``years``
    (default: the scenario's horizon) and collect the output tables (``simulation/tables.py``).
    The model checks its invariants after every year; ``check_more`` adds the costlier checks."""
    seed = scenario.seed if seed is None else seed
    years = scenario.horizon if years is None else years
    # An earlier run's model is cyclic garbage (Mesa's model and its agent sets refer to each
    # other) that still holds its columns and records, a few hundred MB. A run allocates few
    # Python objects, so the cyclic collector would find it only after many runs, and a worker
    # running replication after replication grew by about 50 MB a run: collect it first.
    gc.collect()
    t0 = time.perf_counter()
    inputs = inputs if inputs is not None else load_inputs(scenario)
    t1 = time.perf_counter()
    model = CityModel(scenario, inputs, seed, check_more=check_more)
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
        "housing_method": inputs.housing_method,
        "assumptions": ASSUMPTIONS,
        "services": {name: {"source": t.source, "assumption": t.assumption, "unit": t.unit} for name, t in model.catalogue.items()},
        "cohesion_index": {
            "parts": list(scenario.cohesion.weights),
            "weights": scenario.cohesion.weights,
            "small_area_threshold": scenario.cohesion.small_area_threshold,
        },
        "checks": "yearly invariants and accounting" + (", and the costlier ones (--check-more)" if check_more else ""),
        "run_time": timings,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return RunResult(scenario, model.seed, tables, manifest, timings)
