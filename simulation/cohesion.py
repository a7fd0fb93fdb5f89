"""Cohesion indicators of one year, per area, Sozialrathaus district and city (tidy rows).

Indicator names (stable, snake_case) and definitions:

- ``dissimilarity_*``, ``isolation_*``, ``exposure_*``, ``entropy_*`` (``*`` = ``migration``:
  residents with a migration background, german_mb + foreign, against none; ``income``: persons
  in low-income households against the others): segregation between the areas of a district or
  of the city (not defined for a single area);
- ``turnover_rate``: persons moving in plus moving out (across the city boundary or between
  areas), halved, per resident at the start of the year;
- ``median_years_at_address``: median over households;
- ``displacement``: low-income households pushed out of the area by rent rises in the year;
- ``service_mixing_migration`` / ``service_mixing_income``: share of contacts (pairs of users of
  the same offering, over all services with places) that cross the groups;
- ``volunteers_per_1000``; ``volunteer_hours_per_demand``: volunteer hours in social services per
  person seeking a service that uses volunteers;
- ``alone_75plus_no_contact``: persons 75+ living alone who used no service in the year;
- ``dependency_young`` / ``dependency_old``: persons 0-17 / 65+ per 100 aged 18-64;
- ``cohesion_index``: weighted mean of five parts in 0..1, each also written with its weight
  (``cohesion_part_<name>``, ``cohesion_weight_<name>``): mixing (service mixing by migration
  background relative to the mixing expected if users were mixed at random), stability
  (1 - turnover rate), service_reach (served / demand, services with places), volunteering
  (volunteers per resident 14+ relative to the national 39.7 %), no_isolation (1 - share of
  persons 75+ living alone without contact). The index is not defined (NaN) where a part with a
  weight is unknown: in the base year, whose stability needs a year of moves.

Small areas: an area with fewer residents than ``small_area_threshold`` (default 5,000) gets the
indicator ``small_area`` = 1 (else 0) in every year, and the run's ``areas`` table, report and
figures flag it: below that, one household's move changes rates and shares visibly, so its
figures are not reliable for comparisons (districts and the city are never small).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numba import njit

from simulation import indicators as ind
from simulation.population import tally, unsigned
from simulation.vocabulary import CITY

NATIONAL_VOLUNTEER_SHARE = 0.397  # Freiwilligensurvey 2019


@dataclass
class YearState:
    """What the indicators of one year need; built by the model after the year's events."""

    year: int
    area_names: list[str]
    sozialrathaus: list[str]
    person_area: np.ndarray
    age: np.ndarray
    migrant: np.ndarray  # bool
    low_income: np.ndarray  # bool, person in a low-income household
    alone: np.ndarray  # bool, person lives alone
    uses: tuple[np.ndarray, np.ndarray, np.ndarray]  # the year's service uses: person row, service, offering area
    limited: np.ndarray  # (services,) bool: service has places (not an entitlement); its length is the number of services
    volunteer: np.ndarray  # bool
    household_area: np.ndarray
    household_years: np.ndarray
    start_population: np.ndarray  # per area, 31 Dec of the year before
    moved_in: np.ndarray  # per area: immigrants + moves in
    moved_out: np.ndarray  # per area: emigrants + moves out
    displaced: np.ndarray  # per area, households
    volunteer_hours: np.ndarray  # per area, in social services
    volunteer_demand: np.ndarray  # per area: persons seeking services that use volunteers
    served: np.ndarray  # per area: served in services with places
    demand: np.ndarray  # per area: demand in services with places
    weights: dict[str, float]
    small_area_threshold: int
    flows_known: bool = True  # False in the base year: no moves were simulated yet


SEGREGATION = {"dissimilarity": ind.dissimilarity, "isolation": ind.isolation, "exposure": ind.exposure, "entropy": ind.entropy}
GROUPS = {"migration": "migrants", "income": "low"}  # indicator suffix -> per-area count of the group


