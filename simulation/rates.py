"""Rate tables, built once from the input data, and the one helper that looks rates up.

Each table states what its numbers mean. Ages above the table's last age use the last age.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulation import data
from simulation.vocabulary import MAX_AGE, SEXES

ADULT_GROUPS = ("18-29", "30-64", "65+")


@dataclass(frozen=True)
class RateTable:
    """Values on a grid of integer keys; ``meaning`` says what a value is (probability, rate, weight)."""

    values: np.ndarray
    dims: tuple[str, ...]
    meaning: str

    def lookup(self, *keys: np.ndarray) -> np.ndarray:
        """Vectorised lookup; every key is clipped into the table (e.g. age 103 uses age 100)."""
        index = tuple(np.clip(np.asarray(k, dtype=np.int64), 0, n - 1) for k, n in zip(keys, self.values.shape))
        return self.values[index]


def adult_group(age: np.ndarray) -> np.ndarray:
    """0 = under 30 (heads under 18 count here), 1 = 30-64, 2 = 65+."""
    return np.digitize(age, [30, 65])


def death_probabilities(life: pd.DataFrame, period: str) -> RateTable:
    """Probability of dying within the calendar year, by sex and age reached on 31 Dec.

    Persons aged x-1 at the start of the year reach age x at its end if they survive: the
    cohort-component survival ratio L(x)/L(x-1) of the period life table. Age 0 (born in the
    year): 1 - L(0)/l(0). Age 100 and older: q(100). Source: Destatis 12621-0001.
    """
    values = np.zeros((2, MAX_AGE + 1))
    for s, sex in enumerate(SEXES):
        t = life[(life["period"] == period) & (life["sex"] == sex)].sort_values("age")
        big_l = t["Lx"].to_numpy(float)
        values[s, 0] = 1.0 - big_l[0] / float(t["lx"].iloc[0])
        values[s, 1:MAX_AGE] = 1.0 - big_l[1:MAX_AGE] / big_l[: MAX_AGE - 1]
        values[s, MAX_AGE] = float(t["qx"].iloc[-1])
    return RateTable(values, ("sex", "age"), "probability of death in the year, by age on 31 Dec")


def nearest_life_table_period(life: pd.DataFrame, year: int) -> str:
    periods = sorted(life["period"].unique())
    centres = [(int(p[:4]) + int(p[:2] + p[-2:])) / 2 for p in periods]
    return periods[int(np.argmin([abs(c - year) for c in centres]))]


def fertility_rates(asfr: pd.DataFrame, year: int) -> RateTable:
    """Live births per woman in the year, by the mother's age reached in the year (year-of-birth method).

    Source: Destatis 12612-0008 (per 1,000 women, 15-49); ages outside 15-49 have rate 0.
    """
    t = asfr[asfr["year"] == year]
    values = np.zeros(MAX_AGE + 1)
    values[t["age_of_mother"].to_numpy(int)] = t["live_births_per_1000_women"].to_numpy(float) / 1000.0
    return RateTable(values, ("age",), "live births per woman in the year")


def asfr_year(asfr: pd.DataFrame, year: int) -> int:
    """The simulated year if the table has it, else the nearest year it has."""
    years = np.array(sorted(asfr["year"].unique()))
    return int(years[np.argmin(np.abs(years - year))])


def male_birth_share(births: pd.DataFrame, year: int) -> float:
    """Share of boys among live births (Destatis 12612-0001), nearest year available."""
    row = births.iloc[int(np.argmin(np.abs(births["year"].to_numpy() - year)))]
    return float(row["male"]) / float(row["total"])


def newborn_foreign_share(cells_2012: pd.DataFrame) -> float:
    """Share of foreign nationals among children 0-5 with a migration background (profile 2012).

    Used as the chance that a child born to a mother with migration background is foreign
    rather than a German with migration background.
    """
    young = cells_2012[cells_2012["age_group"] == "0-5"].groupby("origin")["persons"].sum()
    return float(young["foreign"] / (young["foreign"] + young["german_mb"]))


def mobility_index(duration: pd.DataFrame) -> np.ndarray:
    """Relative mobility of adult age groups: share living < 5 years at the address, over all adults.

    From the Stadtteil profile 2012 (city sums). Used to shape out-migration, in-migration and
    moves by age of the household head.
    """
    city = duration.groupby("age_group")[["lt5", "persons"]].sum().loc[list(ADULT_GROUPS)]
    share = city["lt5"] / city["persons"]
    overall = city["lt5"].sum() / city["persons"].sum()
    return (share / overall).to_numpy(float)


def newcomer_area_weights(duration: pd.DataFrame, areas: list[str]) -> np.ndarray:
    """Where newcomers settle: adults living < 5 years at the address per area (profile 2012)."""
    per_area = duration.groupby("area")["lt5"].sum()
    return per_area.reindex(areas).to_numpy(float)


def load_rate_inputs(data_dir: Path) -> dict:
    return {
        "life": data.life_tables(data_dir),
        "asfr": data.asfr_table(data_dir),
        "births": data.births_by_sex(data_dir),
        "cells_2012": data.profile_cells(data_dir, "2012-12-31"),
        "duration": data.residence_duration(data_dir, "2012-12-31"),
    }
