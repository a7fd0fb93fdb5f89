"""Yearly records of a run: what happened (``YearEvents``) and the recorder of yearly tables.

Data flow is one way: the model counts the year's events in a ``YearEvents`` as they happen and
hands the recorder, at the end of each year, everything it records as explicit arguments; the
recorder never holds the model and the model never reads the recorder. The recorder keeps
compact numpy tables per year and turns them into tidy long tables at the end (which tables a
run writes, with their columns, is declared once in ``simulation/tables.py``).

Population accounting, checked by the model every year for every area:
P(t+1) = P(t) + births - deaths + immigrants - emigrants + moves_in - moves_out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit

from simulation.cohesion import IndicatorYear, indicator_table
from simulation.data import MIGRATION_AGE_GROUPS
from simulation.indicators import is_small_area
from simulation.population import Population, tally
from simulation.vocabulary import HOUSEHOLD_TYPES, MAX_AGE, ORIGINS, SERVICE_COUNTS, SEXES, UNMET_GROUPS

EVENTS = ("births", "deaths", "immigrants", "emigrants", "moves_in", "moves_out")
EXTRA_COUNTS = ("displaced",)  # per-area counts kept beside the accounting events (households)
MIGRATION_EVENTS = ("immigrants", "emigrants")  # also counted by migration age group, city-wide
CITY_EVENTS = ("widowed", "left_home", "couples_formed", "separations", "flat_mates", "unhoused_immigrants")  # city-wide counts
N_AGES = MAX_AGE + 1


class YearEvents:
    """What happened in one year: counts per area (``EVENTS``, ``EXTRA_COUNTS``) and city-wide
    counts (children leaving home, couples formed, ...), with the population at its start."""

    def __init__(self, year: int, start_population: np.ndarray):
        self.year = year
        self.start_population = start_population
        n = len(start_population)
        self.area = {e: np.zeros(n, np.int64) for e in EVENTS + EXTRA_COUNTS}
        self.city: dict[str, int] = {}
        self.by_age = {e: np.zeros(len(MIGRATION_AGE_GROUPS), np.int64) for e in MIGRATION_EVENTS}  # persons per migration age group

    def count(self, event: str, areas: np.ndarray, weights: np.ndarray | None = None) -> None:
        add = np.bincount(np.asarray(areas, np.int64), weights=weights, minlength=len(self.start_population))
        self.area[event] += add.astype(np.int64)

    def count_ages(self, event: str, per_group: np.ndarray) -> None:
        """Add persons per migration age group (``MIGRATION_AGE_GROUPS``) to an event's city count."""
        self.by_age[event] += per_group

    def count_city(self, name: str, value: int) -> None:
        self.city[name] = self.city.get(name, 0) + int(value)

    def __getitem__(self, event: str) -> np.ndarray:
        return self.area[event]

    def expected_population(self) -> np.ndarray:
        """The balancing equation's population per area at the end of the year."""
        e = self.area
        return self.start_population + e["births"] - e["deaths"] + e["immigrants"] - e["emigrants"] + e["moves_in"] - e["moves_out"]


@njit(cache=True)
def _persons_by_area_age_sex_origin(area, age, sex, origin, n_areas):
    """Persons per area, age (ages above MAX_AGE counted at MAX_AGE), sex and origin: shape
    (areas, N_AGES, 2, 3)."""
    cell = np.empty(len(area), np.int32)
    for i in range(len(area)):  # apart from the counting, so that it runs on vectors
        cell[i] = ((np.int32(area[i]) * N_AGES + min(np.int32(age[i]), MAX_AGE)) * 2 + np.int32(sex[i])) * 3 + np.int32(origin[i])
    return tally(cell, n_areas * N_AGES * 6).reshape(n_areas, N_AGES, 2, 3)


@njit(cache=True)
def _households_by_area_type(area, household_type, size, n_areas, n_types):
    """Households and their members per area and household type: shape (areas, types, 2)."""
    cell = np.empty(len(area), np.int32)
    for h in range(len(area)):  # apart from the counting, so that it runs on vectors
        cell[h] = np.int32(area[h]) * n_types + np.int32(household_type[h])
    out = np.empty((n_areas * n_types, 2), np.int64)
    out[:, 0] = tally(cell, n_areas * n_types)
    out[:, 1] = tally(cell, n_areas * n_types, size)
    return out.reshape(n_areas, n_types, 2)


