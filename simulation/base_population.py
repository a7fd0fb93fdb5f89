"""Base-year person counts by area x single age x sex x origin group ("person cells").

Three sources, chosen by the scenario's ``population.source``:

- ``profile_2012``: the complete Stadtteil profile of 31 Dec 2012 (age groups x origin, female
  share per age group). Area and age-group x origin totals are reproduced exactly.
- ``anchored``: the 2012 structure carried to the base year's official totals:
  1. city total = register total on 31 Dec of the base year;
  2. each Stadtteil's anchor = its latest official total on or before that date (2012 profile
     if none); a combined figure (Sachsenhausen Nord + Süd) is split by the 2012 shares;
  3. each anchor grows like the city between its date and the base date;
  4. Stadtteile with an official total on the base date keep it exactly; the others are scaled
     by one common factor so that the areas add up to the city total;
  5. the number of foreigners is raked (two-margin IPF) to the register's city total of
     foreigners on the base date where known, keeping each area's total;
  6. age groups are split into single years of age (see ``age_weights_within_groups``).
- ``register_extract``: a CSV the city can supply (``calibration/data/register_extract.csv`` or
  the path given) with columns ``area, age, sex, migration_background, persons``.

All integerisation is by largest remainder, so results are deterministic and totals exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulation import data
from simulation.errors import InputError
from simulation.vocabulary import MAX_AGE, ORIGINS, SEXES

CELL_COLUMNS = ["area", "age", "sex", "origin", "persons"]


def split_integer(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split integer ``counts[i]`` into parts proportional to ``weights[i, :]`` by largest remainder.

    Rows with zero weight put everything into the first column (only reached when count is 0
    for real data). Returns an int64 array of the shape of ``weights`` whose rows sum to counts.
    """
    counts = np.asarray(counts, dtype=np.int64)
    weights = np.asarray(weights, dtype=float)
    totals = weights.sum(axis=1, keepdims=True)
    share = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    share[totals[:, 0] == 0, 0] = 1.0
    exact = share * counts[:, None]
    base = np.floor(exact).astype(np.int64)
    short = counts - base.sum(axis=1)
    order = np.argsort(-(exact - base), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(weights.shape[1])[None, :].repeat(len(counts), 0), axis=1)
    return base + (ranks < short[:, None])


def _to_single_ages(groups: pd.DataFrame, data_dir: Path) -> pd.DataFrame:
    """Split area x age group x origin counts into sex and single years of age (largest remainder)."""
    weights = data.age_weights_within_groups(data_dir)
    counts = groups["persons"].to_numpy()
    female = groups["female_share"].to_numpy()
    by_sex = split_integer(counts, np.column_stack([female, 1.0 - female]))
    frames = []
    for s, sex in enumerate(SEXES):
        for group, (lo, hi) in data.AGE_GROUPS.items():
            rows = (groups["age_group"] == group).to_numpy()
            w = np.repeat(weights[s, lo : hi + 1][None, :], rows.sum(), axis=0)
            ages = split_integer(by_sex[rows, s], w)
            sub = groups.loc[rows, ["area", "origin"]]
            for k, age in enumerate(range(lo, hi + 1)):
                frames.append(
                    pd.DataFrame(
                        {"area": sub["area"].to_numpy(), "age": age, "sex": sex, "origin": sub["origin"].to_numpy(), "persons": ages[:, k]}
                    )
                )
    cells = pd.concat(frames, ignore_index=True)
    return cells[cells["persons"] > 0].sort_values(["area", "age", "sex", "origin"]).reset_index(drop=True)


def _interpolated_city_total(register: pd.Series, date: str, profile_total: int) -> float:
    """City register total on ``date``, linearly interpolated between known dates (2012 from the profile)."""
    series = register.copy()
    series["2012-12-31"] = profile_total
    series.index = pd.to_datetime(series.index)
    series = series.sort_index()
    t = pd.Timestamp(date)
    if t in series.index:
        return float(series[t])
    x = series.index.asi8.astype(float)
    return float(np.interp(t.value, x, series.to_numpy(dtype=float)))


