"""One long table of the key figures of a run, per area, Sozialrathaus district and city.

Ensembles summarise it across replications and comparisons difference it between scenarios.
Columns: table, year, level, area, indicator, value (the district's name for district rows,
"Frankfurt am Main" for city rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulation.records import EVENTS
from simulation.vocabulary import CITY, SEXES

METRIC_COLUMNS = ["table", "year", "level", "area", "indicator", "value"]
AGE_BANDS = {
    "0_2": (0, 2),
    "3_5": (3, 5),
    "6_9": (6, 9),
    "10_17": (10, 17),
    "18_29": (18, 29),
    "30_64": (30, 64),
    "65_74": (65, 74),
    "75plus": (75, 200),
}


def _levels(frame: pd.DataFrame, srh: pd.Series, table: str, value_columns: list[str], by: list[str] | None = None) -> pd.DataFrame:
    """Sum value columns per (year, area [, by]) and add district and city rows; long format."""
    by = by or []
    f = frame.assign(sozialrathaus=frame["area"].map(srh))
    parts = []
    for level, key in (("area", "area"), ("sozialrathaus", "sozialrathaus"), ("city", None)):
        groups = ["year"] + ([key] if key else []) + by
        g = f.groupby(groups, observed=True)[value_columns].sum().reset_index()
        g["level"], g["area"] = level, (g[key] if key else CITY)
        parts.append(g)
    wide = pd.concat(parts, ignore_index=True)
    long = wide.melt(id_vars=["year", "level", "area"] + by, value_vars=value_columns, var_name="indicator", value_name="value")
    for column in reversed(by):  # e.g. "kita_u3.unmet", "kita_u3.income_class=low.unmet_by_group"
        long["indicator"] = long[column].astype(str) + "." + long["indicator"]
    long["table"] = table
    return long[METRIC_COLUMNS]


def population_metrics(pop: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Residents, by age band, by sex and age band, with migration background, foreign."""
    band = pd.cut(pop["age"], [-1] + [hi for _, hi in AGE_BANDS.values()], labels=list(AGE_BANDS)).astype(str)
    wide = pop.assign(
        **{f"persons_{name}": np.where(band == name, pop["persons"], 0) for name in AGE_BANDS},
        **{
            f"persons_{sex}_{name}": np.where((band == name) & (pop["sex"] == sex), pop["persons"], 0)
            for sex in SEXES
            for name in AGE_BANDS
        },
        persons_migration_background=np.where(pop["migration_background"] != "none", pop["persons"], 0),
        persons_foreign=np.where(pop["migration_background"] == "foreign", pop["persons"], 0),
    )
    columns = [
        "persons",
        *[f"persons_{n}" for n in AGE_BANDS],
        "persons_migration_background",
        "persons_foreign",
        *[f"persons_{sex}_{n}" for sex in SEXES for n in AGE_BANDS],
    ]
    return _levels(wide, srh, "population", columns)


def events_metrics(events: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    return _levels(events, srh, "events", list(EVENTS))


def households_metrics(hh: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Households in all and by type."""
    wide = (
        hh.pivot_table(index=["year", "area"], columns="household_type", values="households", aggfunc="sum")
        .add_prefix("households_")
        .reset_index()
    )
    wide["households"] = wide.filter(like="households_").sum(axis=1)
    return _levels(wide, srh, "households", [c for c in wide.columns if c.startswith("households")])


def housing_metrics(housing: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    return _levels(housing, srh, "housing", ["dwellings", "vacant", "displaced_households"])


def services_metrics(services: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    return _levels(
        services.drop(columns=["sozialrathaus"]), srh, "services", ["eligible", "demand", "served", "unmet", "waiting"], by=["service"]
    )


def services_unmet_metrics(unmet: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Who bears unmet need, for districts and the city (areas are too small for groups)."""
    unmet = unmet.assign(group=unmet["dimension"] + "=" + unmet["group"]).drop(columns=["sozialrathaus", "dimension"])
    long = _levels(unmet.rename(columns={"unmet": "unmet_by_group"}), srh, "services_unmet", ["unmet_by_group"], by=["service", "group"])
    return long[long["level"] != "area"]


def cohesion_metrics(cohesion: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    return cohesion.assign(table="cohesion")[METRIC_COLUMNS]