class YearRecorder:
    """Keeps each year's counts, handed over by the model (see module docstring)."""

    def __init__(
        self,
        area_names: list[str],
        area_sozialrathaus: list[str],
        service_names: list[str],
        units_per_user: np.ndarray,
        small_area_threshold: int,
    ):
        self.area_names = list(area_names)
        self.area_sozialrathaus = list(area_sozialrathaus)
        self.service_names = list(service_names)
        self.units_per_user = np.asarray(units_per_user, float)
        self.small_area_threshold = small_area_threshold
        self.n_areas = len(self.area_names)
        self.population: dict[int, np.ndarray] = {}  # year -> counts (area, age, sex, origin)
        self.households: dict[int, np.ndarray] = {}  # year -> (area, type, [households, persons])
        self.housing: dict[int, np.ndarray] = {}  # year -> (area, [dwellings, households])
        self.events: dict[int, dict[str, np.ndarray]] = {}
        self.city: dict[int, dict[str, int]] = {}
        self.migration: dict[int, np.ndarray] = {}  # year -> (migration age group, MIGRATION_EVENTS) persons
        self.services: dict[int, np.ndarray] = {}  # year -> (service, area, SERVICE_COUNTS)
        self.unmet_groups: dict[int, np.ndarray] = {}  # year -> (service, area, UNMET_GROUPS)
        self.capacity: dict[int, np.ndarray] = {}  # year -> (service, area) capacity in units
        self.rent: dict[int, np.ndarray] = {}  # year -> rent index per area
        self.cohesion: dict[int, IndicatorYear] = {}  # year -> indicator values

    def record(
        self,
        year: int,
        population: Population,
        household_type: np.ndarray,
        dwellings: np.ndarray,
        rent: np.ndarray,
        capacity: np.ndarray,
        service_counts: np.ndarray,
        unmet_groups: np.ndarray,
        cohesion: IndicatorYear,
        events: YearEvents | None,
    ) -> None:
        """Keep the state on 31 Dec of ``year`` and what happened during it (None in the base year).

        ``household_type``: index into HOUSEHOLD_TYPES per household; ``capacity``: (services,
        areas) in the services' units; ``service_counts``: (services, areas, SERVICE_COUNTS) by home
        area; ``unmet_groups``: (services, areas, UNMET_GROUPS); ``cohesion``: the year's indicator values.
        """
        p = population.persons
        self.population[year] = _persons_by_area_age_sex_origin(population.person_area(), p.age, p.sex, p.origin, self.n_areas)
        h = population.households
        self.households[year] = _households_by_area_type(h.area, household_type, population.size(), self.n_areas, len(HOUSEHOLD_TYPES))
        self.housing[year] = np.stack([np.asarray(dwellings).copy(), population.households_per_area()], axis=-1)
        self.capacity[year] = np.asarray(capacity, float).copy()
        self.rent[year] = np.asarray(rent, float).copy()
        self.services[year] = service_counts
        self.unmet_groups[year] = unmet_groups
        self.cohesion[year] = cohesion
        if events is not None:
            self.events[year] = dict(events.area)
            self.city[year] = dict(events.city)
            self.migration[year] = np.stack([events.by_age[e] for e in MIGRATION_EVENTS], axis=-1)

    # ---- tidy tables ---------------------------------------------------------------------------
    def _area_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"area": self.area_names, "sozialrathaus": self.area_sozialrathaus})

    def population_table(self) -> pd.DataFrame:
        """year, area, sozialrathaus, age, sex, migration_background, persons: the non-empty cells,
        by year, area, age, sex and origin."""
        years = np.array(list(self.population), np.int32)
        counts = np.stack(list(self.population.values()))  # (year, area, age, sex, origin)
        y, a, age, s, o = cells = np.nonzero(counts)
        return pd.DataFrame(
            {
                "year": years[y],
                "area": pd.array(self.area_names, dtype="str").take(a),
                "sozialrathaus": pd.array(self.area_sozialrathaus, dtype="str").take(a),
                "age": age.astype(np.int16),
                "sex": pd.array(SEXES, dtype="str").take(s),
                "migration_background": pd.array(ORIGINS, dtype="str").take(o),
                "persons": counts[cells].astype(np.int64),
            }
        )

    def events_table(self) -> pd.DataFrame:
        """year, area and the accounting EVENTS of every simulated year."""
        if not self.events:
            return pd.DataFrame(columns=["year", "area", *EVENTS])
        years = np.array(list(self.events), np.int32)
        return pd.DataFrame(
            {
                "year": np.repeat(years, self.n_areas),
                "area": np.tile(self.area_names, len(years)),
                **{k: np.concatenate([e[k] for e in self.events.values()]) for k in EVENTS},
            }
        )

    def households_table(self) -> pd.DataFrame:
        """year, area, household_type, households, persons: every area and type of every year."""
        years = np.array(list(self.households), np.int32)
        counts = np.stack(list(self.households.values()))  # (year, area, type, [households, persons])
        y, a, t = np.indices(counts.shape[:3]).reshape(3, -1)
        return pd.DataFrame(
            {
                "year": years[y],
                "area": pd.array(self.area_names, dtype="str").take(a),
                "household_type": pd.array(HOUSEHOLD_TYPES, dtype="str").take(t),
                "households": counts[..., 0].ravel(),
                "persons": counts[..., 1].ravel(),
            }
        )

    def housing_table(self) -> pd.DataFrame:
        """year, area, dwellings, households, vacant, rent_index, displaced_households (0 in the base year)."""
        years = list(self.housing)
        h = np.stack(list(self.housing.values()))  # (year, area, [dwellings, households])
        no_events = np.zeros(self.n_areas, np.int64)
        return pd.DataFrame(
            {
                "year": np.repeat(np.array(years, np.int32), self.n_areas),
                "area": np.tile(self.area_names, len(years)),
                "dwellings": h[..., 0].ravel(),
                "households": h[..., 1].ravel(),
                "vacant": (h[..., 0] - h[..., 1]).ravel(),
                "rent_index": np.concatenate([self.rent[y] for y in years]),
                "displaced_households": np.concatenate([self.events[y]["displaced"] if y in self.events else no_events for y in years]),
            }
        )

    def services_table(self) -> pd.DataFrame:
        """year, area, sozialrathaus, service, eligible, demand, capacity, served, unmet, waiting, coverage.

        capacity is in the service's unit (NaN = no limit); coverage = places per eligible
        (capacity / units per user / eligible), NaN where nobody is eligible or there is no limit.
        """
        years = list(self.services)
        counts = np.stack(list(self.services.values()))  # (year, service, area, SERVICE_COUNTS)
        cap = np.stack([self.capacity[y] for y in years])
        cap = np.where(np.isinf(cap), np.nan, cap)
        eligible = counts[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            coverage = np.where(eligible > 0, cap / self.units_per_user[:, None] / eligible, np.nan)
        y, s, a = np.indices(counts.shape[:3]).reshape(3, -1)
        return pd.DataFrame(
            {
                "year": np.array(years, np.int32)[y],
                "area": pd.array(self.area_names, dtype="str").take(a),
                "sozialrathaus": pd.array(self.area_sozialrathaus, dtype="str").take(a),
                "service": pd.array(self.service_names, dtype="str").take(s),
                **{k: counts[..., j].ravel() for j, k in enumerate(SERVICE_COUNTS)},
                "capacity": cap.ravel(),
                "coverage": coverage.ravel(),
            }
        )[["year", "area", "sozialrathaus", "service", "eligible", "demand", "capacity", "served", "unmet", "waiting", "coverage"]]

    def unmet_groups_table(self) -> pd.DataFrame:
        """year, area, sozialrathaus, service, dimension, group, unmet (long; cells with a count >= 0)."""
        years = np.array(list(self.unmet_groups), np.int32)
        counts = np.stack(list(self.unmet_groups.values()))  # (year, service, area, UNMET_GROUPS)
        y, s, a, g = cells = np.nonzero(counts >= 0)
        return pd.DataFrame(
            {
                "year": years[y],
                "area": pd.array(self.area_names, dtype="str").take(a),
                "sozialrathaus": pd.array(self.area_sozialrathaus, dtype="str").take(a),
                "service": pd.array(self.service_names, dtype="str").take(s),
                "dimension": pd.array([d for d, _ in UNMET_GROUPS], dtype="str").take(g),
                "group": pd.array([n for _, n in UNMET_GROUPS], dtype="str").take(g),
                "unmet": counts[cells],
            }
        )

    def cohesion_table(self) -> pd.DataFrame:
        """year, level, area, sozialrathaus, indicator, value (see simulation/cohesion.py)."""
        return indicator_table(list(self.cohesion.values()))

    def areas_table(self) -> pd.DataFrame:
        """year, area, sozialrathaus, residents, small_area: the flag every output refers to."""
        years = list(self.population)
        residents = np.stack([self.population[y].sum(axis=(1, 2, 3)) for y in years])
        return pd.DataFrame(
            {
                "year": np.repeat(np.array(years, np.int32), self.n_areas),
                "area": np.tile(self.area_names, len(years)),
                "sozialrathaus": np.tile(self.area_sozialrathaus, len(years)),
                "residents": residents.ravel().astype(np.int64),
                "small_area": is_small_area(residents, self.small_area_threshold).ravel(),
            }
        )

    def migration_table(self) -> pd.DataFrame:
        """year, migration age group, persons moving in and out across the city boundary, net."""
        rows = [
            (y, group, *(int(v) for v in counts[g])) for y, counts in self.migration.items() for g, group in enumerate(MIGRATION_AGE_GROUPS)
        ]
        frame = pd.DataFrame(rows, columns=["year", "age_group", *MIGRATION_EVENTS])
        frame["net"] = frame["immigrants"] - frame["emigrants"]
        return frame

    def city_table(self) -> pd.DataFrame:
        """year and the city-wide counts (CITY_EVENTS) of every simulated year."""
        rows = [{"year": y, **{k: v.get(k, 0) for k in CITY_EVENTS}} for y, v in self.city.items()]
        return pd.DataFrame(rows, columns=["year", *CITY_EVENTS])
