"""The output tables of a run, declared once: name, columns, how each is built from the yearly
records, and whether ensembles summarise it (and how).

The declaration drives the run outputs (``outputs.write_run``), the ensemble metrics
(``summary_metrics``) and the contract test. To add an output table: a ``*_table`` method on
``YearRecorder`` (records.py), a metrics function in metrics.py if ensembles should summarise
it, and one ``OutputTable`` line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from simulation import metrics
from simulation.records import CITY_EVENTS, YearRecorder


@dataclass(frozen=True)
class OutputTable:
    name: str  # key in RunResult.tables and file name
    columns: tuple[str, ...]  # written in this order
    build: Callable[[YearRecorder], pd.DataFrame]
    summarise: Callable[[pd.DataFrame, pd.Series], pd.DataFrame] | None  # long metric rows; None: ensembles skip it
    description: str


TABLES: tuple[OutputTable, ...] = (
    OutputTable(
        "population",
        ("year", "area", "sozialrathaus", "age", "sex", "migration_background", "persons"),
        YearRecorder.population_table,
        metrics.population_metrics,
        "residents on 31 Dec by area, single age, sex, migration background",
    ),
    OutputTable(
        "events",
        ("year", "area", "births", "deaths", "immigrants", "emigrants", "moves_in", "moves_out"),
        YearRecorder.events_table,
        metrics.events_metrics,
        "what happened in each area during the year (persons)",
    ),
    OutputTable(
        "households",
        ("year", "area", "household_type", "households", "persons"),
        YearRecorder.households_table,
        metrics.households_metrics,
        "households and their members by type",
    ),
    OutputTable(
        "housing",
        ("year", "area", "dwellings", "households", "vacant", "rent_index", "displaced_households"),
        YearRecorder.housing_table,
        metrics.housing_metrics,
        "dwellings, vacancies, rent index, displacement",
    ),
    OutputTable(
        "services",
        ("year", "area", "sozialrathaus", "service", "eligible", "demand", "capacity", "served", "unmet", "waiting", "coverage"),
        YearRecorder.services_table,
        metrics.services_metrics,
        "service demand, places and use by the residents' home area",
    ),
    OutputTable(
        "services_unmet",
        ("year", "area", "sozialrathaus", "service", "dimension", "group", "unmet"),
        YearRecorder.unmet_groups_table,
        metrics.services_unmet_metrics,
        "who bears unmet need",
    ),
    OutputTable(
        "cohesion",
        ("year", "level", "area", "sozialrathaus", "indicator", "value"),
        YearRecorder.cohesion_table,
        metrics.cohesion_metrics,
        "cohesion indicators per area, district and city",
    ),
    OutputTable(
        "areas",
        ("year", "area", "sozialrathaus", "residents", "small_area"),
        YearRecorder.areas_table,
        None,
        "residents and the small-area flag",
    ),
    OutputTable(
        "migration",
        ("year", "age_group", "immigrants", "emigrants", "net"),
        YearRecorder.migration_table,
        None,
        "moves across the city boundary by age group (persons, whole run)",
    ),
    OutputTable(
        "city_events",
        ("year", *CITY_EVENTS),
        YearRecorder.city_table,
        None,
        "city-wide counts of household events and newcomers without a dwelling",
    ),
)


def build_tables(recorder: YearRecorder) -> dict[str, pd.DataFrame]:
    """Every declared table of a run, with its declared columns in order."""
    return {t.name: t.build(recorder)[list(t.columns)] for t in TABLES}


def summary_metrics(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The long metrics table (see metrics.py) of one run: what ensembles summarise and compare."""
    srh = tables["areas"].drop_duplicates("area").set_index("area")["sozialrathaus"]
    parts = [t.summarise(tables[t.name], srh) for t in TABLES if t.summarise is not None]
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(float)
    return out.sort_values(metrics.METRIC_COLUMNS[:-1], kind="stable").reset_index(drop=True)
