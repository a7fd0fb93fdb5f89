"""Base-year person counts by area x single age x sex x origin group ("person cells").

Three sources, chosen by the scenario's ``population.source``:

- ``profile_2012``: the complete Stadtteil profile of 31 Dec 2012 (6 age groups x origin per
  Stadtteil, female share per age group). Area x age group x origin totals are reproduced exactly.
- ``anchored``: the 2012 structure carried to the base date:
  1. city total = register total on 31 Dec of the base year;
  2. each Stadtteil's anchor = its latest official total on or before that date (2012 profile
     if none); a combined figure (Sachsenhausen Nord + Süd) is split by the 2012 shares;
  3. each anchor grows like the city between its date and the base date;
  4. Stadtteile with an official total on the base date keep it exactly; the others are scaled
     by one common factor so that the areas add up to the city total;
  5. the 2012 area x age x origin structure (the profile's groups cut into the official age
     groups, see "Single ages" a-b) is raked (IPF) to three margins: each area's total (step 4),
     the city's count in each official age group of the base date, and the register's city
     total of foreigners. The age margin exists for 31 Dec 2023 (Frankfurt, 17 groups, census-2022
     basis, 749,596 persons; ``frankfurt_population_by_age_group_2023.csv``). Two population
     concepts meet here: that table gives the SHARES by age group, the register (770,166, the
     concept of the Stadtteil totals) the LEVEL. The 20,570 persons more in the register are
     mostly register over-coverage that the 2022 census found (people who left without
     deregistering). ASSUMPTION: they are spread over the age groups like the census-based
     population, because no table of the difference by age exists; if over-coverage is
     concentrated among mobile young adults and foreigners, as its cause suggests, the base
     holds slightly too few of them. Per Stadtteil no age data exist after 2012: every area
     keeps its 2012 relative age profile as far as the city margins allow (IPF changes the
     2012 cells by one factor per area, per age group and for foreigners). A base date without
     an official age table keeps the 2012 age structure (raked to areas and foreigners only).
- ``register_extract``: a CSV the city can supply (``calibration/data/register_extract.csv`` or
  the path given) with columns ``area, age, sex, migration_background, persons``.

Single ages (both area-based sources), from Frankfurt tables, not a national age structure:

a. "Atoms": the profile's groups (0-5, 6-13, 14-17, 18-29, 30-64, 65+) cut at the borders of
   the official 17 groups (under 3, 3-5, 6-9, 10-14, 15-17, 18-19, 20-24, 25-29, five-year
   groups to 60-64, 65-74, 75+), e.g. 30-64 into 30-34 ... 60-64 and 6-13 into 6-9, 10-13.
b. Each area x profile group x origin count is split into its atoms in proportion to a
   Frankfurt table: foreigners like Frankfurt's foreigners of 31 Dec 2013 (17 groups, the
   nearest date to 2012); Germans with and without migration background like Frankfurt's whole
   population of 31 Dec 2023. ASSUMPTION (also in the scenario files): Frankfurt's age pattern
   inside these groups was the same in 2012 as in 2023, because no Frankfurt table of Germans
   by finer age near 2012 is in the data; a city whose age profile is shaped by migration
   (young adults arriving, families leaving) keeps its period pattern better than the national
   one, which gave Frankfurt Germany's baby-boom bulge at 50-64 (check: mean age 2012 41.2 at
   exact age against the profile's 41.3). Parts of a table group (10-13 and 14 of 10-14) follow
   the table's single-age curve (e).
c. (``anchored``) raking to the base date, step 5 above.
d. Sex: the number of women of each area x profile group is the 2012 profile's female share
   (the profile has it for all origins together). It is spread over the group's atoms and
   origins by IPF with a seed sex ratio by age: for Germans the stationary population of the
   German life table nearest the base year (Lx by sex times the sex ratio at birth), so that
   women outnumber men among the oldest; for foreigners Frankfurt's foreigners by sex of
   31 Dec 2013 (fewer women among old foreigners).
e. Within atoms, the demographers' mean-preserving split: per area x origin x sex the
   cumulative count at the atom borders is interpolated by a monotone cubic (PCHIP,
   Fritsch-Carlson) and a single age gets the curve's increase over its year. Every atom keeps
   its count exactly, no age is negative and the curve has no jumps at group borders. The open
   atom 75+ is first cut into five-year parts (and the open age 100+) by a rule, Lotka's stable
   population: the life table's person-years (Lx, T100 for 100+) of the sex times exp(-r (age
   - 75)), with r chosen so that this shape has the table's ratio of persons 75+ to 65-74
   (2023 table for Germans, 2013 table for foreigners); r = 0 would be the stationary
   population, which ignores that the old cohorts are not equally large.

All integerisation is by largest remainder (with a controlled rounding that keeps the area,
age-group and foreigner totals of ``anchored`` exact), so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from simulation import data, rates
from simulation.errors import InputError
from simulation.vocabulary import FOREIGN, MAX_AGE, ORIGINS, SEXES

CELL_COLUMNS = ["area", "age", "sex", "origin", "persons"]
PROFILE_DATE = "2012-12-31"
# first age of each of the profile's groups (data.AGE_GROUPS), in order
PROFILE_STARTS = np.array([lo for lo, _ in data.AGE_GROUPS.values()])
OPEN_STEP = 5  # the open age group's shape is set for parts of this many years (single_age_curve)


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


def single_age_curve(counts: np.ndarray, starts: np.ndarray, open_weights: np.ndarray | None = None) -> np.ndarray:
    """Mean-preserving split of grouped counts into single ages 0..MAX_AGE (real numbers).

    ``counts`` (rows, groups) are persons in groups beginning at ``starts`` (ascending, the
    first 0, the last group open to MAX_AGE). The cumulative count at the group borders is
    interpolated by a monotone cubic (PCHIP, Fritsch-Carlson) and each single age gets the
    curve's increase over its year: every group keeps its count exactly, no value is negative,
    and the curve runs on smoothly across the borders. ``open_weights`` (rows or 1, ages of the
    open group) give the open group's shape; without them it is interpolated like the others.
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    starts = np.asarray(starts, dtype=int)
    knots = np.append(starts, MAX_AGE + 1)
    cumulative = np.concatenate([np.zeros((len(counts), 1)), np.cumsum(counts, axis=1)], axis=1)
    if open_weights is not None:
        # the open group's five-year parts (and the open age itself) follow the weights exactly;
        # single ages inside them are interpolated like the others, so the curve runs on at its start
        w = np.broadcast_to(np.atleast_2d(np.asarray(open_weights, dtype=float)), (len(counts), MAX_AGE + 1 - starts[-1]))
        inner = np.append(np.arange(starts[-1] + OPEN_STEP, MAX_AGE, OPEN_STEP), MAX_AGE)
        inner = inner[inner > starts[-1]]
        share = np.cumsum(w, axis=1)[:, inner - starts[-1] - 1] / w.sum(axis=1, keepdims=True)
        knots = np.concatenate([starts, inner, [MAX_AGE + 1]])
        cumulative = np.concatenate([cumulative[:, :-1], cumulative[:, -2:-1] + counts[:, -1:] * share, cumulative[:, -1:]], axis=1)
    curve = PchipInterpolator(knots, cumulative, axis=1)(np.arange(MAX_AGE + 2))
    return np.clip(np.diff(curve, axis=1), 0.0, None)


