"""One long table of the key figures of a run, per area, Sozialrathaus district and city.

Ensembles summarise it across replications and comparisons difference it between scenarios.
Columns: table, year, level, area, indicator, value (the district's name for district rows,
"Frankfurt am Main" for city rows).

The figures are sums of counts: each table's rows are coded once (their keys as integer codes)
and summed with ``np.bincount`` per year and area, district or city, instead of one pandas
groupby per level. Each function's rows come out sorted like the metrics table; sums of counts
are exact, so the values do not depend on the order of summation.
"""

from __future__ import annotations

from itertools import product
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from simulation.records import EVENTS
from simulation.vocabulary import CITY, FOREIGN, NONE, ORIGINS, SEXES

METRIC_COLUMNS = ["table", "year", "level", "area", "indicator", "value"]
LEVELS = ("area", "city", "sozialrathaus")  # in the metrics table's (alphabetical) order
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


class _Key(NamedTuple):
    """A key column of a table: each row's code, an index into the sorted distinct ``labels``."""

    codes: np.ndarray
    labels: np.ndarray


def _key(column: pd.Series) -> _Key:
    """Code a key column (which has no missing values) by its sorted distinct values."""
    codes, labels = pd.factorize(column, sort=True)
    if (codes < 0).any():
        raise ValueError(f"missing values in the key column {column.name!r}")
    return _Key(codes, np.asarray(labels))


def _pair_key(first: _Key, second: _Key, sep: str) -> _Key:
    """Two keys as one whose labels are "first<sep>second" (every combination; unused ones stay unused)."""
    labels = np.array([f"{a}{sep}{b}" for a, b in product(first.labels, second.labels)], dtype=object)
    return _Key(first.codes * len(second.labels) + second.codes, labels)


def _vocabulary_codes(column: pd.Series, vocabulary: Sequence[str]) -> np.ndarray:
    """Each row's position in ``vocabulary``; ``len(vocabulary)`` for any other or a missing value."""
    codes, uniques = pd.factorize(column)
    other = len(vocabulary)
    lookup = np.array([vocabulary.index(u) if u in vocabulary else other for u in uniques] + [other])
    return lookup[codes]  # code -1 (missing) takes the last entry


def _sums(keys: list[np.ndarray], shape: tuple[int, ...], values: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The combinations of ``keys`` that occur (codes per key, in sorted order) and the sum of
    each column of ``values`` (records x columns) over their records."""
    flat = np.ravel_multi_index(keys, shape)
    size = int(np.prod(shape))
    seen = np.flatnonzero(np.bincount(flat, minlength=size))
    sums = np.empty((len(seen), values.shape[1]))
    for j in range(values.shape[1]):
        sums[:, j] = np.bincount(flat, weights=values[:, j], minlength=size)[seen]
    return np.unravel_index(seen, shape), sums


def _units(level: str, area: _Key, srh: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The unit of each record at ``level`` (-1: its area has no district) and the units' sorted names."""
    if level == "area":
        return area.codes, area.labels
    if level == "city":
        return np.zeros_like(area.codes), np.array([CITY], dtype=object)
    district_of_area, districts = pd.factorize(pd.Series(area.labels).map(srh), sort=True)
    return district_of_area[area.codes], np.asarray(districts)


def _level_rows(year: _Key, units: np.ndarray, n_units: int, by: Sequence[_Key], values: np.ndarray) -> tuple[np.ndarray, ...]:
    """One level's long rows (year code, unit, indicator number, value) for every (year, unit, by)
    that has records, and each column of ``values`` summed over them; indicator number =
    by codes and column as one index (by codes first)."""
    keep = units >= 0
    by_shape = tuple(len(k.labels) for k in by)
    keys = [codes[keep] for codes in (year.codes, units, *(k.codes for k in by))]
    (y, u, *b), sums = _sums(keys, (len(year.labels), n_units, *by_shape), values[keep])
    n_columns = values.shape[1]
    first_indicator = np.ravel_multi_index(b, by_shape) * n_columns if by else np.zeros_like(y)
    indicator = first_indicator[:, None] + np.arange(n_columns)
    return np.repeat(y, n_columns), np.repeat(u, n_columns), indicator.ravel(), sums.ravel()


def _long(
    table: str,
    year: _Key,
    area: _Key,
    values: np.ndarray,
    names: Sequence[str],
    srh: pd.Series,
    by: Sequence[_Key] = (),
    levels: Sequence[str] = LEVELS,
) -> pd.DataFrame:
    """Metric rows of ``table``: the columns of ``values`` (one record per row, one column per
    name) summed per year, unit of each level and ``by`` keys, in the metrics table's order.

    The indicator is the column's name, prefixed by the ``by`` labels ("kita_u3.unmet").
    """
    indicators = np.array([".".join(map(str, (*labels, name))) for *labels, name in product(*(k.labels for k in by), names)], dtype=object)
    parts, unit_names, offset = [], [], 0
    for number, level in enumerate(levels):
        units, labels = _units(level, area, srh)
        y, u, indicator, value = _level_rows(year, units, len(labels), by, values)
        parts.append((y, np.full(len(y), number), u + offset, indicator, value))
        unit_names.append(labels)
        offset += len(labels)
    y, level, unit, indicator, value = (np.concatenate(column) for column in zip(*parts))
    order = np.lexsort((np.argsort(np.argsort(indicators))[indicator], unit, level, y))  # units are sorted within a level
    return pd.DataFrame(
        {
            "table": table,
            "year": year.labels[y[order]],
            "level": pd.array(list(levels), dtype="str").take(level[order]),
            "area": pd.array(np.concatenate(unit_names), dtype="str").take(unit[order]),
            "indicator": pd.array(indicators, dtype="str").take(indicator[order]),
            "value": value[order],
        }
    )


def _no_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The metric rows of an empty table: none, with the table's year and area types."""
    types = {"year": frame["year"].dtype, "area": frame["area"].dtype, "value": float}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "str")) for c in METRIC_COLUMNS})