@njit(cache=True)
def _by_area_age_flags(area, age, migrant, low_income, volunteer, alone, has_use, n_areas, n_ages):
    """Persons per area, age and combination of four flags (bit 0 migrant, 1 low income, 2 volunteer,
    3 alone without any service use): shape (areas, ages, 16). The flags are 0/1 bytes."""
    cell = np.empty(len(area), np.int32)
    for i in range(len(area)):  # apart from the counting, so that it runs on vectors
        no_contact = np.int32(alone[i]) & (np.int32(1) - np.int32(has_use[i]))
        code = np.int32(migrant[i]) | np.int32(low_income[i]) << 1 | np.int32(volunteer[i]) << 2 | no_contact << 3
        cell[i] = (np.int32(area[i]) * n_ages + np.int32(age[i])) * 16 + code
    return tally(cell, n_areas * n_ages * 16).reshape(n_areas, n_ages, 16)


# The counts per area that ``_person_counts`` gives: flag (bit in the cell code) or age band [low, high).
PERSON_FLAGS = {"migrants": 0, "low": 1, "volunteers": 2}
AGE_BANDS = {"population": (0, None), "young": (0, 18), "old": (65, None), "working": (18, 65), "adults14": (14, None), "age75": (75, None)}


@lru_cache(maxsize=16)
def _person_count_columns(ages: int) -> np.ndarray:
    """Which cells (age, four flags) of a (areas, ages * 16) table each count of ``_person_counts``
    sums: shape (ages * 16, counts), 0 or 1."""
    age, code = np.divmod(np.arange(ages * 16), 16)
    columns = [(code >> bit) & 1 == 1 for bit in PERSON_FLAGS.values()]
    columns += [(age >= low) & (high is None or age < high) for low, high in AGE_BANDS.values()]
    columns.append((age >= 75) & ((code >> 3) & 1 == 1))  # alone_75_no_contact
    out = np.column_stack(columns).astype(float)
    out.flags.writeable = False  # cached: shared by every year's call
    return out


def _person_counts(s: YearState, has_use: np.ndarray) -> dict[str, np.ndarray]:
    """Persons per area: all, by group, by age band, and 75+ living alone who used no service.

    One pass over the persons counts them by (area, age, four flags); each count per area is the
    sum of some cells of that table (a product with 0/1 columns: exact, the counts being integers).
    """
    flags = (s.migrant, s.low_income, s.volunteer, s.alone, has_use)
    n, ages = len(s.area_names), int(s.age.max(initial=0)) + 1
    table = _by_area_age_flags(s.person_area, s.age, *(f.view(np.uint8) for f in flags), n, ages).reshape(n, ages * 16).astype(float)
    counts = table @ _person_count_columns(ages)
    return dict(zip([*PERSON_FLAGS, *AGE_BANDS, "alone_75_no_contact"], counts.T))


@njit(cache=True)
def _count_uses(person, service, offering, migrant, low_income, n_persons, n_services, n_areas):
    """Users per service, offering area, migration background and low income (shape (services,
    areas, 2, 2)) and whether each person uses some service, from the uses (person, service,
    offering area)."""
    person = unsigned(person)  # rows, never negative: no check for negative indices
    cell = np.empty(len(person), np.int64)
    for j in range(len(person)):  # apart from the counting, so that it runs on vectors
        p = person[j]
        cell[j] = ((np.int64(service[j]) * n_areas + offering[j]) * 2 + migrant[p]) * 2 + low_income[p]
    has_use = np.zeros(n_persons, np.uint8)
    for j in range(len(person)):
        has_use[person[j]] = 1
    return tally(cell, n_services * n_areas * 4).reshape(n_services, n_areas, 2, 2), has_use