def _stationary_population(data_dir: Path, base_year: int) -> np.ndarray:
    """The life table's stationary population by sex and age 0..MAX_AGE: person-years Lx (T100 at
    the open age 100) times the share of the sex among births (life table period and births of
    the years nearest the base year; Destatis 12621-0001, 12612-0001)."""
    life = data.life_tables(data_dir)
    period = rates.nearest_life_table_period(life, base_year)
    male = rates.male_birth_share(data.births_by_sex(data_dir), base_year)
    out = np.zeros((len(SEXES), MAX_AGE + 1))
    for s, sex in enumerate(SEXES):
        t = life[(life["period"] == period) & (life["sex"] == sex)].sort_values("age")
        out[s, :MAX_AGE] = t["Lx"].to_numpy(float)[:MAX_AGE]
        out[s, MAX_AGE] = float(t.loc[t["age"] == MAX_AGE, "Tx"].iloc[0])
        out[s] *= male if sex == "male" else 1.0 - male
    return out


def stable_growth(population: np.ndarray, young_start: int, open_start: int, ratio: float) -> float:
    """Growth rate r of Lotka's stable population ``exp(-r a) * population(a)`` in which the persons
    aged ``open_start`` and older number ``ratio`` per person aged ``young_start`` to ``open_start - 1``."""
    ages = np.arange(MAX_AGE + 1)
    lo, hi = -0.5, 0.5
    for _ in range(60):  # the ratio falls as r rises
        r = (lo + hi) / 2
        w = np.exp(-r * (ages - open_start)) * population
        if w[open_start:].sum() / w[young_start:open_start].sum() > ratio:
            lo = r
        else:
            hi = r
    return (lo + hi) / 2


