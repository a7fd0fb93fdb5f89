"""Rate tables, built once from the input data, and the one helper that looks rates up.

Each table states what its numbers mean. Ages above the table's last age use the last age.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def survivors(death: RateTable, factor: float = 1.0) -> np.ndarray:
    """Survivors l(x) by sex (rows) and age of a cohort living through ``death`` x ``factor``
    (l(0) = 1)."""
    q = np.clip(death.values * factor, 0.0, 1.0)
    return np.concatenate([np.ones((q.shape[0], 1)), np.cumprod(1.0 - q[:, :-1], axis=1)], axis=1)


def improved(death: RateTable, life: pd.DataFrame, year: int, per_year: float) -> RateTable:
    """Death probabilities lowered by ``per_year`` for every year after the end of the latest life
    table period (e.g. 2024 for '2022/24'): q x (1 - per_year) ** (year - end)."""
    end = max(int(p[:2] + p[-2:]) for p in life["period"].unique())
    if per_year == 0.0 or year <= end:
        return death
    return RateTable(death.values * (1.0 - per_year) ** (year - end), death.dims, death.meaning)


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


def net_internal_by_age(net: pd.DataFrame, years: tuple[int, int]) -> np.ndarray:
    """Mean yearly net migration with the rest of Germany per migration age group (0-17, 18-24,
    25-29, 30-49, 50-64, 65+) over the years ``years[0]..years[1]`` (Kreiswanderungsmatrix)."""
    chosen = net[(net["year"] >= years[0]) & (net["year"] <= years[1])]
    means = chosen.groupby("age_group")["net"].mean()
    return means.reindex(list(data.MIGRATION_AGE_GROUPS)).to_numpy(float)


def life_expectancy(life: pd.DataFrame, period: str, factor: float = 1.0, male_share: float = 0.5) -> float:
    """Life expectancy at birth (both sexes, weighted by ``male_share``) of a period life table
    whose death probabilities q(x) are multiplied by ``factor`` (capped at 1).

    Person-years between ages x and x+1 are (l(x) + l(x+1)) / 2; the open age 100+ lives the
    table's own e(100) = T(100) / l(100), divided by the factor (mortality there scales likewise).
    Source: Destatis 12621-0001.
    """
    expectancy = []
    for sex in SEXES:
        t = life[(life["period"] == period) & (life["sex"] == sex)].sort_values("age")
        q = np.minimum(1.0, t["qx"].to_numpy(float)[:MAX_AGE] * factor)
        survivors = np.concatenate([[1.0], np.cumprod(1.0 - q)])
        last = t.iloc[MAX_AGE] if len(t) > MAX_AGE else t.iloc[-1]
        open_years = float(last["Tx"]) / float(last["lx"]) / max(factor, 1e-9)
        expectancy.append(((survivors[:-1] + survivors[1:]) / 2.0).sum() + survivors[-1] * open_years)
    female, male = expectancy[SEXES.index("female")], expectancy[SEXES.index("male")]
    return male_share * male + (1.0 - male_share) * female


def mortality_factor_for(life: pd.DataFrame, period: str, target_e0: float, male_share: float = 0.5) -> float:
    """The factor on the table's q(x) that gives life expectancy ``target_e0`` (bisection)."""
    from scipy.optimize import brentq

    return float(brentq(lambda k: life_expectancy(life, period, k, male_share) - target_e0, 0.2, 3.0, xtol=1e-6))


def total_fertility(asfr: pd.DataFrame, year: int) -> float:
    """Sum of the age-specific fertility rates of ``year`` (children per woman; Destatis 12612-0008)."""
    return float(asfr.loc[asfr["year"] == year, "live_births_per_1000_women"].sum()) / 1000.0