def _offering_counts(s: YearState) -> tuple[np.ndarray, np.ndarray]:
    """Users per service with places, offering area, migration background and low income: shape
    (services, areas, 2, 2); and whether each person used some service (any service)."""
    person, service, offering = s.uses
    flags = (s.migrant.view(np.uint8), s.low_income.view(np.uint8))  # bool in compiled loops is slow
    counts, has_use = _count_uses(person, service, offering, *flags, len(s.age), len(s.limited), len(s.area_names))
    counts = counts.astype(float)
    counts[~s.limited] = 0.0
    return counts, has_use.view(bool)


@njit(cache=True)
def _years_by_area(area, years, lowest, width, n_areas):
    """Households per area and years at the address (lowest, lowest + 1, ...): shape (areas, width)."""
    cell = np.empty(len(area), np.int64)
    for i in range(len(area)):  # apart from the counting, so that it runs on vectors
        cell[i] = np.int64(area[i]) * width + (np.int64(years[i]) - lowest)
    return tally(cell, n_areas * width).reshape(n_areas, width)


def _medians(hist: np.ndarray, lowest: int) -> np.ndarray:
    """Median per row of a histogram of the integers lowest, lowest + 1, ... as np.median gives it.

    The mean of the two middle values (the middle one twice for an odd count); NaN for an empty row.
    """
    cum = hist.cumsum(axis=1)
    count = cum[:, -1:]
    lower, upper = ((cum <= rank).sum(axis=1) for rank in ((count - 1) // 2, count // 2))  # bins of the middle values
    return np.where(count[:, 0] > 0, (lower + upper) / 2 + lowest, np.nan)


def _composite(parts: dict[str, np.ndarray], weights: dict[str, float]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Normalised weights of the parts and the cohesion index (arrays over the units).

    One definition in every year: the weighted mean of every part with a positive weight. Where such a
    part cannot be known (NaN: stability in the base year, before any moves), the index is NaN too,
    not a mean of the other parts, which would jump when the missing part appears a year later.
    """
    keys = [*weights, *(k for k in parts if k not in weights)]  # summed in the scenario's order
    shape = np.shape(next(iter(parts.values())))
    w = {k: weights.get(k, 0.0) for k in keys}
    index = ind.composite({k: parts[k] if w[k] > 0 else np.zeros(shape) for k in keys}, w)
    unknown = np.zeros(shape, bool)
    for k in keys:
        if w[k] > 0:
            unknown |= np.isnan(parts[k])
    total = sum(w.values())
    return {k: np.full(shape, w[k] / total) for k in parts}, np.where(unknown, np.nan, index)


@dataclass(frozen=True, eq=False)
class _Units:
    """The units of the table: the areas, the Sozialrathaus districts (sorted) and the city.

    ``labels``: (level, name, district) per unit; ``inside``: membership of the areas in the
    districts and the city, shape (districts + 1, areas). City rows are labelled with the city's
    name; in a run of some areas they cover those areas.
    """

    labels: list[tuple[str, str, str]]
    inside: np.ndarray
    order: np.ndarray  # the areas, district by district
    starts: np.ndarray  # where each district starts in ``order``

    def total(self, v) -> np.ndarray:
        """Per-area values (first axis) summed per unit."""
        v = np.asarray(v, float)
        return np.concatenate([v, np.add.reduceat(v[self.order], self.starts, axis=0), v.sum(axis=0, keepdims=True)])


@lru_cache(maxsize=16)
def _units(area_names: tuple[str, ...], sozialrathaus: tuple[str, ...]) -> _Units:
    """The units of a run's areas (the same every year, so made once)."""
    n, districts = len(area_names), sorted(set(sozialrathaus))
    district = np.array([districts.index(d) for d in sozialrathaus], dtype=np.intp)
    labels = (
        [("area", a, d) for a, d in zip(area_names, sozialrathaus)] + [("sozialrathaus", d, d) for d in districts] + [("city", CITY, "")]
    )
    inside = np.vstack([district == np.arange(len(districts))[:, None], np.ones(n, bool)])
    order = np.argsort(district, kind="stable")
    return _Units(labels, inside, order, np.searchsorted(district[order], np.arange(len(districts))))


@lru_cache(maxsize=16)
def _row_labels(units: _Units, indicators: tuple[str, ...]) -> tuple[np.ndarray, dict[str, pd.api.extensions.ExtensionArray]]:
    """Where the table has a row, shape (units, indicators), and the label columns of the rows
    (level, area, sozialrathaus, indicator): those rows unit by unit, then each area's small_area
    row. The same every year, so made once as pandas string arrays, which the yearly tables share.
    """
    n = int(units.inside.shape[1])
    present = np.ones((len(units.labels), len(indicators)), bool)
    present[:n, : len(GROUPS) * len(SEGREGATION)] = False  # areas have no segregation rows
    rows = np.concatenate([np.repeat(np.arange(len(units.labels)), present.sum(axis=1)), np.arange(n)])  # unit of each row
    level, name, district = (np.array(x, dtype=object) for x in zip(*units.labels))
    indicator = np.broadcast_to(np.array(indicators, dtype=object), present.shape)[present]
    labels = {
        "level": level[rows],
        "area": name[rows],
        "sozialrathaus": district[rows],
        "indicator": np.concatenate([indicator, np.full(n, "small_area", dtype=object)]),
    }
    return present, {k: pd.array(v, dtype="str") for k, v in labels.items()}


@dataclass(frozen=True)
class IndicatorYear:
    """One year's indicator values, row by row in the order of ``labels`` (level, area,
    sozialrathaus, indicator: the same rows every year of a run, so the table is built once,
    by ``indicator_table``)."""

    year: int
    value: np.ndarray
    labels: dict[str, pd.api.extensions.ExtensionArray]


def indicator_table(years: list[IndicatorYear]) -> pd.DataFrame:
    """year, level, area, sozialrathaus, indicator, value: the rows of the given years, year by year."""
    if not years:
        return pd.DataFrame(columns=["year", "level", "area", "sozialrathaus", "indicator", "value"])
    labels = years[0].labels
    for y in years:
        if y.labels is not labels and not all(y.labels[k].equals(v) for k, v in labels.items()):
            raise ValueError(f"the indicator rows of {y.year} differ from those of {years[0].year}")
    n = len(years[0].value)
    rows = np.tile(np.arange(n), len(years))
    return pd.DataFrame(
        {
            "year": np.repeat(np.array([y.year for y in years], np.int64), n),
            **{k: v.take(rows) for k, v in labels.items()},
            "value": np.concatenate([y.value for y in years]),
        },
        copy=False,
    )


def yearly_indicators(s: YearState) -> IndicatorYear:
    """Indicator values of the year: each area, each Sozialrathaus district, the city; then each area's small-area flag.

    Counts per area come from one pass over the persons, households and uses; each unit's indicators
    are computed from the sums of its areas' counts, all units at once.
    """
    n = len(s.area_names)
    units = _units(tuple(s.area_names), tuple(s.sozialrathaus))
    offers, has_use = _offering_counts(s)  # (services, areas, migrant, low income)
    per_area = _person_counts(s, has_use)
    lowest = int(s.household_years.min(initial=0))
    width = int(s.household_years.max(initial=0)) - lowest + 1
    years = _years_by_area(s.household_area, s.household_years, lowest, width, n)  # (areas, years at the address)
    by_group = {"migration": offers.sum(axis=3), "income": offers.sum(axis=2)}  # (services, areas, in the group)
    users = by_group["migration"].sum(axis=0)  # (areas, migrant)
    counts = {**per_area, "moved_in": s.moved_in, "moved_out": s.moved_out, "start_population": s.start_population}
    counts |= {"displaced": s.displaced, "volunteer_demand": s.volunteer_demand, "served": s.served, "demand": s.demand}
    counts |= {"users": users.sum(axis=1), "migrant_users": users[:, 1]}
    for suffix, x in by_group.items():  # pairs of users of each offering across the groups, and all pairs
        counts[f"cross_{suffix}"], counts[f"pairs_{suffix}"] = (pairs.sum(axis=0) for pairs in ind.contact_pairs(x[..., 1], x[..., 0]))
    # every per-area count and the years at the address summed per unit at once (integers, so exactly, in any order)
    summed = units.total(np.concatenate([np.array(list(counts.values()), float), years.T]).T)
    unit = dict(zip(counts, summed[:, : len(counts)].T))

    cols, nan = {}, np.full(len(units.labels), np.nan)
    # between the areas of a district or the city (not for a single area), both groups at once
    x = np.where(units.inside, np.stack([per_area[group] for group in GROUPS.values()])[:, None, :], 0.0)  # (groups, units, areas)
    t = np.where(units.inside, per_area["population"], 0.0)
    segregation = np.full((len(GROUPS), len(SEGREGATION), len(units.labels)), np.nan)
    segregation[..., n:] = np.stack(list(ind.segregation(x, t).values()), axis=1)  # (groups, indicators, units)
    cols |= {
        f"{indicator}_{suffix}": v for suffix, by_indicator in zip(GROUPS, segregation) for indicator, v in zip(SEGREGATION, by_indicator)
    }
    turnover = ind.turnover_rate(unit["moved_in"], unit["moved_out"], unit["start_population"]) if s.flows_known else nan
    cols["turnover_rate"] = turnover
    cols["median_years_at_address"] = _medians(summed[:, len(counts) :], lowest)
    cols["displacement"] = unit["displaced"] if s.flows_known else nan
    # (ratios with the same value where they are not defined are taken in one call)
    mixing = ind.ratio([unit["cross_migration"], unit["cross_income"]], [unit["pairs_migration"], unit["pairs_income"]], 0.0)
    cols["service_mixing_migration"], cols["service_mixing_income"] = mixing
    volunteers = [1000.0 * unit["volunteers"], units.total(s.volunteer_hours)], [unit["population"], unit["volunteer_demand"]]
    cols["volunteers_per_1000"], cols["volunteer_hours_per_demand"] = ind.ratio(*volunteers, np.nan)
    cols["alone_75plus_no_contact"] = unit["alone_75_no_contact"]
    cols["dependency_young"], cols["dependency_old"] = ind.dependency([unit["young"], unit["old"]], unit["working"])
    shares = [unit["migrant_users"], unit["volunteers"], unit["alone_75_no_contact"]], [unit["users"], unit["adults14"], unit["age75"]]
    p, volunteer_share, alone_share = ind.ratio(*shares, 0.0)
    expected = 2 * p * (1 - p)
    mixing_ratio, reach = ind.ratio([cols["service_mixing_migration"], unit["served"]], [expected, unit["demand"]], 1.0)
    parts = {
        "mixing": np.minimum(1.0, mixing_ratio),
        "stability": np.maximum(0.0, 1.0 - turnover),
        "service_reach": reach,
        "volunteering": np.minimum(1.0, volunteer_share / NATIONAL_VOLUNTEER_SHARE),
        "no_isolation": 1.0 - alone_share,
    }
    weights, cohesion_index = _composite(parts, s.weights)
    for k, part in parts.items():
        cols[f"cohesion_part_{k}"], cols[f"cohesion_weight_{k}"] = part, weights[k]
    cols["cohesion_index"] = cohesion_index

    values = np.array(list(cols.values()))  # (indicators, units)
    present, labels = _row_labels(units, tuple(cols))
    small = ind.is_small_area(per_area["population"], s.small_area_threshold)
    value = np.concatenate([values.T[present], small])  # the rows, unit by unit
    return IndicatorYear(s.year, value, labels)