def _table_starts(table: pd.DataFrame) -> np.ndarray:
    return np.sort(table["lo"].unique())


def _table_curve(table: pd.DataFrame, sex: str, population: np.ndarray) -> tuple[np.ndarray, float]:
    """Single-age curve (MAX_AGE + 1,) of one sex ('all', 'female', 'male') of an age-group table,
    its open group shaped as a stable population of ``population`` (by age); and that growth rate."""
    rows = table[table["sex"] == sex].sort_values("lo")
    counts, starts = rows["persons"].to_numpy(float), rows["lo"].to_numpy()
    r = stable_growth(population, starts[-2], starts[-1], counts[-1] / counts[-2])
    shape = np.exp(-r * (np.arange(starts[-1], MAX_AGE + 1) - starts[-1])) * population[starts[-1] :]
    return single_age_curve(counts[None, :], starts, shape)[0], r


class _Atoms:
    """The profile's age groups cut at the borders of an official age-group table."""

    def __init__(self, official_starts: np.ndarray):
        self.starts = np.union1d(PROFILE_STARTS, official_starts)
        self.ends = np.append(self.starts[1:] - 1, MAX_AGE)
        self.group = np.searchsorted(PROFILE_STARTS, self.starts, side="right") - 1  # profile group of each atom
        self.official = np.searchsorted(official_starts, self.starts, side="right") - 1  # official group of each atom

    def __len__(self) -> int:
        return len(self.starts)

    def sums(self, by_age: np.ndarray) -> np.ndarray:
        """Sums over each atom's ages of a (..., MAX_AGE + 1) array."""
        return np.add.reduceat(by_age, self.starts, axis=-1)