def anchored_area_totals(data_dir: Path, base_year: int) -> pd.DataFrame:
    """Steps 1-4 of the ``anchored`` method. Columns: area, residents, anchor_date, anchor_value, method."""
    base_date = f"{base_year}-12-31"
    register = data.register_totals(data_dir)
    if base_date not in register.index:
        known = ", ".join(k[:4] for k in register.index if k.endswith("-12-31"))
        raise InputError(
            data.data_path(data_dir, "register"),
            "reference_date",
            f"no city total for {base_date}",
            f"base years with a 31 Dec total: {known}",
        )
    city_total = int(register[base_date])
    groups = data.profile_cells(data_dir, "2012-12-31")
    area_2012 = groups.groupby("area")["persons"].sum()
    profile_total = int(area_2012.sum())
    official = data.stadtteil_totals(data_dir)
    official = official[(official["reference_date"] > "2012-12-31") & (official["reference_date"] <= base_date)]

    anchors = {a: ("2012-12-31", int(v), "profile 2012") for a, v in area_2012.items()}
    for row in official.sort_values("reference_date").itertuples():
        names = row.area.split("+")
        unknown = [n for n in names if n not in anchors]
        if unknown:
            raise InputError(
                data.data_path(data_dir, "stadtteil_partial"), "stadtteil", f"unknown Stadtteil '{unknown[0]}'", "names of the 2012 profile"
            )
        parts = split_integer(np.array([int(row.residents)]), area_2012[names].to_numpy(float)[None, :])[0]
        method = "official" if len(names) == 1 else "official combined, split by 2012 shares"
        for name, part in zip(names, parts):
            anchors[name] = (row.reference_date, int(part), method)

    rows = []
    for area, (date, value, method) in anchors.items():
        fixed = date == base_date
        growth = 1.0 if fixed else city_total / _interpolated_city_total(register, date, profile_total)
        rows.append((area, date, value, value * growth, fixed, method))
    frame = pd.DataFrame(rows, columns=["area", "anchor_date", "anchor_value", "grown", "fixed", "method"])
    fixed = frame["fixed"].to_numpy()
    frame["residents"] = frame["anchor_value"].astype(np.int64)
    free_target = city_total - int(frame.loc[fixed, "residents"].sum())
    frame.loc[~fixed, "residents"] = split_integer(np.array([free_target]), frame.loc[~fixed, "grown"].to_numpy()[None, :])[0]
    frame["method"] = np.where(fixed, frame["method"] + " on base date", frame["method"] + ", grown with city, scaled to city total")
    return frame[["area", "residents", "anchor_date", "anchor_value", "method"]]


def _rake_foreigners(groups: pd.DataFrame, area_totals: pd.Series, foreign_total: float | None, iterations: int = 50) -> pd.DataFrame:
    """Scale 2012 area x group x origin cells to new area totals and a city total of foreigners (IPF)."""
    g = groups.copy()
    values = g["persons"].to_numpy(dtype=float)
    is_foreign = (g["origin"] == "foreign").to_numpy()
    area_index = pd.Index(area_totals.index)
    codes = area_index.get_indexer(g["area"])
    targets = area_totals.to_numpy(dtype=float)
    for _ in range(iterations):
        sums = np.bincount(codes, values, minlength=len(targets))
        values *= np.divide(targets, sums, out=np.zeros_like(targets), where=sums > 0)[codes]
        if foreign_total is None:
            break
        f = values[is_foreign].sum()
        values[is_foreign] *= foreign_total / f
        values[~is_foreign] *= (targets.sum() - foreign_total) / values[~is_foreign].sum()
    # integerise: area totals exact
    order = np.argsort(codes, kind="stable")
    out = np.zeros(len(values), dtype=np.int64)
    for k in range(len(area_index)):
        idx = order[codes[order] == k]
        out[idx] = split_integer(np.array([int(targets[k])]), values[idx][None, :])[0]
    g["persons"] = out
    return g


