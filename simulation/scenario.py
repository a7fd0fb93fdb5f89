"""Scenario files: TOML, validated with pydantic, optionally ``extends`` another scenario.

A scenario names every rate source and assumption of a run. Errors name the file, the field
and what is allowed (``InputError``). ``extends = "baseline.toml"`` (relative to the file)
loads the base first and overrides single values; tables merge key by key, lists replace.
``name`` is not inherited: it defaults to the file name without ``.toml``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from simulation.errors import InputError
from simulation.vocabulary import ORIGINS

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Factor = Annotated[float, Field(ge=0.0, le=10.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PopulationConfig(Strict):
    """Where the base-year population comes from (see simulation/base_population.py)."""

    source: Literal["anchored", "profile_2012", "register_extract"] = "anchored"
    register_extract: str | None = None  # path to a register extract CSV, relative to the scenario


class MortalityConfig(Strict):
    """Deaths: German period life table (Destatis 12621-0001); 'auto' picks the period nearest the year."""

    life_table: Literal["auto", "2016/18", "2020/22", "2022/24"] = "auto"
    factor: Factor = 1.0  # multiplies death probabilities (Frankfurt-specific level, if known)
    # yearly decline of death probabilities after the last year of the latest table
    improvement_per_year: Annotated[float, Field(ge=-0.05, le=0.05)] = 0.0


class FertilityConfig(Strict):
    """Births: German ASFR (Destatis 12612-0008) of the simulated year, or the latest year available."""

    asfr_year: Annotated[int, Field(ge=1972, le=2024)] | Literal["auto"] = "auto"  # years of the Destatis table
    factor: Factor = 1.0  # multiplies ASFR (Frankfurt's level relative to Germany, if known)


class HouseholdConfig(Strict):
    """Household transitions: annual hazards and the share of births without a partner (assumptions
    and fits; see scenarios/baseline.toml for why)."""

    leave_home_rate: Rate = 0.11
    leave_home_min_age: Annotated[int, Field(ge=16, le=40)] = 18
    couple_formation_rate: Rate = 0.065  # persons living alone aged 18-34
    couple_formation_rate_35_44: Rate = 0.078
    couple_formation_rate_45_plus: Rate = 0.018  # 45..couple_max_age
    couple_max_age: Annotated[int, Field(ge=18, le=100)] = 64
    couple_max_age_gap: Annotated[int, Field(ge=0, le=80)] = 10
    repartnering_rate: Rate = 0.055  # single parents seeking a partner
    separation_rate: Rate = 0.015
    separation_rate_60_plus: Rate = 0.003  # couples whose head is 60 or older
    births_without_partner_share: Rate | None = 0.1  # None: fertility does not depend on partnership


Origin = Literal[*ORIGINS]


def _complete(values: dict, default: float, what: str) -> dict:
    """Origin-group dict with every group (missing ones get ``default``); at least one positive."""
    full = {o: values.get(o, default) for o in ORIGINS}
    if not any(v > 0 for v in full.values()):
        raise ValueError(f"{what}: at least one group needs a weight above 0")
    return full


class RogersCastro(Strict):
    """A 7-parameter Rogers-Castro model migration schedule (shape only; the level is set apart).
    Defaults: the 'fundamental' parameters of Rogers and Castro (1981), IIASA RR-81-30."""

    a1: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    alpha1: Annotated[float, Field(ge=0.0, le=2.0)] = 0.1
    a2: Annotated[float, Field(ge=0.0, le=1.0)] = 0.06
    alpha2: Annotated[float, Field(ge=0.0, le=2.0)] = 0.1
    mu2: Annotated[float, Field(ge=10.0, le=50.0)] = 20.0
    lambda2: Annotated[float, Field(ge=0.0, le=2.0)] = 0.4
    c: Annotated[float, Field(ge=0.0, le=1.0)] = 0.003


class InMigrationChange(Strict):
    """From ``from_year`` on: a new volume and/or profile of in-migration (e.g. a wave of refugee families)."""

    from_year: int
    persons_per_year: Annotated[float, Field(ge=0.0, le=500_000)] | None = None
    abroad_net_per_1000: Annotated[float, Field(ge=-100.0, le=100.0)] | None = None
    migration_background_weights: dict[Origin, Factor] | None = None
    family_weight: Factor | None = None  # weight of households with children among the templates


class InMigrationYear(NamedTuple):
    """In-migration in force in one year (``Scenario.in_migration_in``)."""

    persons_per_year: float | None  # None: arrivals from the age balances
    abroad_net_per_1000: float
    migration_background_weights: dict[str, float]
    family_weight: float


class InMigrationConfig(Strict):
    """Moves into the city from outside (processes/migration.py): arrivals per age group = expected
    out-migrants + net migration with the rest of Germany (mean of ``net_internal_years``, x
    ``net_internal_factor``) + net migration from abroad; ``persons_per_year`` fixes the total instead."""

    persons_per_year: Annotated[float, Field(ge=0.0, le=500_000)] | None = None
    # the years must lie within the data (the Kreiswanderungsmatrix table); load_inputs checks that
    net_internal_years: tuple[Annotated[int, Field(ge=1950, le=2100)], Annotated[int, Field(ge=1950, le=2100)]] = (2018, 2021)
    net_internal_factor: Annotated[float, Field(ge=-5.0, le=5.0)] = 1.0
    abroad_net_per_1000: Annotated[float, Field(ge=-100.0, le=100.0)] = 3.9
    # the age shape of net migration from abroad (default: the fundamental schedule without its
    # constant part: young adults and their children, nobody at old age)
    abroad_schedule: RogersCastro = RogersCastro(c=0.0)
    changes: list[InMigrationChange] = []
    migration_background_weights: dict[Origin, Factor] = {"none": 1.0, "german_mb": 1.0, "foreign": 1.0}
    family_weight: Factor = 1.0  # relative weight of template households with children under 18

    @model_validator(mode="after")
    def _origins(self) -> "InMigrationConfig":
        object.__setattr__(
            self, "migration_background_weights", _complete(self.migration_background_weights, 1.0, "migration_background_weights")
        )
        for i, change in enumerate(self.changes):
            if change.migration_background_weights is not None and not any(
                v > 0 for v in {**self.migration_background_weights, **change.migration_background_weights}.values()
            ):
                raise ValueError(f"changes.{i}.migration_background_weights: at least one group needs a weight above 0")
        return self


class OutMigrationConfig(Strict):
    """Moves out of the city: persons leaving per 1,000 residents in the base year, by age after
    the model schedule (processes/migration.py)."""

    rate_per_1000: Annotated[float, Field(ge=0.0, le=500.0)] = 71.6
    schedule: RogersCastro = RogersCastro()


class MobilityConfig(Strict):
    """Moves between areas inside the city (households per year), limited by vacant dwellings, and
    the location choice of movers, displaced households and newcomers (processes/location.py):
    ``rent_sensitivity`` (beta per income class, on the log rent index), ``homophily`` (gamma, on log share of
    the household's origin group among the residents)."""

    move_rate: Rate = 0.05
    rent_sensitivity: dict[Literal["low", "not_low"], Annotated[float, Field(ge=0.0, le=50.0)]] = {"low": 5.0, "not_low": 1.0}
    homophily: Annotated[float, Field(ge=0.0, le=10.0)] = 1.2

    @model_validator(mode="after")
    def _both_income_classes(self) -> "MobilityConfig":
        missing = {"low", "not_low"} - set(self.rent_sensitivity)
        if missing:
            raise ValueError(f"rent_sensitivity needs a value for {sorted(missing)[0]}")
        return self


class HousingMarketConfig(Strict):
    """Dwelling stock, rents and displacement (see simulation/processes/housing.py)."""

    vacancy_reserve: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.02
    new_dwellings_per_year: Annotated[float, Field(ge=0.0, le=100_000)] = 3_661
    rent_growth: Annotated[float, Field(ge=-0.2, le=0.5)] = 0.03  # general rent growth per year
    rent_vacancy_elasticity: Annotated[float, Field(ge=0.0, le=50.0)] = 2.0  # extra growth per point of missing reserve
    newbuild_rent_effect: Annotated[float, Field(ge=0.0, le=10.0)] = 0.5  # area rent rise per unit of stock growth from projects
    displacement_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5  # low-income moving out per unit of excess rent rise
    displacement_leave_city_share: Rate = 0.3  # of the displaced, the share who leave the city
    rent_demand_elasticity: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02  # rent growth per unit of log demand pressure
    completions_location: Literal["observed", "stock"] = "observed"  # where completions go (processes/housing.py)
    replacement_share: Rate | None = None  # share of completions spread by the stock; None: demolished / gross completions 2012 (data)
    observed_pattern_half_life: Annotated[float, Field(ge=0.0, le=1000.0)] = 10.0  # years; 0 = stock pattern after the data


class HousingProject(Strict):
    """Densification: ``dwellings`` new dwellings in ``area``, spread over ``years`` from ``year`` on."""

    area: str
    year: int
    dwellings: Annotated[int, Field(gt=0, le=100_000)]
    years: Annotated[int, Field(ge=1, le=30)] = 1
    rent_effect: Annotated[float, Field(ge=0.0, le=10.0)] | None = None  # default: housing_market.newbuild_rent_effect


class VolunteeringConfig(Strict):
    """Volunteering: share of residents 14+ who volunteer (39.7 %, Freiwilligensurvey 2019) and how
    their time adds to services that use volunteers (assumptions, see scenarios/baseline.toml)."""

    share: Rate = 0.397
    min_age: Annotated[int, Field(ge=0, le=100)] = 14
    relative_propensity: dict[Origin, Annotated[float, Field(ge=0.0, le=10.0)]] = {"none": 1.0, "german_mb": 1.0, "foreign": 1.0}

    @model_validator(mode="after")
    def _origins(self) -> "VolunteeringConfig":
        object.__setattr__(self, "relative_propensity", {o: self.relative_propensity.get(o, 1.0) for o in ORIGINS})
        return self

    hours_per_volunteer: Annotated[float, Field(ge=0.0, le=2000.0)] = 100.0
    social_services_share: Rate = 0.1
    hours_per_place: Annotated[float, Field(gt=0.0, le=10_000.0)] = 50.0


class VolunteerProgramme(Strict):
    """From ``year`` on in ``area``: volunteering propensity x ``propensity_factor`` and
    ``coordination_hours`` of extra volunteer time a year (coordinated by the programme)."""

    area: str
    year: int
    propensity_factor: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0
    coordination_hours: Annotated[float, Field(ge=0.0, le=1_000_000.0)] = 0.0


class CohesionConfig(Strict):
    """Composite cohesion index: weights of its parts (normalised to sum 1) and the small-area rule."""

    weights: dict[str, Annotated[float, Field(ge=0.0, le=100.0)]] = {
        "mixing": 1.0,
        "stability": 1.0,
        "service_reach": 1.0,
        "volunteering": 1.0,
        "no_isolation": 1.0,
    }
    small_area_threshold: Annotated[int, Field(ge=0, le=1_000_000)] = 5000

    @model_validator(mode="after")
    def _parts(self) -> "CohesionConfig":
        unknown = set(self.weights) - set(COHESION_PARTS)
        if unknown:
            raise ValueError(f"weights.{sorted(unknown)[0]}: unknown part (allowed: {', '.join(COHESION_PARTS)})")
        if sum(self.weights.values()) <= 0:
            raise ValueError("weights: at least one weight must be positive")
        return self


COHESION_PARTS = ("mixing", "stability", "service_reach", "volunteering", "no_isolation")


class IncomeConfig(Strict):
    """Income class 'low' = household receives minimum-income benefits."""

    relative_risk: dict[Origin, Annotated[float, Field(gt=0.0, le=100.0)]] = {
        "none": 1.0,
        "german_mb": 2.0,
        "foreign": 3.0,
    }

    @model_validator(mode="after")
    def _origins(self) -> "IncomeConfig":
        defaults = {"none": 1.0, "german_mb": 2.0, "foreign": 3.0}
        object.__setattr__(self, "relative_risk", {o: self.relative_risk.get(o, defaults[o]) for o in ORIGINS})
        return self


class Offering(Strict):
    """A change to a service offering in an area from a year on (capacity in the service's unit)."""

    service: str
    area: str
    year: int
    action: Literal["open", "expand", "shrink", "close"]
    capacity: Annotated[float, Field(ge=0.0, le=1_000_000)] = 0.0

    @model_validator(mode="after")
    def _capacity_given(self) -> "Offering":
        if self.action != "close" and self.capacity <= 0:
            raise ValueError(f"capacity: '{self.action}' needs a capacity > 0")
        return self


class TakeUpChange(Strict):
    """From ``from_year`` on, take-up of a service is multiplied by ``factor`` for a group."""

    service: str
    from_year: int
    factor: Annotated[float, Field(ge=0.0, le=10.0)]
    migration_background: list[Origin] = list(ORIGINS)
    min_age: Annotated[int, Field(ge=0, le=120)] = 0
    max_age: Annotated[int, Field(ge=0, le=120)] = 120


class ServiceOverride(Strict):
    """Scenario override of catalogue fields of one service."""

    take_up: dict[Origin, Rate] | None = None
    low_income_factor: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    units_per_user: Annotated[float, Field(gt=0.0)] | None = None
    distance_decay_km: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    max_distance_km: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    base_coverage: Annotated[float, Field(ge=0.0, le=10.0)] | None = None

    def changes(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Scenario(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")] = "scenario"
    description: str = ""
    base_year: Annotated[int, Field(ge=2012, le=2100)] = 2023
    horizon: Annotated[int, Field(ge=1, le=100)] = 25
    seed: Annotated[int, Field(ge=0)] = 0
    areas: str | list[str] = "city"
    data_dir: str | None = None
    population: PopulationConfig = PopulationConfig()
    mortality: MortalityConfig = MortalityConfig()
    fertility: FertilityConfig = FertilityConfig()
    households: HouseholdConfig = HouseholdConfig()
    in_migration: InMigrationConfig = InMigrationConfig()
    out_migration: OutMigrationConfig = OutMigrationConfig()
    mobility: MobilityConfig = MobilityConfig()
    housing_market: HousingMarketConfig = HousingMarketConfig()
    housing: list[HousingProject] = []
    volunteering: VolunteeringConfig = VolunteeringConfig()
    volunteer_programmes: list[VolunteerProgramme] = []
    cohesion: CohesionConfig = CohesionConfig()
    income: IncomeConfig = IncomeConfig()
    services: dict[str, ServiceOverride] = {}
    offerings: list[Offering] = []
    take_up: list[TakeUpChange] = []
    # the file it was read from, for error messages (not a field: never written or compared);
    # the model keeps a Scenario as ``model.config``, apart from Mesa's own ``Model.scenario``
    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        return self._source

    @model_validator(mode="after")
    def _years(self) -> "Scenario":
        last = self.base_year + self.horizon
        dated = [(f"in_migration.changes.{i}.from_year", c.from_year) for i, c in enumerate(self.in_migration.changes)]
        dated += [(f"offerings.{i}.year", o.year) for i, o in enumerate(self.offerings)]
        dated += [(f"take_up.{i}.from_year", t.from_year) for i, t in enumerate(self.take_up)]
        dated += [(f"housing.{i}.year", h.year) for i, h in enumerate(self.housing)]
        dated += [(f"volunteer_programmes.{i}.year", v.year) for i, v in enumerate(self.volunteer_programmes)]
        for field, year in dated:
            if not self.base_year < year <= last:
                raise ValueError(f"{field}: {year} is outside the projection years ({self.base_year + 1}..{last})")
        return self

    @property
    def years(self) -> range:
        return range(self.base_year + 1, self.base_year + self.horizon + 1)

    def in_migration_in(self, year: int) -> InMigrationYear:
        """What in-migration looks like in ``year``: the base values with every change from an
        earlier or the same year applied in order."""
        m = self.in_migration
        volume, abroad, origins, family = m.persons_per_year, m.abroad_net_per_1000, dict(m.migration_background_weights), m.family_weight
        for change in sorted(m.changes, key=lambda c: c.from_year):
            if year >= change.from_year:
                volume = volume if change.persons_per_year is None else change.persons_per_year
                abroad = abroad if change.abroad_net_per_1000 is None else change.abroad_net_per_1000
                origins = origins if change.migration_background_weights is None else {**origins, **change.migration_background_weights}
                family = family if change.family_weight is None else change.family_weight
        return InMigrationYear(volume, abroad, origins, family)

    # ---- what the levers put in force in a year (the model asks; nothing else decides this) ----
    def offerings_in(self, year: int) -> list[Offering]:
        """Offering changes that take effect in ``year`` (capacity changes persist afterwards)."""
        return [o for o in self.offerings if o.year == year]

    def take_up_in_force(self, year: int) -> list[TakeUpChange]:
        """Take-up changes in force in ``year`` (from their ``from_year`` on)."""
        return [t for t in self.take_up if t.from_year <= year]

    def volunteer_programmes_in_force(self, year: int) -> list[VolunteerProgramme]:
        """Volunteer programmes running in ``year`` (from their start year on)."""
        return [v for v in self.volunteer_programmes if v.year <= year]

    def housing_projects_in(self, year: int) -> list[tuple[HousingProject, int]]:
        """Densification projects building in ``year`` with the dwellings completed that year: a
        project's total is spread over its years in whole dwellings, the first years taking the remainder."""
        out = []
        for p in self.housing:
            k = year - p.year
            if 0 <= k < p.years:
                out.append((p, p.dwellings // p.years + (1 if k < p.dwellings % p.years else 0)))
        return out


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _rename_legacy_keys(raw: dict) -> None:
    """Files written before the one-vocabulary change say ``origin_weights``; the key is now
    ``migration_background_weights`` (the one external name of the concept)."""
    migration = raw.get("in_migration")
    if not isinstance(migration, dict):
        return
    changes = migration.get("changes")
    for table in [migration, *(changes if isinstance(changes, list) else [])]:
        if isinstance(table, dict) and "origin_weights" in table and "migration_background_weights" not in table:
            table["migration_background_weights"] = table.pop("origin_weights")


def _read_toml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    if not path.is_file():
        raise InputError(path, None, "scenario file not found", "a TOML scenario file")
    if path in chain:
        raise InputError(path, "extends", "scenario extends itself in a cycle")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"not valid TOML ({exc})") from exc
    _rename_legacy_keys(raw)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise InputError(path, "extends", "must be a file name", "a path to another scenario, relative to this file")
    base = _read_toml((path.parent / parent).resolve(), chain + (path,))
    base.pop("name", None)  # a name is never inherited
    base.pop("description", None)
    for key in ("data_dir",):
        if key in base and not Path(base[key]).is_absolute():
            base[key] = str((path.parent / parent).resolve().parent / base[key])
    return _merge(base, raw)


def _field_path(loc: tuple) -> str:
    skip = ("function-after[_years()]", "[key]", "constrained-int", "int", "literal['auto']", "str", "float")
    return ".".join(str(p) for p in loc if str(p) not in skip and not str(p).startswith("function-"))


def load_scenario(path: str | Path, **overrides) -> Scenario:
    """Read, merge and validate a scenario file. ``overrides`` are top-level fields (e.g. seed, horizon)."""
    path = Path(path).resolve()
    raw = _read_toml(path)
    raw.setdefault("name", path.stem)
    # relative paths are relative to the scenario file; other types are left to the validation
    if isinstance(raw.get("data_dir"), str) and not Path(raw["data_dir"]).is_absolute():
        raw["data_dir"] = str(path.parent / raw["data_dir"])
    population = raw.get("population")
    extract = population.get("register_extract") if isinstance(population, dict) else None
    if isinstance(extract, str) and not Path(extract).is_absolute():
        raw["population"]["register_extract"] = str(path.parent / extract)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _field_path(err["loc"]) or None
        message = err["msg"]
        allowed = None
        ctx = err.get("ctx") or {}
        if err["type"] == "extra_forbidden":
            message = "unknown key"
            allowed = "see scenarios/baseline.toml for the keys"
        elif err["type"] == "literal_error":
            allowed = ctx.get("expected")
        elif err["type"].startswith(("greater", "less")):
            allowed = err["msg"].replace("Input should be ", "")
            message = f"value {err.get('input')!r} out of range"
        elif err["type"] == "value_error":
            message = message.removeprefix("Value error, ")
            if ": " in message:
                inner, _, message = message.partition(": ")
                field = inner if not field or inner.startswith(field) else f"{field}.{inner}"
        raise InputError(path, field, message, allowed) from None
    scenario._source = str(path)
    return scenario


def check_references(
    scenario: Scenario, services: list[str], run_areas: list[str], path: str | None = None, unlimited: tuple[str, ...] = ()
) -> None:
    """Names in the scenario that refer to data: services and areas; offerings only of services
    with places (``unlimited``: entitlements, served wherever the resident lives). Raises InputError."""
    known = ", ".join(services)
    for name in scenario.services:
        if name not in services:
            raise InputError(path, f"services.{name}", f"unknown service type '{name}'", known)
    for i, o in enumerate(scenario.offerings):
        if o.service not in services:
            raise InputError(path, f"offerings.{i}.service", f"unknown service type '{o.service}'", known)
        if o.service in unlimited:
            raise InputError(
                path,
                f"offerings.{i}.service",
                f"'{o.service}' is an entitlement without places: an offering cannot change it",
                ", ".join(s for s in services if s not in unlimited),
            )
        if o.area not in run_areas:
            raise InputError(path, f"offerings.{i}.area", f"unknown area '{o.area}' (not among this run's areas)", ", ".join(run_areas))
    for field, entries in (("housing", scenario.housing), ("volunteer_programmes", scenario.volunteer_programmes)):
        for i, entry in enumerate(entries):
            if entry.area not in run_areas:
                raise InputError(
                    path, f"{field}.{i}.area", f"unknown area '{entry.area}' (not among this run's areas)", ", ".join(run_areas)
                )
    for i, t in enumerate(scenario.take_up):
        if t.service not in services:
            raise InputError(path, f"take_up.{i}.service", f"unknown service type '{t.service}'", known)
        if t.min_age > t.max_age:
            raise InputError(path, f"take_up.{i}.min_age", f"min_age {t.min_age} is above max_age {t.max_age}")