def _profile_arrays(groups: pd.DataFrame, areas: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Profile cells as arrays: persons (area, profile group, origin) and female share (area, group)."""
    names = list(data.AGE_GROUPS)
    a = pd.Index(areas).get_indexer(groups["area"])
    g = pd.Index(names).get_indexer(groups["age_group"])
    o = pd.Index(ORIGINS).get_indexer(groups["origin"])
    persons = np.zeros((len(areas), len(names), len(ORIGINS)), dtype=np.int64)
    persons[a, g, o] = groups["persons"].to_numpy(np.int64)
    female = np.zeros((len(areas), len(names)))
    female[a, g] = groups["female_share"].to_numpy(float)
    return persons, female


def _split_groups_into_atoms(persons: np.ndarray, atoms: _Atoms, weights: np.ndarray) -> np.ndarray:
    """(area, profile group, origin) -> (area, atom, origin), each group split by ``weights``
    (origin, atom) with largest remainder, so every group total stays exact."""
    n_area, _, n_origin = persons.shape
    out = np.zeros((n_area, len(atoms), n_origin), dtype=np.int64)
    for g in range(persons.shape[1]):
        cols = np.flatnonzero(atoms.group == g)
        w = np.broadcast_to(weights[:, cols][None], (n_area, n_origin, len(cols))).reshape(-1, len(cols))
        out[:, cols, :] = split_integer(persons[:, g, :].reshape(-1), w).reshape(n_area, n_origin, len(cols)).transpose(0, 2, 1)
    return out


def _rake(
    seed: np.ndarray,
    area_totals: np.ndarray,
    atom_official: np.ndarray,
    age_totals: np.ndarray | None,
    foreign_total: float | None,
    iterations: int = 500,
) -> np.ndarray:
    """IPF of (area, atom, origin) cells to area totals, official age-group totals (atoms summed
    by ``atom_official``) and the city total of foreigners; margins left out are None."""
    x = seed.astype(float)
    for _ in range(iterations):
        x *= np.divide(area_totals, x.sum(axis=(1, 2)), out=np.zeros(len(area_totals)), where=x.sum(axis=(1, 2)) > 0)[:, None, None]
        if age_totals is not None:
            by_group = np.bincount(atom_official, x.sum(axis=(0, 2)), minlength=len(age_totals))
            x *= np.divide(age_totals, by_group, out=np.zeros(len(age_totals)), where=by_group > 0)[atom_official][None, :, None]
        if foreign_total is not None:
            foreign = x[:, :, FOREIGN].sum()
            x[:, :, FOREIGN] *= foreign_total / foreign
            others = np.arange(x.shape[2]) != FOREIGN
            x[:, :, others] *= (area_totals.sum() - foreign_total) / x[:, :, others].sum()
        if age_totals is None and foreign_total is None:
            break
        gap = np.abs(x.sum(axis=(1, 2)) - area_totals).max()
        if age_totals is not None:
            gap = max(gap, np.abs(np.bincount(atom_official, x.sum(axis=(0, 2)), minlength=len(age_totals)) - age_totals).max())
        if gap < 1e-6:
            break
    return x


def _controlled_rounding(n: np.ndarray, real: np.ndarray, col_margin: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Move single persons between columns of the same row (so row totals stay) until the
    column-group totals (columns grouped by ``col_margin``) equal ``targets``. Each move takes the
    person from the cell rounded up most and gives it to the cell rounded down most (least
    added squared rounding error); cells whose real value is 0 get nobody."""
    n = n.copy()
    dev = n - real
    rows = np.arange(len(n))
    for _ in range(int(np.abs(targets).sum()) + 1):
        excess = np.bincount(col_margin, n.sum(axis=0), minlength=len(targets)) - targets
        if not excess.any():
            return n
        over, under = np.flatnonzero(col_margin == np.argmax(excess)), np.flatnonzero(col_margin == np.argmin(excess))
        take = np.where(n[:, over] >= 1, 1.0 - 2.0 * dev[:, over], np.inf)
        give = np.where(real[:, under] > 0, 1.0 + 2.0 * dev[:, under], np.inf)
        i_take, i_give = take.argmin(axis=1), give.argmin(axis=1)
        cost = take[rows, i_take] + give[rows, i_give]
        r = int(np.argmin(cost))
        if not np.isfinite(cost[r]):
            break
        c_take, c_give = over[i_take[r]], under[i_give[r]]
        n[r, c_take] -= 1
        n[r, c_give] += 1
        dev[r, c_take] -= 1
        dev[r, c_give] += 1
    raise RuntimeError("controlled rounding found no admissible move")  # not reached for consistent margins


def _integerise(x: np.ndarray, area_totals: np.ndarray, atom_official: np.ndarray, age_totals, foreign_total) -> np.ndarray:
    """Integer (area, atom, origin) cells from the raked ones: area totals, age-group totals and
    the number of foreigners exact."""
    n_area, n_atom, n_origin = x.shape
    n = split_integer(area_totals, x.reshape(n_area, -1))
    if age_totals is not None:
        n = _controlled_rounding(n, x.reshape(n_area, -1), np.repeat(atom_official, n_origin), age_totals)
    n = n.reshape(n_area * n_atom, n_origin)
    if foreign_total is not None:
        is_foreign = (np.arange(n_origin) == FOREIGN).astype(int)
        n = _controlled_rounding(n, x.reshape(-1, n_origin), is_foreign, np.array([area_totals.sum() - foreign_total, foreign_total]))
    return n.reshape(n_area, n_atom, n_origin)


def _round_capped(real: np.ndarray, totals: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Integers near ``real`` (rows sum to ``totals``), never above ``cap``: floors, then the
    largest remainders among cells with room."""
    base = np.minimum(np.floor(real), cap).astype(np.int64)
    short = totals - base.sum(axis=1)
    remainder = np.where(base < cap, real - base, -1.0)
    order = np.argsort(-remainder, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(real.shape[1])[None, :].repeat(len(real), 0), axis=1)
    return base + (ranks < short[:, None])


def _split_sexes(cells: np.ndarray, female_share: np.ndarray, atoms: _Atoms, odds: np.ndarray) -> np.ndarray:
    """(area, atom, origin) -> (area, atom, origin, sex). Per area x profile group the number of
    women is the profile's female share (largest remainder); it is spread over the group's atoms
    and origins by IPF with the seed odds women : men (origin, atom): women in a cell =
    persons x k odds / (1 + k odds) with one factor k per area and group (found by bisection)."""
    n_area, n_atom, n_origin = cells.shape
    out = np.zeros((n_area, n_atom, n_origin, len(SEXES)), dtype=np.int64)
    for g in range(female_share.shape[1]):
        cols = np.flatnonzero(atoms.group == g)
        c = cells[:, cols, :].reshape(n_area, -1)  # rows areas, columns (atom, origin)
        f = female_share[:, g]
        women = split_integer(c.sum(axis=1), np.column_stack([f, 1.0 - f]))[:, 0]
        o = odds[:, cols].T.reshape(1, -1)
        lo, hi = np.full(n_area, -50.0), np.full(n_area, 50.0)
        for _ in range(80):  # log k, one per area
            mid = (lo + hi) / 2
            too_many = (c / (1.0 + 1.0 / (np.exp(mid)[:, None] * o))).sum(axis=1) > women
            hi, lo = np.where(too_many, mid, hi), np.where(too_many, lo, mid)
        real = c / (1.0 + 1.0 / (np.exp((lo + hi) / 2)[:, None] * o))
        w = _round_capped(real, women, c).reshape(n_area, len(cols), n_origin)
        out[:, cols] = np.stack([w, cells[:, cols, :] - w], axis=-1)
    return out


def _to_single_ages(cells: np.ndarray, atoms: _Atoms, open_shape: np.ndarray) -> np.ndarray:
    """(area, atom, origin, sex) -> (area, origin, sex, age): per area x origin x sex the
    mean-preserving curve through the atoms (the open atom shaped by ``open_shape`` (origin,
    sex, ages of the open atom)), then each atom's count split over its ages by largest remainder."""
    n_area, n_atom, n_origin, n_sex = cells.shape
    by_row = cells.transpose(0, 2, 3, 1).reshape(-1, n_atom)  # rows (area, origin, sex)
    shape = np.broadcast_to(open_shape[None], (n_area, *open_shape.shape)).reshape(len(by_row), -1)
    curve = single_age_curve(by_row, atoms.starts, shape)
    out = np.zeros_like(curve, dtype=np.int64)
    for j in range(n_atom):
        ages = slice(atoms.starts[j], atoms.ends[j] + 1)
        out[:, ages] = split_integer(by_row[:, j], curve[:, ages])
    return out.reshape(n_area, n_origin, n_sex, MAX_AGE + 1)


def _cells_frame(persons: np.ndarray, areas: list[str]) -> pd.DataFrame:
    """(area, origin, sex, age) counts -> cells sorted by area, age, sex, origin (names)."""
    a, o, s, age = np.nonzero(persons)
    frame = pd.DataFrame(
        {
            "area": np.array(areas, dtype=object)[a],
            "age": age.astype(np.int64),
            "sex": np.array(SEXES, dtype=object)[s],
            "origin": np.array(ORIGINS, dtype=object)[o],
            "persons": persons[a, o, s, age],
        }
    )
    # the same order as sorting the names (keys are unique, so the order is fully determined)
    rank = {name: k for k, name in enumerate(sorted(areas))}
    order = np.lexsort((np.argsort(np.argsort(ORIGINS))[o], s, age, np.array([rank[n] for n in areas])[a]))
    return frame.iloc[order].reset_index(drop=True)[CELL_COLUMNS]


@dataclass
class _Structure:
    areas: list[str]
    cells: np.ndarray  # persons (area, atom, origin)
    female: np.ndarray  # female share (area, profile group), 2012 profile
    atoms: _Atoms
    odds: np.ndarray  # seed odds women : men (origin, atom)
    open_shape: np.ndarray  # shape of the open atom (origin, sex, ages)
    growth: dict[str, float]  # stable-population growth rate of the open atom, per table
    profile: pd.DataFrame  # the 2012 profile cells as read


def _structure_2012(data_dir: Path, base_year: int) -> _Structure:
    """The 2012 profile cut into atoms (steps a, b, d, e of the module docstring)."""
    areas = data.load_areas(data_dir).names
    profile = data.profile_cells(data_dir, PROFILE_DATE)
    persons, female = _profile_arrays(profile, areas)
    official, foreign = data.official_age_groups(data_dir), data.foreign_age_groups(data_dir)
    atoms = _Atoms(_table_starts(official))
    stationary = _stationary_population(data_dir, base_year)
    both = stationary.sum(axis=0)
    german, r_german = _table_curve(official[official["reference_date"] == official["reference_date"].max()], "all", both)
    foreign_all, r_foreign = _table_curve(foreign, "all", both)
    weights = np.empty((len(ORIGINS), len(atoms)))
    weights[:] = atoms.sums(german)  # Germans: Frankfurt 31 Dec 2023
    weights[FOREIGN] = atoms.sums(foreign_all)  # foreigners: Frankfurt 31 Dec 2013
    odds = np.empty((len(ORIGINS), len(atoms)))
    odds[:] = atoms.sums(stationary[0]) / atoms.sums(stationary[1])  # women : men of the stationary population
    odds[FOREIGN] = atoms.sums(_table_curve(foreign, "female", stationary[0])[0]) / atoms.sums(
        _table_curve(foreign, "male", stationary[1])[0]
    )
    ages = np.arange(atoms.starts[-1], MAX_AGE + 1)
    growth = np.where(np.arange(len(ORIGINS)) == FOREIGN, r_foreign, r_german)
    open_shape = np.exp(-growth[:, None, None] * (ages - ages[0])) * stationary[None, :, ages[0] :]
    cells = _split_groups_into_atoms(persons, atoms, weights)
    return _Structure(areas, cells, female, atoms, odds, open_shape, {"germans": r_german, "foreigners": r_foreign}, profile)


def person_cells(
    source: str, data_dir: Path, base_year: int, areas: list[str], extract_path: Path | None = None, where: str | None = None
) -> tuple[pd.DataFrame, dict]:
    """Person cells for the chosen source and areas, plus a dict describing the method (for the
    manifest). ``where`` names the scenario file for error messages."""
    single_ages = (
        "within the profile's groups cut at Frankfurt's 17 official age groups: foreigners like Frankfurt's foreigners "
        "31 Dec 2013, Germans like Frankfurt's population 31 Dec 2023; single ages by monotone (PCHIP) interpolation "
        "of the cumulative count per area x origin x sex (group totals exact); 75+ in five-year parts as a stable "
        "population: life-table Lx x exp(-r (age - 75)), r fitted to the table's ratio 75+ : 65-74 (open_age_group_growth_rate)"
    )
    sex_rule = (
        "female share per area x profile group from the 2012 profile (all origins); spread over the group's ages and origins "
        "by IPF with a seed sex ratio by age: the life table's stationary population (Germans), Frankfurt's foreigners by "
        "sex 31 Dec 2013 (foreigners)"
    )
    if source == "register_extract":
        cells = load_register_extract(extract_path or data.data_path(data_dir, "register_extract"), areas)
        return cells, {"source": "register_extract", "file": str(extract_path)}
    if source not in ("profile_2012", "anchored"):
        raise InputError(None, "population.source", f"unknown source '{source}'", "anchored, profile_2012, register_extract")
    if source == "profile_2012" and base_year != 2012:
        raise InputError(where, "base_year", f"population.source profile_2012 describes 31 Dec 2012, not {base_year}", "2012")
    st = _structure_2012(data_dir, base_year)
    cells = st.cells
    info: dict = {"source": source}
    if source == "profile_2012":
        info.update(date=PROFILE_DATE, structure="Stadtteil profile 2012-12-31 (area x age group x origin) exactly")
    else:
        cells, info = _anchored_cells(cells, st, data_dir, base_year)
    persons = _to_single_ages(_split_sexes(cells, st.female, st.atoms, st.odds), st.atoms, st.open_shape)
    info.update(
        single_ages=single_ages,
        sex=sex_rule,
        life_table=rates.nearest_life_table_period(data.life_tables(data_dir), base_year),
        open_age_group_growth_rate={k: round(v, 5) for k, v in st.growth.items()},
    )
    frame = _cells_frame(persons, st.areas)
    return frame[frame["area"].isin(areas)].reset_index(drop=True), info


def _anchored_cells(cells: np.ndarray, st: _Structure, data_dir: Path, base_year: int) -> tuple[np.ndarray, dict]:
    """Step 5 of the ``anchored`` method: the 2012 atoms raked to the base date's margins."""
    base_date = f"{base_year}-12-31"
    totals = anchored_area_totals(data_dir, base_year, st.profile)
    areas, atoms = st.areas, st.atoms
    area_totals = totals.set_index("area")["residents"].reindex(areas).to_numpy(np.int64)
    foreigners = data.register_foreigners(data_dir).get(base_date)
    official = data.official_age_groups(data_dir)
    official = official[(official["reference_date"] == base_date) & (official["sex"] == "all")].sort_values("lo")
    age_totals = None
    info: dict = {
        "source": "anchored",
        "base_date": base_date,
        "structure": "Stadtteil profile 2012-12-31 (area x age group x origin), cut at the official age groups and raked (IPF) to "
        "the area totals, the official age-group shares of the base date and the register's foreigners; every area keeps its "
        "2012 relative age profile as far as these margins allow (no Stadtteil figures by age after 2012)",
    }
    if len(official):
        if not np.array_equal(official["lo"].to_numpy(), atoms.starts[np.unique(atoms.official, return_index=True)[1]]):
            raise InputError(
                data.data_path(data_dir, "age_groups"), "group", f"age groups of {base_date} differ from the 17 groups", "one set"
            )
        shares = official["persons"].to_numpy(np.int64)
        age_totals = split_integer(np.array([area_totals.sum()]), shares[None, :].astype(float))[0]
        labels = [f"{lo}-{hi}" if hi < MAX_AGE else f"{lo}+" for lo, hi in zip(official["lo"], official["hi"])]
        info["age_groups"] = {
            "table": data.FILES["age_groups"],
            "official_total": int(shares.sum()),
            "register_total": int(area_totals.sum()),
            "reconciliation": "the official table (census-2022 basis) gives the shares by age group, the register the level; "
            f"the register's {int(area_totals.sum() - shares.sum()):,} persons more (mostly over-coverage found by the census) "
            "are ASSUMED to have the age distribution of the census-based population (no table of the difference by age)",
            "targets": [{"age_group": lab, "official": int(v), "persons": int(t)} for lab, v, t in zip(labels, shares, age_totals)],
        }
    else:
        info["age_groups"] = f"no official age table for {base_date}: the 2012 age structure is kept (raked to areas and foreigners)"
    x = _rake(cells, area_totals.astype(float), atoms.official, None if age_totals is None else age_totals.astype(float), foreigners)
    out = _integerise(x, area_totals, atoms.official, age_totals, None if foreigners is None else int(foreigners))
    info.update(foreigners_total=None if foreigners is None else int(foreigners), area_totals=totals.to_dict(orient="records"))
    return out, info


def _interpolated_city_totals(register: pd.Series, dates: list[str], profile_total: int) -> np.ndarray:
    """City register totals on ``dates``, linearly interpolated between known dates (2012 from the
    profile); a known date gives its own figure."""
    series = register.copy()
    series[PROFILE_DATE] = profile_total
    series.index = pd.to_datetime(series.index)
    series = series.sort_index()
    return np.interp(pd.to_datetime(pd.Series(dates)).to_numpy().astype(float), series.index.asi8.astype(float), series.to_numpy(float))


def anchored_area_totals(data_dir: Path, base_year: int, profile: pd.DataFrame | None = None) -> pd.DataFrame:
    """Steps 1-4 of the ``anchored`` method (``profile``: the 2012 profile cells if already read).
    Columns: area, residents, anchor_date, anchor_value, method."""
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
    groups = data.profile_cells(data_dir, PROFILE_DATE) if profile is None else profile
    area_2012 = groups.groupby("area")["persons"].sum()
    profile_total = int(area_2012.sum())
    official = data.stadtteil_totals(data_dir)
    official = official[(official["reference_date"] > PROFILE_DATE) & (official["reference_date"] <= base_date)]

    anchors = {a: (PROFILE_DATE, int(v), "profile 2012") for a, v in area_2012.items()}
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

    frame = pd.DataFrame(
        [(area, date, value, date == base_date, method) for area, (date, value, method) in anchors.items()],
        columns=["area", "anchor_date", "anchor_value", "fixed", "method"],
    )
    at_anchor = _interpolated_city_totals(register, frame["anchor_date"].tolist(), profile_total)
    frame["grown"] = frame["anchor_value"] * np.where(frame["fixed"], 1.0, city_total / at_anchor)
    fixed = frame["fixed"].to_numpy()
    frame["residents"] = frame["anchor_value"].astype(np.int64)
    free_target = city_total - int(frame.loc[fixed, "residents"].sum())
    frame.loc[~fixed, "residents"] = split_integer(np.array([free_target]), frame.loc[~fixed, "grown"].to_numpy()[None, :])[0]
    frame["method"] = np.where(fixed, frame["method"] + " on base date", frame["method"] + ", grown with city, scaled to city total")
    return frame[["area", "residents", "anchor_date", "anchor_value", "method"]]


def load_register_extract(path: Path, areas: list[str]) -> pd.DataFrame:
    """A register extract: one row per area x age x sex x migration_background with a person count."""
    frame = data.register_extract(Path(path), areas).rename(columns={"migration_background": "origin"})  # checked there
    # the order of rows in the file must not matter: one row per cell, in a fixed order
    return frame.groupby(["area", "age", "sex", "origin"], as_index=False)["persons"].sum()[CELL_COLUMNS]