def person_cells(
    source: str, data_dir: Path, base_year: int, areas: list[str], extract_path: Path | None = None, where: str | None = None
) -> tuple[pd.DataFrame, dict]:
    """Person cells for the chosen source and areas, plus a dict describing the method (for the
    manifest). ``where`` names the scenario file for error messages."""
    if source == "register_extract":
        cells = load_register_extract(extract_path or data.data_path(data_dir, "register_extract"), areas)
        info = {"source": "register_extract", "file": str(extract_path)}
    elif source == "profile_2012":
        if base_year != 2012:
            raise InputError(where, "base_year", f"population.source profile_2012 describes 31 Dec 2012, not {base_year}", "2012")
        cells = _to_single_ages(data.profile_cells(data_dir, "2012-12-31"), data_dir)
        info = {
            "source": "profile_2012",
            "date": "2012-12-31",
            "single_ages": "Germany 31 Dec 2014 (nearest to the 2012 profile) by single age within the profile's age groups",
        }
    elif source == "anchored":
        totals = anchored_area_totals(data_dir, base_year)
        foreigners = data.register_foreigners(data_dir).get(f"{base_year}-12-31")
        groups = _rake_foreigners(
            data.profile_cells(data_dir, "2012-12-31"),
            totals.set_index("area")["residents"],
            None if foreigners is None else float(foreigners),
        )
        cells = _to_single_ages(groups, data_dir)
        info = {
            "source": "anchored",
            "base_date": f"{base_year}-12-31",
            "structure": "Stadtteil profile 2012-12-31",
            "foreigners_total": None if foreigners is None else int(foreigners),
            "area_totals": totals.to_dict(orient="records"),
            "single_ages": "Germany 31 Dec 2014 (nearest to the 2012 profile) by single age within the profile's age groups",
        }
    else:
        raise InputError(None, "population.source", f"unknown source '{source}'", "anchored, profile_2012, register_extract")
    return cells[cells["area"].isin(areas)].reset_index(drop=True), info


def load_register_extract(path: Path, areas: list[str]) -> pd.DataFrame:
    """A register extract: one row per area x age x sex x migration_background with a person count."""
    frame = data.read_table(Path(path), ["area", "age", "sex", "migration_background", "persons"])
    frame = frame.rename(columns={"migration_background": "origin"})
    checks = [
        ("sex", frame["sex"].isin(SEXES), "female, male"),
        ("migration_background", frame["origin"].isin(ORIGINS), ", ".join(ORIGINS)),
        ("area", frame["area"].isin(areas), "Stadtteil names of the area table"),
    ]
    for field, ok, allowed in checks:
        if not ok.all():
            bad = frame.loc[~ok.to_numpy()].iloc[0]
            raise InputError(path, field, f"unknown value in row {int(bad.name) + 2}", allowed)
    ages = pd.to_numeric(frame["age"], errors="coerce")
    persons = pd.to_numeric(frame["persons"], errors="coerce")
    if ages.isna().any() or (ages < 0).any() or (ages > MAX_AGE).any() or (ages % 1 != 0).any():
        raise InputError(path, "age", "not a whole number in range", f"0..{MAX_AGE}")
    if persons.isna().any() or (persons < 0).any() or (persons % 1 != 0).any():
        raise InputError(path, "persons", "not a non-negative whole number")
    frame["age"] = ages.astype(int)
    frame["persons"] = persons.astype(np.int64)
    # the order of rows in the file must not matter: one row per cell, in a fixed order
    return frame.groupby(["area", "age", "sex", "origin"], as_index=False)["persons"].sum()[CELL_COLUMNS]
