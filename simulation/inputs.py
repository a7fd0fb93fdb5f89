"""Everything a run reads, resolved once: ``load_inputs(scenario) -> CityInputs``.

The one place where input files are opened for a run. ``CityModel(scenario, inputs, seed)``
only builds state from a ``CityInputs`` and runs the calendar; ``sozialraum validate`` is
``load_inputs`` and nothing else, so validation and runs cannot drift apart; an ensemble loads
inputs once per worker process (``cached_inputs``) and builds many models from them. The
manifest hashes exactly the files read here (``CityInputs.files``).

Contents: the run's areas and their Sozialrathaus districts, base-year person cells, the city's
base-year total, household facts and synthesis inputs, the rate tables (life tables, fertility,
births by sex) with per-year rates, the mobility profile, the service catalogue with the
scenario's overrides and the data for base capacities, distances between areas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from simulation import base_population, catalogue, data, geography, rates
from simulation.catalogue import ServiceType
from simulation.errors import InputError, did_you_mean, file_kind
from simulation.population import MAX_AREAS
from simulation.processes.housing import DwellingGrowth, dwelling_growth, relative_rents, stadtteil_growth
from simulation.processes.services import nearest_areas
from simulation.scenario import Scenario, check_references, item
from simulation.synthesis import HouseholdFacts, SynthesisInputs, area_income_risk, parent_weight_from_asfr
from simulation.vocabulary import ORIGINS


@dataclass(frozen=True)
class YearRates:
    """The demographic rates of one simulated year."""

    death: rates.RateTable  # probability of dying in the year by sex and age
    fertility: rates.RateTable  # live births per woman by age
    male_share: float  # share of boys among live births


@dataclass
class CityInputs:
    """Resolved inputs of one scenario (see module docstring); read-only for the model."""

    data_dir: Path
    source: str | None  # the scenario file, for messages
    area_names: list[str]  # the run's areas, in the order of the area table
    area_sozialrathaus: list[str]
    cells: pd.DataFrame  # base-year persons: area, age, sex, origin, persons (the run's areas)
    city_base_persons: int  # residents of the whole city in the base year
    population_method: dict  # how the base cells were built (for the manifest)
    household_facts: HouseholdFacts
    synthesis: SynthesisInputs
    mobility_index: np.ndarray  # relative mobility by adult age group of the head
    newcomer_weights: np.ndarray  # where newcomers settle, per area
    net_internal_by_age: np.ndarray  # net migration with the rest of Germany per migration age group (persons a year, whole city)
    newborn_foreign_share: float
    catalogue: dict[str, ServiceType]  # with the scenario's overrides
    capacity_table: pd.DataFrame  # real places per child by area (Kita planning districts)
    capacity_weights: dict[str, np.ndarray]  # per service: children per area in the 2012 profile
    distance_km: np.ndarray  # (areas, areas)
    nearest: dict[str, np.ndarray]  # per service: nearest other areas within reach
    dwelling_growth: DwellingGrowth  # where the city's completions go (city-wide shares per Stadtteil)
    base_rent: np.ndarray  # offer rent per area in the base year, EUR per m2 (processes/housing.py)
    housing_method: dict  # how both were found (for the manifest)
    files: dict[str, str]  # every file read -> SHA-256
    tables: dict[str, pd.DataFrame]  # life tables, ASFR, births by sex (for per-year rates)
    mortality_period: str
    mortality_improvement: float  # yearly decline of death probabilities after the latest table
    asfr_year: int | str
    _year_rates: dict[int, YearRates] = field(default_factory=dict, repr=False)

    @property
    def service_names(self) -> list[str]:
        return list(self.catalogue)

    @cached_property
    def area_share_of_city(self) -> float:
        """The run's base-year residents as a share of the city's (1 for the whole city)."""
        return float(self.cells["persons"].sum()) / self.city_base_persons

    def rates_for(self, year: int) -> YearRates:
        """Death, fertility and sex-ratio rates of ``year`` (nearest table where the year is not
        covered, or the scenario's fixed period / year)."""
        if year not in self._year_rates:
            life, asfr = self.tables["life"], self.tables["asfr"]
            period = rates.nearest_life_table_period(life, year) if self.mortality_period == "auto" else self.mortality_period
            fert_year = rates.asfr_year(asfr, year if self.asfr_year == "auto" else self.asfr_year)
            self._year_rates[year] = YearRates(
                death=rates.improved(rates.death_probabilities(life, period), life, year, self.mortality_improvement),
                fertility=rates.fertility_rates(asfr, fert_year),
                male_share=rates.male_birth_share(self.tables["births"], year),
            )
        return self._year_rates[year]


def select_areas(spec: str | list[str], areas: data.AreaTable, where: str | None = None) -> list[str]:
    """'city', 'sozialrathaus:NAME' or a list of Stadtteil names -> the area names of the run."""
    names = areas.names
    if spec == "city":
        return names
    if isinstance(spec, str) and spec.startswith("sozialrathaus:"):
        srh = spec.split(":", 1)[1]
        chosen = [a for a, s in areas.sozialrathaus_of().items() if s == srh]
        if not chosen:
            districts = sorted(set(areas.sozialrathaus_of().values()))
            problem = f"unknown Sozialrathaus '{srh}'{did_you_mean(srh, districts)}"
            raise InputError(where, "areas", problem, f"sozialrathaus:NAME with NAME one of {', '.join(districts)}")
        return chosen
    if isinstance(spec, list):
        if not spec:
            raise InputError(where, "areas", "empty area list", "Stadtteil names: " + ", ".join(names))
        for i, area in enumerate(spec):
            if area not in names:
                raise InputError(
                    where, item("areas", i), f"unknown area '{area}'{did_you_mean(area, names)}", "Stadtteil names: " + ", ".join(names)
                )
        return [a for a in names if a in spec]
    raise InputError(where, "areas", f"cannot read {spec!r}", "'city', 'sozialrathaus:NAME' or a list of Stadtteil names")


def _data_dir(scenario: Scenario, where: str | None) -> Path:
    if not scenario.data_dir:
        return data.DEFAULT_DATA_DIR
    if file_kind(scenario.data_dir) != "folder":
        allowed = "the folder of the input tables, e.g. calibration/data (relative to the scenario file)"
        raise InputError(where, "data_dir", f"'{scenario.data_dir}' is not a folder", allowed)
    return Path(scenario.data_dir)


def _extract_path(scenario: Scenario, data_dir: Path, where: str | None) -> Path | None:
    """The register extract that the scenario reads (None: another source), checked to be a file."""
    if scenario.population.source != "register_extract":
        return None
    given = scenario.population.register_extract
    path = Path(given) if given else data.data_path(data_dir, "register_extract")
    kind = file_kind(path)
    if kind != "file":
        problem = {
            "folder": f"'{path}' is a folder, not a file",
            "unusable": f"'{given}' is not a usable file name",
            None: f"not found: {path}" if given else f"not set, and {path} does not exist",
        }[kind]
        allowed = f"a CSV file with columns {', '.join(data.EXTRACT_COLUMNS)} (a path relative to the scenario file)"
        raise InputError(where, "population.register_extract", problem, allowed)
    return path


EXTRACT_TOLERANCE = 0.05  # a register extract of every area may differ this much from the register's city total


def check_extract_total(
    cells: pd.DataFrame, extract: Path, base_year: int, data_dir: Path, all_areas: list[str], where: str | None
) -> None:
    """A register extract must fit the register's city total of the base date (where there is
    one): within 5 % when it covers every area, not above it when it covers only some."""
    totals = data.register_totals(data_dir)
    key = f"{base_year}-12-31"
    if key not in totals.index:
        return
    persons, city = int(cells["persons"].sum()), int(totals[key])
    every_area = set(cells["area"]) >= set(all_areas)
    if (every_area and abs(persons - city) > EXTRACT_TOLERANCE * city) or persons > city * (1 + EXTRACT_TOLERANCE):
        raise InputError(
            where,
            "population.register_extract",
            f"{extract.name} holds {persons:,} persons in {'every area' if every_area else 'some areas'}; the register counts {city:,} residents on {key}",
            "an extract of the base date: within 5 % of the register's total for all areas, at most that total for some",
        )


def check_offering_sizes(scenario: Scenario, services: dict[str, ServiceType], cells: pd.DataFrame, where: str | None) -> None:
    """A shrink cannot remove more than an area can have: at most one place (in the service's unit)
    for every resident of the service's ages in the base year, twice over for growth, plus what the
    scenario opened or expanded there before."""
    added: dict[tuple[str, str], float] = {}
    for i, o in sorted(enumerate(scenario.offerings), key=lambda pair: pair[1].year):
        key = (o.service, o.area)
        if o.action in ("open", "expand"):
            added[key] = added.get(key, 0.0) + o.capacity
        if o.action != "shrink":
            continue
        s = services[o.service]
        residents = cells.loc[(cells["area"] == o.area) & cells["age"].between(s.min_age, s.max_age), "persons"].sum()
        most = 2 * residents * s.units_per_user + added.get(key, 0.0)
        if o.capacity > most:
            raise InputError(
                where,
                item("offerings", i, "capacity"),
                f"shrinks {o.service} in {o.area} by {o.capacity:,.0f}, more than the area can have ({residents:,} residents aged "
                f"{s.min_age}-{s.max_age} in {scenario.base_year})",
                f"at most {most:,.0f}",
            )


def city_total(cells: pd.DataFrame, base_year: int, data_dir: Path, all_areas: list[str], where: str | None) -> int:
    """Residents of the whole city in the base year: the cells' total when they cover every area,
    else the register total of the base date (a partial register extract)."""
    if set(cells["area"]) >= set(all_areas):
        return int(cells["persons"].sum())
    totals = data.register_totals(data_dir)
    key = f"{base_year}-12-31"
    if key not in totals.index:
        raise InputError(
            where,
            "population.register_extract",
            f"covers only some areas and there is no city total for {key}",
            "an extract of all areas, or a base year with a register total",
        )
    return int(totals[key])


def _mid_2022_population(data_dir: Path) -> float:
    """Residents on 30 June 2022 (mean of the register totals on 31 Dec 2021 and 2022)."""
    totals = data.register_totals(data_dir)
    return (totals["2021-12-31"] + totals["2022-12-31"]) / 2.0


def housing_inputs(
    data_dir: Path, area_table: data.AreaTable, area_names: list[str], scenario: Scenario
) -> tuple[DwellingGrowth, np.ndarray, dict]:
    """Where the city builds and the base-year offer rents (rules in processes/housing.py), from
    the Stadtteil totals 2012-2023, the dwelling completions, the register and the offer rents.
    Rent figures dated after the base year are not used (they are what a projection is judged
    against), except that a hindcast pools the figures up to 2023 (relative levels move slowly)."""
    all_areas = area_table.names
    residents = data.stadtteil_residents_2012(data_dir).reindex(all_areas)
    register = data.register_totals(data_dir)
    city_date = max(d for d in register.index if d.endswith("-12-31"))
    share = scenario.housing_market.replacement_share
    share = replacement_share(data_dir) if share is None else share
    growth = dwelling_growth(
        stadtteil_growth(residents, data.stadtteil_observations(data_dir), (city_date, float(register[city_date]))), share
    )
    last_year = max(scenario.base_year, int(city_date[:4]))
    offers = data.offer_rents(data_dir, all_areas)
    offers = offers[offers["year"] <= last_year]
    city = offers[(offers["members"].map(len) == 0) & (offers["year"] <= scenario.base_year)].sort_values("year", kind="stable")
    if city.empty:
        raise InputError(data.data_path(data_dir, "rents"), "area", f"no city-wide offer rent in or before {scenario.base_year}")
    city_rent = city.iloc[-1]
    numbers = area_table.frame["area_nr"].tolist()
    stock = growth.table["latest"].reindex(all_areas).to_numpy(float)
    relative, how = relative_rents(offers, all_areas, geography.distance_matrix(data_dir, numbers), stock)
    level = pd.Series(relative * float(city_rent["value"]), index=all_areas)
    method = {
        "completions": "observed Stadtteil growth 2012 to the latest official totals, with a replacement share by stock (processes/housing.py)",
        "replacement_share": round(float(share), 6),
        "observed_pattern_until": growth.last_year,
        "rent": "offer rents from listings (not stock rents), relative levels by source-and-year and Stadtteil effects (processes/housing.py)",
        "city_offer_rent": {"value": float(city_rent["value"]), "source": city_rent["source"]},
        "areas": growth.table.reset_index()
        .assign(offer_rent_base=level.to_numpy(), rent_relative=relative, rent_method=how)
        .round(6)
        .to_dict(orient="records"),
    }
    return growth, level.reindex(area_names).to_numpy(float), method


def replacement_share(data_dir: Path) -> float:
    """Demolished / gross completions (2012: 291 of 2,158; frankfurt_dwelling_completions.csv)."""
    frame = data.dwelling_completions(data_dir)
    rows = frame[frame["year"] == 2012].set_index("indicator")["value"].astype(float)
    if not {"dwellings_completed_gross", "dwellings_completed_net"} <= set(rows.index):
        raise InputError(data.data_path(data_dir, "completions"), "indicator", "gross and net completions of 2012 missing")
    return 1.0 - rows["dwellings_completed_net"] / rows["dwellings_completed_gross"]


def _net_internal_by_age(data_dir: Path, years: tuple[int, int], where: str) -> np.ndarray:
    """Net migration with the rest of Germany by age group over ``years``, which the data must cover."""
    table = data.net_internal_migration(data_dir)
    have = sorted(table["year"].unique().tolist())
    if years[0] > years[1] or years[0] < have[0] or years[1] > have[-1]:
        raise InputError(
            where,
            "in_migration.net_internal_years",
            f"years {years[0]}-{years[1]}",
            f"from <= to, within the years of the data: {have[0]}-{have[-1]}",
        )
    return rates.net_internal_by_age(table, years)


def load_inputs(scenario: Scenario, where: str | None = None) -> CityInputs:
    """Read and check everything the scenario's run needs. Raises InputError (file, field, allowed)."""
    where = where or scenario.source
    data_dir = _data_dir(scenario, where)
    with data.logged_reads() as read:
        area_table = data.load_areas(data_dir)
        area_names = select_areas(scenario.areas, area_table, where)
        if len(area_names) > MAX_AREAS:
            raise InputError(where, "areas", f"{len(area_names)} areas", f"at most {MAX_AREAS}")
        services = catalogue.load_catalogue(data_dir)
        check_references(scenario, list(services), area_names, where, tuple(n for n, s in services.items() if s.unlimited))
        extract = _extract_path(scenario, data_dir, where)
        try:
            cells, method = base_population.person_cells(
                scenario.population.source, data_dir, scenario.base_year, area_table.names, extract, where
            )
        except InputError as exc:
            if extract is None or exc.file != str(extract):
                raise
            raise exc.reached_from(where, "population.register_extract") from None
        if extract is not None:
            check_extract_total(cells, extract, scenario.base_year, data_dir, area_table.names, where)
        city_persons = city_total(cells, scenario.base_year, data_dir, area_table.names, where)
        income_risk, income_exponent = area_income_risk(
            cells.pivot_table(index="area", columns="origin", values="persons", aggfunc="sum").reindex(columns=list(ORIGINS)).fillna(0.0),
            data.living_space_per_resident(data_dir, area_table.names),
            data.sgb2_per_1000_by_stadtteil(data_dir),
            tuple(scenario.income.relative_risk[o] for o in ORIGINS),
        )
        method = {
            **method,
            "low_income_by_area": {"living_space_exponent": round(income_exponent, 4), "rule": "synthesis.area_income_risk"},
        }
        cells = cells[cells["area"].isin(area_names)]
        if cells["persons"].sum() == 0:
            raise InputError(where, "areas", "the selected areas have no residents in the base data")
        tables = {"life": data.life_tables(data_dir), "asfr": data.asfr_table(data_dir), "births": data.births_by_sex(data_dir)}
        cells_2012 = data.profile_cells(data_dir, "2012-12-31")
        duration = data.residence_duration(data_dir, "2012-12-31")
        base_asfr = rates.fertility_rates(tables["asfr"], rates.asfr_year(tables["asfr"], scenario.base_year)).values * 1000.0
        facts = HouseholdFacts.from_table(data.household_facts(data_dir), _mid_2022_population(data_dir))
        synthesis = SynthesisInputs(
            facts=facts,
            parent_weight=parent_weight_from_asfr(base_asfr),
            duration=duration,
            low_income_share=data.benefit_share(data_dir),
            low_income_relative_risk=tuple(scenario.income.relative_risk[o] for o in ORIGINS),
            low_income_area_risk=income_risk.reindex(area_names).to_numpy(float),
            leave_home_rate=scenario.households.leave_home_rate,
            leave_home_min_age=scenario.households.leave_home_min_age,
            survivors=rates.survivors(
                rates.death_probabilities(tables["life"], rates.nearest_life_table_period(tables["life"], scenario.base_year)),
                scenario.mortality.factor,
            ),
        )
        services = catalogue.with_overrides(services, {k: v.changes() for k, v in scenario.services.items()})
        check_offering_sizes(scenario, services, cells, where)
        numbers = area_table.frame.set_index("area").loc[area_names, "area_nr"].tolist()
        distance = geography.distance_matrix(data_dir, numbers)
        growth, base_rent, housing_method = housing_inputs(data_dir, area_table, area_names, scenario)
        capacity_table = catalogue.area_capacity_table(data_dir, scenario.base_year)  # figures near the base year
    inputs = CityInputs(
        data_dir=data_dir,
        source=where,
        area_names=area_names,
        area_sozialrathaus=[area_table.sozialrathaus_of()[a] for a in area_names],
        cells=cells.reset_index(drop=True),
        city_base_persons=city_persons,
        population_method=method,
        household_facts=facts,
        synthesis=synthesis,
        mobility_index=rates.mobility_index(duration),
        newcomer_weights=rates.newcomer_area_weights(duration, area_names),
        net_internal_by_age=_net_internal_by_age(data_dir, scenario.in_migration.net_internal_years, where),
        newborn_foreign_share=rates.newborn_foreign_share(cells_2012),
        catalogue=services,
        capacity_table=capacity_table,
        capacity_weights={name: catalogue.children_2012(s, cells_2012, area_names) for name, s in services.items()},
        distance_km=distance,
        nearest={name: nearest_areas(distance, s.max_distance_km) for name, s in services.items()},
        dwelling_growth=growth,
        base_rent=base_rent,
        housing_method=housing_method,
        files=data.file_hashes(read, data_dir),
        tables=tables,
        mortality_period=scenario.mortality.life_table,
        mortality_improvement=scenario.mortality.improvement_per_year,
        asfr_year=scenario.fertility.asfr_year,
    )
    for year in scenario.years:  # every year's rates exist (and are checked) before a run starts
        inputs.rates_for(year)
    return inputs


@lru_cache(maxsize=8)
def cached_inputs(scenario_json: str) -> CityInputs:
    """Inputs of a scenario given as JSON, loaded once per process (ensemble workers)."""
    return load_inputs(Scenario.model_validate_json(scenario_json))
