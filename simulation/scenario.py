"""Scenario files: TOML, validated with pydantic, optionally ``extends`` another scenario.

A scenario names every rate source and assumption of a run. Errors name the file, the field
and what is allowed (``InputError``). ``extends = "baseline.toml"`` (relative to the file)
loads the base first and overrides single values; tables merge key by key, lists replace.
``name`` is not inherited: it defaults to the file name without ``.toml``.
"""

from __future__ import annotations

import codecs
import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Annotated, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from simulation.errors import InputError, did_you_mean, file_kind
from simulation.vocabulary import ORIGINS

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Factor = Annotated[float, Field(ge=0.0, le=10.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PopulationConfig(Strict):
    """Where the base-year population comes from (see simulation/base_population.py)."""

    source: Literal["anchored", "profile_2012", "register_extract"] = "anchored"
    register_extract: Annotated[str, Field(min_length=1)] | None = None  # path to a register extract CSV, relative to the scenario


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

    @model_validator(mode="after")
    def _changes_something(self) -> "InMigrationChange":
        levers = ("persons_per_year", "abroad_net_per_1000", "migration_background_weights", "family_weight")
        if all(getattr(self, name) is None for name in levers):
            raise ValueError(f"the change from {self.from_year} changes nothing: give at least one of {', '.join(levers)}")
        return self


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
                raise ValueError(f"changes[{i + 1}].migration_background_weights: at least one group needs a weight above 0")
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


# a scenario's name names its output folder: letters (umlauts too), digits, '_', '.', '-'
NAME_PATTERN = r"^[^\W_][\w.-]{0,79}$"
NAME_ALLOWED = "letters, digits, '_', '.' and '-', starting with a letter or digit, at most 80 characters"


def item(field: str, index: int, rest: str | None = None) -> str:
    """The path of entry ``index`` (from 0) of a list field as planners count: ``offerings[1].year``."""
    return f"{field}[{index + 1}]" + (f".{rest}" if rest else "")


def _nfc(value):
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return value


class Scenario(Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)] = "scenario"
    description: str = ""  # in English (the English report shows it)
    description_de: str = ""  # the same in German (the German report shows it)
    base_year: Annotated[int, Field(ge=2012, le=2100)] = 2023
    horizon: Annotated[int, Field(ge=1, le=100)] = 25
    seed: Annotated[int, Field(ge=0)] = 0
    areas: str | list[str] = "city"
    data_dir: Annotated[str, Field(min_length=1)] | None = None
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

    @model_validator(mode="before")
    @classmethod
    def _composed_unicode(cls, data):
        """Names typed with decomposed umlauts ('Ho' + combining diaeresis, as some Mac editors
        save them) mean the same as the composed ones of the data (NFC)."""
        return _nfc(data)

    @field_validator("areas")
    @classmethod
    def _areas_once(cls, areas: str | list[str]) -> str | list[str]:
        if isinstance(areas, list):
            for i, area in enumerate(areas):
                if area in areas[:i]:
                    raise ValueError(f"{item('areas', i)}: '{area}' is listed twice (also {item('areas', areas.index(area))})")
        return areas

    @model_validator(mode="after")
    def _years(self) -> "Scenario":
        last = self.base_year + self.horizon
        dated = [(item("in_migration.changes", i, "from_year"), c.from_year) for i, c in enumerate(self.in_migration.changes)]
        dated += [(item("offerings", i, "year"), o.year) for i, o in enumerate(self.offerings)]
        dated += [(item("take_up", i, "from_year"), t.from_year) for i, t in enumerate(self.take_up)]
        dated += [(item("housing", i, "year"), h.year) for i, h in enumerate(self.housing)]
        dated += [(item("volunteer_programmes", i, "year"), v.year) for i, v in enumerate(self.volunteer_programmes)]
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


# ---- reading scenario files: every problem becomes one InputError naming the file and the field ----
MAX_NESTING = 12  # arrays and tables inside each other; a scenario needs 4 levels
PATH_FIELDS = (("data_dir",), ("population", "register_extract"))  # relative to the file that sets them
TOML_ALLOWED = "TOML as in scenarios/baseline.toml: key = value, [table], [[list of tables]]"
EXTENDS_ALLOWED = 'another scenario file (.toml), relative to this file, e.g. extends = "baseline.toml"'
PROJECT = Path(__file__).resolve().parents[1]  # the project's own files: scenarios/, tests/, ...
SCENARIOS = PROJECT / "scenarios"
EXTENDS_WHERE = (
    f"a scenario file in the folder of the extending file or below it, or in the project ({SCENARIOS} and the project's "
    "other folders); --allow-any-extends allows any file"
)


def may_extend(path: Path, target: Path) -> bool:
    """Whether the scenario file ``path`` may extend ``target`` (both resolved) without --allow-any-extends:
    a file in its own folder tree or in the project, never an arbitrary file elsewhere on the machine."""
    return target.is_relative_to(path.parent) or target.is_relative_to(PROJECT)


def _shown(value) -> str:
    """A value as a planner typed it, shortened for a one-line message."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, (list, tuple)):
        text = "a list"
    elif isinstance(value, dict):
        text = "a table"
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


def _decoded(path: Path, data: bytes) -> str:
    """The text of a scenario file: UTF-8, with or without a byte-order mark (some Windows editors write one)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(path, None, "saved as UTF-16 (Unicode), not as UTF-8; save the file as UTF-8")
    data = data.removeprefix(codecs.BOM_UTF8)
    control = re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", data)
    if control:
        line = data[: control.start()].count(b"\n") + 1
        raise InputError(
            path, None, f"not a text file (control byte 0x{data[control.start()]:02x} in line {line})", "a TOML text file saved as UTF-8"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = f"not saved as UTF-8 (byte 0x{data[exc.start]:02x} in line {line}: an umlaut in Latin-1 or Windows-1252?); save the file as UTF-8"
        raise InputError(path, None, problem) from None


def _statements(text: str):
    """(line number, dotted key or None, text after '=' or the line) per line, with a rough idea of
    tables and strings: only for naming the place of a TOML error in a message."""
    table = ""
    for number, content in enumerate(text.splitlines(), start=1):
        bare = re.sub(r'"(?:\\.|[^"\\])*"|\'[^\']*\'', '""', content).split("#")[0]
        header = re.match(r"\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*$", bare)
        if header:
            table = header[1]
            yield number, table, ""
            continue
        assigned = re.match(r"\s*([^=\[\]{}\"]+?)\s*=", bare)
        key = ".".join(filter(None, (table, assigned[1].strip()))) if assigned else None
        yield number, key, bare[assigned.end() :] if assigned else bare


def _too_deep(path: Path, text: str) -> InputError:
    depth, key = 0, None
    for number, statement, rest in _statements(text):
        key = statement or key
        for ch in rest:
            depth += (ch in "[{") - (ch in "]}")
            if depth > MAX_NESTING:
                return InputError(path, key, f"arrays or tables nested too deeply (line {number})", f"at most {MAX_NESTING} levels")
    return InputError(path, None, "arrays or tables nested too deeply", f"at most {MAX_NESTING} levels")


def _read_file(path: Path) -> dict:
    """One scenario file as a dict (no ``extends`` resolved)."""
    if path.is_dir():
        raise InputError(path, None, "is a folder, not a scenario file", "a TOML scenario file")
    if not path.is_file():
        raise InputError(path, None, "scenario file not found", "a TOML scenario file")
    try:
        text = _decoded(path, path.read_bytes())
    except OSError as exc:
        raise InputError(path, None, f"cannot be read ({exc.strerror or exc})", "a readable TOML scenario file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        key = next((k for n, k, _ in _statements(text) if at and n == int(at[1])), None)
        raise InputError(path, key, f"not valid TOML: {exc}", TOML_ALLOWED) from None
    except RecursionError:
        raise _too_deep(path, text) from None


def _absolute_paths(raw: dict, folder: Path) -> None:
    """Relative paths in a file are relative to that file (also when another scenario extends it)."""
    for *tables, key in PATH_FIELDS:
        table = raw
        for name in tables:
            table = table.get(name) if isinstance(table, dict) else None
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str) and value.strip() and not Path(value).is_absolute():
            table[key] = str(folder / value)


def _extends_target(path: Path, parent: object, chain: tuple[Path, ...], allow_any: bool = False) -> Path:
    """The file that ``extends`` in ``path`` names, or an InputError naming ``path`` and 'extends'.
    Without ``allow_any`` the file must lie where ``may_extend`` allows (checked before anything
    else is looked up there)."""
    if not isinstance(parent, str):
        raise InputError(path, "extends", f"{_shown(parent)} is not a file name", EXTENDS_ALLOWED)
    if not parent.strip():
        raise InputError(path, "extends", "is empty", EXTENDS_ALLOWED)
    target = path.parent / parent
    kind = file_kind(target)
    if kind == "unusable":
        raise InputError(path, "extends", f"{_shown(parent)} is not a usable file name", EXTENDS_ALLOWED)
    target = target.resolve()
    if not allow_any and not may_extend(path, target):
        raise InputError(path, "extends", f"'{parent}' ({target}) is outside the folders a scenario may extend", EXTENDS_WHERE)
    if kind is None:
        raise InputError(path, "extends", f"'{parent}' not found (looked for {target})", EXTENDS_ALLOWED)
    if kind == "folder":
        raise InputError(path, "extends", f"'{parent}' is a folder, not a scenario file", EXTENDS_ALLOWED)
    if target.suffix.lower() != ".toml":
        raise InputError(path, "extends", f"'{parent}' is not a scenario file (.toml)", EXTENDS_ALLOWED)
    if target in (*chain, path):
        loop = " -> ".join(p.name for p in (*chain, path, target)[[*chain, path].index(target) :])
        raise InputError(
            path,
            "extends",
            f"the scenarios extend each other in a cycle ({loop})",
            "a chain of scenarios that ends in one without 'extends'",
        )
    return target


def _read_layers(path: Path, chain: tuple[Path, ...] = (), allow_any: bool = False) -> list[tuple[Path, dict]]:
    """The scenario file and every file it extends, the file itself first. A base's ``name`` and
    ``description`` are dropped (never inherited); relative paths are made absolute per file."""
    raw = _read_file(path)
    _rename_legacy_keys(raw)
    _absolute_paths(raw, path.parent)
    for key in ("name", "description", "description_de") if chain else ():
        raw.pop(key, None)
    if "extends" not in raw:
        return [(path, raw)]
    target = _extends_target(path, raw.pop("extends"), chain, allow_any)
    try:
        return [(path, raw), *_read_layers(target, (*chain, path), allow_any)]
    except InputError as exc:
        raise exc.reached_from(path, "extends") from None


def _owner(layers: list[tuple[Path, dict]], loc: tuple) -> int:
    """Which layer set the value at ``loc``: tables merge key by key, anything else (values, lists)
    comes whole from the first file, scenario first, that sets it."""
    nodes = {i: raw for i, (_, raw) in enumerate(layers)}
    for part in loc:
        holding = [i for i, node in nodes.items() if isinstance(node, dict) and part in node]
        if not holding:
            break
        if not isinstance(nodes[holding[0]][part], dict):
            return holding[0]
        merged = []
        for i in holding:  # the tables that merge: down to the first file that sets something else
            if not isinstance(nodes[i][part], dict):
                break
            merged.append(i)
        nodes = {i: nodes[i][part] for i in merged}
    return min(nodes)


# pydantic's labels of union members and validators in an error's location, not fields
_NOT_FIELDS = re.compile(
    r"^(int|str|float|bool|\[key\]|list\[.*\]|dict\[.*\]|tuple\[.*\]|literal\[.*\]|constrained-\w+|function-.*|.*\[.*\(\).*\])$"
)
_FIELD_PATH = re.compile(r"[^\W\d][\w-]*(\[\d+\])*(\.[\w-]+(\[\d+\])*)*")
_KINDS = {  # pydantic error types of a wrong type -> what is expected
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text in quotes",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list [...]",
    "tuple_type": "a list [...]",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _loc(loc: tuple) -> tuple:
    return tuple(p for p in loc if isinstance(p, int) or not _NOT_FIELDS.match(p))


def _loc_of(field: str) -> tuple:
    return tuple(int(index) - 1 if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field))


def _field(loc: tuple) -> str | None:
    text = ""
    for part in loc:
        text += f"[{part + 1}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or None


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The table (model) that holds the last key of ``loc``."""

    def model_in(annotation) -> type[BaseModel] | None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        return next((m for m in map(model_in, get_args(annotation)) if m is not None), None)

    model: type[BaseModel] | None = Scenario
    for part in loc[:-1]:
        if model is not None and isinstance(part, str) and part in model.model_fields:
            model = model_in(model.model_fields[part].annotation)
    return model


def _input_error(errors: list, layers: list[tuple[Path, dict]]) -> InputError:
    """The first validation error as an InputError naming the file that set the value."""
    err = errors[0]
    loc, kind, value = _loc(err["loc"]), err["type"], err.get("input")
    problem, allowed = err["msg"], None
    if kind in _KINDS or kind == "literal_error":  # a union tries every member: name them all
        same = [e for e in errors if _loc(e["loc"]) == loc and (e["type"] in _KINDS or e["type"] == "literal_error")]
        expected = [_KINDS.get(e["type"]) or (e.get("ctx") or {}).get("expected", "") for e in same]
        problem = (
            f"{_shown(value)} is not allowed"
            if kind == "literal_error" and len(same) == 1
            else f"{_shown(value)} is not " + " or ".join(dict.fromkeys(expected))
        )
        allowed = " or ".join(dict.fromkeys(expected)) if kind == "literal_error" else None
    elif kind == "missing":
        problem = "missing (required)"
    elif kind == "extra_forbidden":
        model = _model_at(loc)
        keys = [*(model.model_fields if model else ()), *(["extends"] if model is Scenario else [])]
        problem = f"unknown key {_shown(loc[-1])}{did_you_mean(loc[-1], keys) if keys else ''}"
        allowed = ", ".join(keys) if keys else "see scenarios/baseline.toml for the keys"
    elif kind.startswith(("greater", "less")):
        problem, allowed = f"value {_shown(value)} out of range", problem.replace("Input should be ", "")
    elif kind == "string_too_short":
        problem = "is empty"
    elif kind == "string_pattern_mismatch" and loc == ("name",):
        named = "name" in layers[0][1]
        problem = (
            f"{_shown(value)} cannot be a scenario's name" if named else f"the file name {_shown(value)} cannot be the scenario's name"
        )
        allowed = NAME_ALLOWED + ("" if named else '; rename the file or set name = "..." in it')
    elif kind == "value_error":
        problem = problem.removeprefix("Value error, ")
        inner, sep, rest = problem.partition(": ")
        if sep and _FIELD_PATH.fullmatch(inner):
            parts = _loc_of(inner)
            loc, problem = (parts if parts[: len(loc)] == loc else (*loc, *parts)), rest
    owner = _owner(layers, loc)
    error = InputError(layers[owner][0], _field(loc), problem, allowed)
    for path, _ in reversed(layers[:owner]):
        error.reached_from(path, "extends")
    return error


def load_scenario(path: str | Path, allow_any_extends: bool = False, **overrides) -> Scenario:
    """Read, merge and validate a scenario file. ``overrides`` are top-level fields (e.g. seed,
    horizon); ``allow_any_extends`` lets ``extends`` reach files outside the folders of ``may_extend``."""
    path = Path(path).resolve()
    layers = _read_layers(path, allow_any=allow_any_extends)
    raw: dict = {}
    for _, layer in reversed(layers):
        raw = _merge(raw, layer)
    raw.setdefault("name", unicodedata.normalize("NFC", path.stem))
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise _input_error(exc.errors(), layers) from None
    scenario._source = str(path)
    return scenario


def check_references(
    scenario: Scenario, services: list[str], run_areas: list[str], path: str | None = None, unlimited: tuple[str, ...] = ()
) -> None:
    """Names in the scenario that refer to data: services and areas; offerings only of services
    with places (``unlimited``: entitlements, served wherever the resident lives). Raises InputError."""

    def known(field: str, value: str, options: list[str], what: str, note: str = "") -> None:
        if value not in options:
            raise InputError(path, field, f"unknown {what} '{value}'{note}{did_you_mean(value, options)}", ", ".join(options))

    for name in scenario.services:
        known(f"services.{name}", name, services, "service type")
    places = [s for s in services if s not in unlimited]
    for i, o in enumerate(scenario.offerings):
        known(item("offerings", i, "service"), o.service, services, "service type")
        if o.service in unlimited:
            raise InputError(
                path,
                item("offerings", i, "service"),
                f"'{o.service}' is an entitlement without places: an offering cannot change it",
                ", ".join(places),
            )
    for field, entries in (
        ("offerings", scenario.offerings),
        ("housing", scenario.housing),
        ("volunteer_programmes", scenario.volunteer_programmes),
    ):
        for i, entry in enumerate(entries):
            known(item(field, i, "area"), entry.area, run_areas, "area", " (not among this run's areas)")
    for i, t in enumerate(scenario.take_up):
        known(item("take_up", i, "service"), t.service, services, "service type")
        if t.min_age > t.max_age:
            raise InputError(path, item("take_up", i, "min_age"), f"min_age {t.min_age} is above max_age {t.max_age}")
