"""Scenario files: TOML, validated with pydantic, optionally ``extends`` another scenario.

A scenario names every rate source and assumption of a run. Errors name the file, the field
and what is allowed (``InputError``). ``extends = "baseline.toml"`` (relative to the file)
loads the base first and overrides single values; tables merge key by key, lists replace.
``name`` is not inherited: it defaults to the file name without ``.toml``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulation.errors import InputError

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


class FertilityConfig(Strict):
    """Births: German ASFR (Destatis 12612-0008) of the simulated year, or the latest year available."""

    asfr_year: int | Literal["auto"] = "auto"
    factor: Factor = 1.0  # multiplies ASFR (Frankfurt's level relative to Germany, if known)


class HouseholdConfig(Strict):
    """Household transitions: annual hazards (assumptions; see scenarios/baseline.toml for why)."""

    leave_home_rate: Rate = 0.11
    leave_home_min_age: Annotated[int, Field(ge=16, le=40)] = 18
    couple_formation_rate: Rate = 0.12
    couple_max_age: Annotated[int, Field(ge=18, le=100)] = 64
    couple_max_age_gap: Annotated[int, Field(ge=0, le=80)] = 10
    separation_rate: Rate = 0.015


class InMigrationChange(Strict):
    from_year: int
    persons_per_year: Annotated[float, Field(ge=0.0, le=500_000)]


class InMigrationConfig(Strict):
    """Moves into the city from outside: volume per year and the profile of the newcomers."""

    persons_per_year: Annotated[float, Field(ge=0.0, le=500_000)] = 56_400
    changes: list[InMigrationChange] = []
    origin_weights: dict[Literal["none", "german_mb", "foreign"], Factor] = {"none": 1.0, "german_mb": 1.0, "foreign": 1.0}


class OutMigrationConfig(Strict):
    """Moves out of the city: persons leaving per 1,000 residents per year (age profile from data)."""

    rate_per_1000: Annotated[float, Field(ge=0.0, le=500.0)] = 72.6


class MobilityConfig(Strict):
    """Moves between areas inside the city (households per year), limited by vacant dwellings."""

    move_rate: Rate = 0.05


class HousingConfig(Strict):
    """Dwelling stock: base-year households / (1 - vacancy_reserve), plus new dwellings each year."""

    vacancy_reserve: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.02
    new_dwellings_per_year: Annotated[float, Field(ge=0.0, le=100_000)] = 3_661


class IncomeConfig(Strict):
    """Income class 'low' = household receives minimum-income benefits."""

    relative_risk: dict[Literal["none", "german_mb", "foreign"], Annotated[float, Field(gt=0.0, le=100.0)]] = {
        "none": 1.0,
        "german_mb": 2.0,
        "foreign": 3.0,
    }


class Scenario(Strict):
    name: str = "scenario"
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
    housing: HousingConfig = HousingConfig()
    income: IncomeConfig = IncomeConfig()

    @model_validator(mode="after")
    def _years(self) -> "Scenario":
        last = self.base_year + self.horizon
        for i, change in enumerate(self.in_migration.changes):
            if not self.base_year < change.from_year <= last:
                raise ValueError(f"in_migration.changes.{i}.from_year: {change.from_year} is outside the projection years ({self.base_year + 1}..{last})")
        return self

    @property
    def years(self) -> range:
        return range(self.base_year + 1, self.base_year + self.horizon + 1)

    def in_migration_volume(self, year: int) -> float:
        volume = self.in_migration.persons_per_year
        for change in sorted(self.in_migration.changes, key=lambda c: c.from_year):
            if year >= change.from_year:
                volume = change.persons_per_year
        return volume


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read_toml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    if not path.is_file():
        raise InputError(path, None, "scenario file not found", "a TOML scenario file")
    if path in chain:
        raise InputError(path, "extends", "scenario extends itself in a cycle")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"not valid TOML ({exc})") from exc
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
    return ".".join(str(p) for p in loc if p not in ("function-after[_years()]", "[key]"))


def load_scenario(path: str | Path, **overrides) -> Scenario:
    """Read, merge and validate a scenario file. ``overrides`` are top-level fields (e.g. seed, horizon)."""
    path = Path(path).resolve()
    raw = _read_toml(path)
    raw.setdefault("name", path.stem)
    if raw.get("data_dir") and not Path(raw["data_dir"]).is_absolute():
        raw["data_dir"] = str(path.parent / raw["data_dir"])
    extract = raw.get("population", {}).get("register_extract")
    if extract and not Path(extract).is_absolute():
        raw["population"]["register_extract"] = str(path.parent / extract)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario.model_validate(raw)
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
            field, _, message = message.partition(": ") if ": " in message else (field, "", message)
        raise InputError(path, field, message, allowed) from None
