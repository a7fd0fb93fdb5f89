"""Yearly records of a run: population cells, households, events, housing; population accounting.

The recorder keeps compact numpy tables per year and turns them into tidy long tables at the
end. Accounting, checked every year for every area:
P(t+1) = P(t) + births - deaths + immigrants - emigrants + moves_in - moves_out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simulation.errors import AccountingError
from simulation.vocabulary import HOUSEHOLD_TYPES, INCOME_CLASSES, LOW, MAX_AGE, NOT_LOW, ORIGINS, SEXES

if TYPE_CHECKING:
    from simulation.model import CityModel

EVENTS = ("births", "deaths", "immigrants", "emigrants", "moves_in", "moves_out")
EXTRA_COUNTS = ("displaced",)  # per-area counts kept beside the accounting events
SERVICE_COUNTS = ("eligible", "demand", "served", "unmet", "waiting")
UNMET_GROUPS = (
    [("migration_background", g) for g in ORIGINS]
    + [("income_class", g) for g in INCOME_CLASSES]
    + [("household_type", g) for g in HOUSEHOLD_TYPES]
)
N_AGES = MAX_AGE + 1


class YearRecorder:
    def __init__(self, model: "CityModel"):
        self.model = model
        self.n_areas = len(model.area_names)
        self.population: dict[int, np.ndarray] = {}  # year -> counts (area, age, sex, origin)
        self.households: dict[int, np.ndarray] = {}  # year -> (area, type, [households, persons])
        self.housing: dict[int, np.ndarray] = {}  # year -> (area, [dwellings, households])
        self.events: dict[int, dict[str, np.ndarray]] = {}
        self.city: dict[int, dict[str, int]] = {}
        self.services: dict[int, np.ndarray] = {}  # year -> (service, area, SERVICE_COUNTS)
        self.unmet_groups: dict[int, np.ndarray] = {}  # year -> (service, area, UNMET_GROUPS)
        self.capacity: dict[int, np.ndarray] = {}  # year -> (service, area) capacity in units
        self.rent: dict[int, np.ndarray] = {}  # year -> rent index per area
        self.cohesion: dict[int, pd.DataFrame] = {}  # year -> indicator rows
        self._start: np.ndarray | None = None

    # ---- during the run --------------------------------------------------------------------
    def start_year(self) -> None:
        self._start = self.model.population.persons_per_area()
        self.start_population = self._start
        self.events[self.model.year] = {e: np.zeros(self.n_areas, np.int64) for e in EVENTS + EXTRA_COUNTS}
        self.city[self.model.year] = {}

    def count(self, event: str, areas: np.ndarray, weights: np.ndarray | None = None) -> None:
        add = np.bincount(np.asarray(areas, np.int64), weights=weights, minlength=self.n_areas)
        self.events[self.model.year][event] += add.astype(np.int64)

    def count_city(self, name: str, value: int) -> None:
        self.city[self.model.year][name] = self.city[self.model.year].get(name, 0) + int(value)

    def finish_year(self) -> None:
        self.record_state()

    def record_service(self, i: int, view, eligible_rows, seekers, served, unmet, unmet_waited) -> None:
        """Counts by home area for service i; unmet persons by group (see UNMET_GROUPS)."""
        year, n = self.model.year, self.n_areas
        n_services = len(self.model.service_names)
        if year not in self.services:
            self.services[year] = np.zeros((n_services, n, len(SERVICE_COUNTS)), np.int64)
            self.unmet_groups[year] = np.zeros((n_services, n, len(UNMET_GROUPS)), np.int64)
        area = view.area
        counts = [eligible_rows, seekers, seekers[served >= 0], unmet, unmet[unmet_waited >= 1]]
        for k, rows in enumerate(counts):
            self.services[year][i, :, k] = np.bincount(area[rows], minlength=n)
        household_level = self.model.catalogue[self.model.service_names[i]].level == "household"
        origin = (view.head_origin if household_level else view.origin)[unmet]
        codes = np.concatenate([origin, 3 + np.where(view.low_income[unmet], LOW, NOT_LOW), 5 + view.household_type[unmet]])
        where = np.tile(area[unmet], 3)
        self.unmet_groups[year][i] = np.bincount(where * len(UNMET_GROUPS) + codes, minlength=n * len(UNMET_GROUPS)).reshape(n, -1)

    def record_state(self) -> None:
        pop, year = self.model.population, self.model.year
        p = pop.persons
        age = np.minimum(p.age, MAX_AGE).astype(np.int32)
        key = ((pop.person_area().astype(np.int32) * N_AGES + age) * 2 + p.sex) * 3 + p.origin
        self.population[year] = np.bincount(key, minlength=self.n_areas * N_AGES * 6).reshape(self.n_areas, N_AGES, 2, 3)
        kind = pop.household_type().astype(np.int64)
        area = pop.households.area.astype(np.int64)
        n_types = len(HOUSEHOLD_TYPES)
        hh = np.bincount(area * n_types + kind, minlength=self.n_areas * n_types)
        persons = np.bincount(area * n_types + kind, weights=pop.size(), minlength=self.n_areas * n_types)
        self.households[year] = np.stack([hh, persons.astype(np.int64)], axis=-1).reshape(self.n_areas, n_types, 2)
        occupied = np.bincount(area, minlength=self.n_areas)
        self.housing[year] = np.stack([self.model.dwellings.copy(), occupied], axis=-1)
        self.capacity[year] = np.stack([self.model.effective_capacity(i) for i in range(len(self.model.service_names))])
        self.rent[year] = self.model.rent.copy()

    def check_accounting(self) -> None:
        """Raise AccountingError where the balancing equation fails for an area or the city."""
        year = self.model.year
        if year not in self.events or self._start is None:
            return
        e = self.events[year]
        expected = self._start + e["births"] - e["deaths"] + e["immigrants"] - e["emigrants"] + e["moves_in"] - e["moves_out"]
        actual = self.population[year].sum(axis=(1, 2, 3))
        bad = np.flatnonzero(expected != actual)
        if len(bad):
            a = bad[0]
            raise AccountingError(
                f"{year}, {self.model.area_names[a]}: population {actual[a]} but the balancing equation gives {expected[a]}"
            )
        if e["moves_in"].sum() != e["moves_out"].sum():
            raise AccountingError(f"{year}: moves in ({e['moves_in'].sum()}) differ from moves out ({e['moves_out'].sum()})")

    # ---- tidy tables ---------------------------------------------------------------------------
    def _area_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"area": self.model.area_names, "sozialrathaus": self.model.area_sozialrathaus})

    def population_table(self) -> pd.DataFrame:
        frames = []
        for year, counts in self.population.items():
            a, age, s, o = np.nonzero(counts)
            frames.append(pd.DataFrame({
                "year": np.int32(year), "area": np.array(self.model.area_names)[a],
                "sozialrathaus": np.array(self.model.area_sozialrathaus)[a], "age": age.astype(np.int16),
                "sex": np.array(SEXES)[s], "migration_background": np.array(ORIGINS)[o],
                "persons": counts[a, age, s, o].astype(np.int64),
            }))
        return pd.concat(frames, ignore_index=True)

    def events_table(self) -> pd.DataFrame:
        frames = [pd.DataFrame({"year": np.int32(y), "area": self.model.area_names, **{k: e[k] for k in EVENTS}}) for y, e in self.events.items()]
        if not frames:
            return pd.DataFrame(columns=["year", "area", *EVENTS])
        return pd.concat(frames, ignore_index=True)

    def households_table(self) -> pd.DataFrame:
        frames = []
        for year, counts in self.households.items():
            a, t = np.meshgrid(np.arange(self.n_areas), np.arange(len(HOUSEHOLD_TYPES)), indexing="ij")
            frames.append(pd.DataFrame({
                "year": np.int32(year), "area": np.array(self.model.area_names)[a.ravel()],
                "household_type": np.array(HOUSEHOLD_TYPES)[t.ravel()],
                "households": counts[..., 0].ravel(), "persons": counts[..., 1].ravel(),
            }))
        return pd.concat(frames, ignore_index=True)

    def housing_table(self) -> pd.DataFrame:
        frames = [pd.DataFrame({"year": np.int32(y), "area": self.model.area_names, "dwellings": h[:, 0], "households": h[:, 1],
                                "vacant": h[:, 0] - h[:, 1], "rent_index": self.rent[y],
                                "displaced_households": self.events[y]["displaced"] if y in self.events else 0}) for y, h in self.housing.items()]
        return pd.concat(frames, ignore_index=True)

    def services_table(self) -> pd.DataFrame:
        """year, area, sozialrathaus, service, eligible, demand, capacity, served, unmet, waiting, coverage.

        capacity is in the service's unit (NaN = no limit); coverage = places per eligible
        (capacity / units per user / eligible), NaN where nobody is eligible or there is no limit.
        """
        names = self.model.service_names
        units = np.array([self.model.catalogue[s].units_per_user for s in names])
        frames = []
        for year, counts in self.services.items():
            s_idx, a_idx = np.meshgrid(np.arange(len(names)), np.arange(self.n_areas), indexing="ij")
            cap = self.capacity[year]
            cap = np.where(np.isinf(cap), np.nan, cap)
            eligible = counts[..., 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                coverage = np.where(eligible > 0, cap / units[:, None] / eligible, np.nan)
            frame = pd.DataFrame({
                "year": np.int32(year), "area": np.array(self.model.area_names)[a_idx.ravel()],
                "sozialrathaus": np.array(self.model.area_sozialrathaus)[a_idx.ravel()],
                "service": np.array(names)[s_idx.ravel()],
                **{k: counts[..., j].ravel() for j, k in enumerate(SERVICE_COUNTS)},
                "capacity": cap.ravel(), "coverage": coverage.ravel(),
            })
            frames.append(frame)
        cols = ["year", "area", "sozialrathaus", "service", "eligible", "demand", "capacity", "served", "unmet", "waiting", "coverage"]
        return pd.concat(frames, ignore_index=True)[cols]

    def unmet_groups_table(self) -> pd.DataFrame:
        """year, area, sozialrathaus, service, dimension, group, unmet (long)."""
        names = self.model.service_names
        frames = []
        for year, counts in self.unmet_groups.items():
            s_idx, a_idx, g_idx = np.nonzero(counts >= 0)
            frames.append(pd.DataFrame({
                "year": np.int32(year), "area": np.array(self.model.area_names)[a_idx],
                "sozialrathaus": np.array(self.model.area_sozialrathaus)[a_idx], "service": np.array(names)[s_idx],
                "dimension": [UNMET_GROUPS[g][0] for g in g_idx], "group": [UNMET_GROUPS[g][1] for g in g_idx],
                "unmet": counts[s_idx, a_idx, g_idx],
            }))
        return pd.concat(frames, ignore_index=True)

    def cohesion_table(self) -> pd.DataFrame:
        """year, level, area, sozialrathaus, indicator, value (see simulation/cohesion.py)."""
        return pd.concat(self.cohesion.values(), ignore_index=True)

    def areas_table(self) -> pd.DataFrame:
        """year, area, sozialrathaus, residents, small_area: the flag every output refers to."""
        c = self.cohesion_table()
        flags = c[c["indicator"] == "small_area"][["year", "area", "sozialrathaus", "value"]].rename(columns={"value": "small_area"})
        residents = {(y, self.model.area_names[a]): int(v) for y, counts in self.population.items() for a, v in enumerate(counts.sum(axis=(1, 2, 3)))}
        flags["residents"] = [residents[(y, a)] for y, a in zip(flags["year"], flags["area"])]
        flags["small_area"] = flags["small_area"] > 0
        return flags[["year", "area", "sozialrathaus", "residents", "small_area"]].reset_index(drop=True)

    def city_table(self) -> pd.DataFrame:
        rows = [{"year": y, **v} for y, v in self.city.items()]
        return pd.DataFrame(rows)
