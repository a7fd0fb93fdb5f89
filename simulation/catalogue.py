"""The service catalogue (Daseinsvorsorge): who is eligible, who takes a service up, its unit of
capacity and how access falls with distance. Read from ``calibration/data/service_catalogue.csv``
(each row names its source or its assumption); a scenario may override single fields.

Base-year capacity per area, in this order of precedence:
1. a real area figure (``service_capacity_by_area.csv``: places and children of a Kita planning
   district, mapped to its Stadtteil(e)): its places per child x the area's base-year eligible
   persons. A figure counts only when its reference year is at most ``AREA_FIGURE_WINDOW_YEARS``
   from the base year (the nearest one if several): the city's under-3 coverage rose from 45 %
   (2016) to 54 % (2022), so a district figure from 2012 describes 2012, not 2023;
2. for the areas without a figure, a real city total with the children it serves: the city-wide
   places per child ``base_capacity`` / ``base_children`` (one date per service in the catalogue,
   the nearest to the 2023 base year in the data) x the area's base-year eligible persons. No city
   total is spread instead: where the model counts fewer or more children than the city, the
   coverage, which decides unmet demand, stays the city's;
3. a real city total without a children count (``base_capacity`` only) spread over the remaining
   areas in proportion to their children in the 2012 Stadtteil profile's age groups that cover the
   service's ages (ASSUMPTION: no area figures; the stock of places follows where children lived
   when it was built);
4. otherwise ``base_coverage`` x the area's base-year demand (ASSUMPTION, stated per service).
Services marked ``unlimited`` (entitlements such as basic income support) have no capacity limit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from simulation import data
from simulation.errors import InputError
from simulation.vocabulary import HOUSEHOLD_TYPES

CATALOGUE = "service_catalogue.csv"
AREA_CAPACITY = "service_capacity_by_area.csv"
AREA_CAPACITY_COLUMNS = ["service", "area", "reference_date", "places", "children"]
# An area figure describes a base year at most this many years away (rule 1 of the docstring).
AREA_FIGURE_WINDOW_YEARS = 5
COLUMNS = [
    "service",
    "label_en",
    "label_de",
    "unit",
    "level",
    "min_age",
    "max_age",
    "household_types",
    "income",
    "migration_background",
    "max_years_since_arrival",
    "lives_alone",
    "take_up_none",
    "take_up_german_mb",
    "take_up_foreign",
    "low_income_factor",
    "units_per_user",
    "distance_decay_km",
    "max_distance_km",
    "base_capacity",
    "base_children",
    "base_coverage",
    "unlimited",
    "uses_volunteers",
    "source",
    "assumption",
]


@dataclass(frozen=True)
class ServiceType:
    """One typed offering. Ages are inclusive; for household-level services they refer to any member."""

    name: str
    label_en: str
    label_de: str
    unit: str
    level: str  # "person" or "household" (the household head stands for the household)
    min_age: int
    max_age: int
    household_types: tuple[str, ...] | None  # None = any
    income: str  # "any" or "low"
    migration_background: str  # "any", "migrant" (german_mb or foreign) or "foreign"
    max_years_since_arrival: int | None
    lives_alone: bool
    take_up: tuple[float, float, float]  # probability of seeking, by origin none/german_mb/foreign
    low_income_factor: float
    units_per_user: float
    distance_decay_km: float  # access at distance x is exp(-x / decay); 0 = own area only
    max_distance_km: float
    base_capacity: float | None  # real city total in the base year (units)
    base_coverage: float | None  # capacity / demand in the base year where no real figure exists
    unlimited: bool
    uses_volunteers: bool
    source: str
    assumption: str
    base_children: float | None = None  # children the real city total serves (same source and date)


def _bool(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def _opt(value, kind=float):
    return None if pd.isna(value) or str(value).strip() == "" else kind(value)


def load_catalogue(data_dir: Path) -> dict[str, ServiceType]:
    path = Path(data_dir) / CATALOGUE
    frame = data.read_table(path, COLUMNS)
    out = {}
    for i, row in frame.iterrows():
        types = None if str(row["household_types"]).strip() == "any" else tuple(str(row["household_types"]).split(";"))
        service = ServiceType(
            name=str(row["service"]),
            label_en=str(row["label_en"]),
            label_de=str(row["label_de"]),
            unit=str(row["unit"]),
            level=str(row["level"]),
            min_age=int(row["min_age"]),
            max_age=int(row["max_age"]),
            household_types=types,
            income=str(row["income"]),
            migration_background=str(row["migration_background"]),
            max_years_since_arrival=_opt(row["max_years_since_arrival"], int),
            lives_alone=_bool(row["lives_alone"]),
            take_up=(float(row["take_up_none"]), float(row["take_up_german_mb"]), float(row["take_up_foreign"])),
            low_income_factor=float(row["low_income_factor"]),
            units_per_user=float(row["units_per_user"]),
            distance_decay_km=float(row["distance_decay_km"]),
            max_distance_km=float(row["max_distance_km"]),
            base_capacity=_opt(row["base_capacity"]),
            base_children=_opt(row["base_children"]),
            base_coverage=_opt(row["base_coverage"]),
            unlimited=_bool(row["unlimited"]),
            uses_volunteers=_bool(row["uses_volunteers"]),
            source=str(row["source"]),
            assumption=str(row["assumption"]),
        )
        _check(service, path, i)
        out[service.name] = service
    return out


def _check(s: ServiceType, path: Path, row: int) -> None:
    problems = [
        ("level", s.level in ("person", "household"), "person, household"),
        ("income", s.income in ("any", "low"), "any, low"),
        ("migration_background", s.migration_background in ("any", "migrant", "foreign"), "any, migrant, foreign"),
        (
            "household_types",
            s.household_types is None or set(s.household_types) <= set(HOUSEHOLD_TYPES),
            "any or ;-separated " + ", ".join(HOUSEHOLD_TYPES),
        ),
        ("min_age", 0 <= s.min_age <= s.max_age, "0 <= min_age <= max_age"),
        ("take_up_none", all(0.0 <= t <= 1.0 for t in s.take_up), "probabilities 0..1"),
        ("units_per_user", s.units_per_user > 0, "> 0"),
        (
            "base_coverage",
            s.unlimited or s.base_capacity is not None or s.base_coverage is not None,
            "a base_capacity, a base_coverage or unlimited = 1",
        ),
        (
            "base_children",
            s.base_children is None or (s.base_capacity is not None and s.base_children > 0),
            "empty, or > 0 together with a base_capacity",
        ),
    ]
    for field, ok, allowed in problems:
        if not ok:
            raise InputError(path, field, f"bad value in row {row + 2} ({s.name})", allowed)


def with_overrides(catalogue: dict[str, ServiceType], overrides: dict[str, dict]) -> dict[str, ServiceType]:
    """Apply scenario overrides ``{service: {field: value}}``; ``take_up`` is a dict by origin group.
    A ``base_coverage`` override replaces a real city total (``base_capacity``, ``base_children``) of the catalogue."""
    out = dict(catalogue)
    for name, fields in overrides.items():
        changes = dict(fields)
        if "base_coverage" in changes:
            changes["base_capacity"] = None
            changes["base_children"] = None
        if "take_up" in changes:
            t = changes.pop("take_up")
            base = out[name].take_up
            changes["take_up"] = (t.get("none", base[0]), t.get("german_mb", base[1]), t.get("foreign", base[2]))
        out[name] = replace(out[name], **changes)
    return out


def area_capacity_table(data_dir: Path, base_year: int | None = None) -> pd.DataFrame:
    """Real places and children per service and area. With ``base_year``: only figures whose
    reference year is at most AREA_FIGURE_WINDOW_YEARS away, the nearest per service and area
    (the later one on a tie)."""
    path = Path(data_dir) / AREA_CAPACITY
    if not path.is_file():
        return pd.DataFrame(columns=AREA_CAPACITY_COLUMNS)
    frame = data.read_table(path, AREA_CAPACITY_COLUMNS)
    if base_year is None or frame.empty:
        return frame
    year = frame["reference_date"].astype(str).str[:4].astype(int)
    gap = (year - base_year).abs()
    frame = frame.assign(_gap=gap, _year=year)[gap <= AREA_FIGURE_WINDOW_YEARS]
    frame = frame.sort_values(["service", "area", "_gap", "_year"], ascending=[True, True, True, False])
    return frame.drop_duplicates(["service", "area"]).drop(columns=["_gap", "_year"]).reset_index(drop=True)


def children_2012(service: ServiceType, cells_2012: pd.DataFrame, areas: list[str]) -> np.ndarray:
    """Persons per area in the 2012 profile's age groups overlapping the service's ages."""
    groups = [g for g, (lo, hi) in data.AGE_GROUPS.items() if lo <= service.max_age and hi >= service.min_age]
    sub = cells_2012[cells_2012["age_group"].isin(groups)]
    return sub.groupby("area")["persons"].sum().reindex(areas).fillna(0).to_numpy(float)


def base_capacities(
    service: ServiceType,
    areas: list[str],
    eligible: np.ndarray,
    demand: np.ndarray,
    city_share: float,
    area_table: pd.DataFrame,
    weights_2012: np.ndarray,
) -> np.ndarray:
    """Capacity per area in the service's units for the base year (rules in the module docstring).

    ``city_share`` is the selected areas' share of the city's population: a real city total without
    a children count is scaled by it when only some areas are simulated (a city-wide places per
    child needs no scaling).
    """
    if service.unlimited:
        return np.full(len(areas), np.inf)
    capacity = np.zeros(len(areas))
    known = np.zeros(len(areas), bool)
    rows = area_table[area_table["service"] == service.name]
    for row in rows.itertuples():
        if row.area in areas:
            a = areas.index(row.area)
            capacity[a] = float(row.places) / float(row.children) * eligible[a] * service.units_per_user
            known[a] = True
    if service.base_capacity is not None and service.base_children is not None:
        ratio = service.base_capacity / service.base_children  # the city's places per child
        capacity[~known] = ratio * eligible[~known] * service.units_per_user
    elif service.base_capacity is not None:
        rest = service.base_capacity * city_share - capacity.sum()
        weights = np.where(known, 0.0, weights_2012)
        if weights.sum() > 0:
            capacity[~known] = max(rest, 0.0) * weights[~known] / weights.sum()
    else:
        capacity[~known] = service.base_coverage * demand[~known] * service.units_per_user
    return np.round(capacity)