def _levels(frame: pd.DataFrame, srh: pd.Series, table: str, value_columns: list[str], by: list[str] | None = None) -> pd.DataFrame:
    """Sum value columns per (year, area [, by]) and add district and city rows; long format."""
    if frame.empty:
        return _no_rows(frame)
    values = frame[value_columns].to_numpy(float)
    return _long(table, _key(frame["year"]), _key(frame["area"]), values, value_columns, srh, by=[_key(frame[c]) for c in by or []])


def _population_columns(cube: np.ndarray) -> dict[str, np.ndarray]:
    """The population indicators from persons per (cell, age band, sex, origin); the last band,
    sex and origin hold everybody outside AGE_BANDS, SEXES and ORIGINS."""
    bands = cube.sum(axis=3)  # (cell, band, sex)
    columns = {"persons": bands.sum(axis=(1, 2))}
    columns |= {f"persons_{name}": bands[:, b].sum(axis=1) for b, name in enumerate(AGE_BANDS)}
    origins = cube.sum(axis=(1, 2))  # (cell, origin)
    columns["persons_migration_background"] = origins.sum(axis=1) - origins[:, NONE]
    columns["persons_foreign"] = origins[:, FOREIGN]
    columns |= {f"persons_{sex}_{name}": bands[:, b, s] for s, sex in enumerate(SEXES) for b, name in enumerate(AGE_BANDS)}
    return columns


def _by_cell(year: _Key, area: _Key, codes: list[np.ndarray], shape: tuple[int, ...], weights: np.ndarray) -> tuple[_Key, _Key, np.ndarray]:
    """Sums of ``weights`` per (year, area) that has records, by the further ``codes`` (of ``shape``):
    the cells' year and area keys and an array (cell, *shape)."""
    n_areas = len(area.labels)
    cell = year.codes * n_areas + area.codes
    full = (len(year.labels) * n_areas, *shape)
    sums = np.bincount(np.ravel_multi_index([cell, *codes], full), weights=weights, minlength=int(np.prod(full)))
    present = np.flatnonzero(np.bincount(cell, minlength=full[0]))
    y, a = np.divmod(present, n_areas)
    return _Key(y, year.labels), _Key(a, area.labels), sums.reshape(full)[present]


def population_metrics(pop: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Residents, by age band, by sex and age band, with migration background, foreign."""
    if pop.empty:
        return _no_rows(pop)
    band = np.searchsorted([hi for _, hi in AGE_BANDS.values()], pop["age"].to_numpy())  # len(AGE_BANDS): beyond the last
    sex = _vocabulary_codes(pop["sex"], SEXES)
    origin = _vocabulary_codes(pop["migration_background"], ORIGINS)
    shape = (len(AGE_BANDS) + 1, len(SEXES) + 1, len(ORIGINS) + 1)
    year, area, cube = _by_cell(_key(pop["year"]), _key(pop["area"]), [band, sex, origin], shape, pop["persons"].to_numpy(float))
    columns = _population_columns(cube)
    return _long("population", year, area, np.column_stack(list(columns.values())), list(columns), srh)


def events_metrics(events: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Births, deaths, immigrants, emigrants, moves in and out."""
    return _levels(events, srh, "events", list(EVENTS))


def households_metrics(hh: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Households in all and by type."""
    if hh.empty:
        return _no_rows(hh)
    kind = _key(hh["household_type"])
    year, area, by_type = _by_cell(_key(hh["year"]), _key(hh["area"]), [kind.codes], kind.labels.shape, hh["households"].to_numpy(float))
    names = ["households", *(f"households_{t}" for t in kind.labels)]
    return _long("households", year, area, np.column_stack([by_type.sum(axis=1), by_type]), names, srh)


def housing_metrics(housing: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Dwellings, vacant dwellings, displaced households."""
    return _levels(housing, srh, "housing", ["dwellings", "vacant", "displaced_households"])


def services_metrics(services: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Eligible, demand, capacity (in the service's unit; NaN: no limit), served, unmet, waiting per
    service ("kita_u3.unmet")."""
    return _levels(services, srh, "services", ["eligible", "demand", "capacity", "served", "unmet", "waiting"], by=["service"])


def services_unmet_metrics(unmet: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """Who bears unmet need, for districts and the city (areas are too small for groups):
    "kita_u3.income_class=low.unmet_by_group"."""
    if unmet.empty:
        return _no_rows(unmet)
    group = _pair_key(_key(unmet["dimension"]), _key(unmet["group"]), "=")
    values = unmet[["unmet"]].to_numpy(float)
    year, area = _key(unmet["year"]), _key(unmet["area"])
    return _long("services_unmet", year, area, values, ["unmet_by_group"], srh, by=[_key(unmet["service"]), group], levels=LEVELS[1:])


def cohesion_metrics(cohesion: pd.DataFrame, srh: pd.Series) -> pd.DataFrame:
    """The cohesion indicators as they are (already per area, district and city)."""
    return cohesion.assign(table="cohesion")[METRIC_COLUMNS]
