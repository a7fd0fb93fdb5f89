"""Housing change: where new dwellings go, rents per area, displacement of low-income households.

Rules (parameters in the scenario's ``[housing_market]``; values and their sources or
assumptions are in scenarios/baseline.toml):

- **Where the city builds.** No completions per Stadtteil are in the data, so they are inferred
  from where the population grew: the city's household size stayed at about 1.86 residents per
  household from 2009 to 2019, so an area's population growth needs dwellings in proportion.
  ``stadtteil_growth``: each Stadtteil's growth per year since the complete table of 31 Dec 2012,
  to its latest official total (a printed change added to a total of its base date gives a later
  total; a combined total of two Stadtteile is split by their 2012 residents); a Stadtteil with
  only a printed one-year change grows by that change; the Stadtteile without any later figure
  share what is left of the city's growth (register) by their 2012 residents (nothing is left:
  the Stadtteile with figures account for all of it). ``dwelling_growth``: a share
  ``replacement`` of the completions (demolished and rebuilt: 291 of 2,158 in 2012, dwelling
  completions) is spread by the stock; the rest goes by the shares of positive growth.
  ``completion_shares``: this observed pattern holds up to the last year observed, then tapers
  to the stock pattern with a half-life (the building land of the new quarters is finite).
  Densification projects of the scenario (``[[housing]]``) come on top.
- **Rents per area.** Base-year levels: offer rents (listings, EUR per m2 net cold; not the
  rents sitting tenants pay) of the Stadtteile in frankfurt_rents.csv. ``relative_rents``: log
  rent = source-and-year effect + Stadtteil effect, least squares over every figure with a small
  ridge penalty (a group figure counts as the mean of its Stadtteile; the city-wide figures have
  effect 0), so figures of different sites and years combine; a Stadtteil without any figure
  takes the inverse-distance-squared mean of the estimated Stadtteile (ASSUMPTION: rents are
  spatially correlated). Levels = city-wide offer rent of the base year x relative level (mean 1
  weighted by residents). Each year (``update_rents``), an area's rent index grows by
  rent_growth + rent_vacancy_elasticity x max(0, reserve - vacancy rate) + the new dwellings x
  their rent effect / stock + rent_demand_elasticity x demand pressure (log demand per dwelling
  on offer relative to the city, processes/location.py), so rents move apart where the market is
  tight, where the city builds and where demand from newcomers and movers is high.
- **Displacement** (``draw_displaced``): benefits for housing costs follow the city's rent index,
  so a low-income household's means keep up with the city-wide rent rise, not with a faster local
  one: it leaves its area with probability displacement_rate x the area's rent rise above the
  city's mean rise. A share of the displaced leave the city; the others look for a dwelling in
  another area (location choice, processes/location.py); who finds none stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from numba import njit

from simulation.base_population import split_integer
from simulation.population import Population, unsigned
from simulation.processes.shared import free_dwellings
from simulation.vocabulary import LOW

DAYS_PER_YEAR = 365.25


def _years(start: str, end: str) -> float:
    return (pd.Timestamp(end) - pd.Timestamp(start)).days / DAYS_PER_YEAR


# ---- where the city builds ----------------------------------------------------------------
def stadtteil_growth(residents_2012: pd.Series, observations: pd.DataFrame, city_latest: tuple[str, float]) -> pd.DataFrame:
    """Observed population growth per Stadtteil and year since 31 Dec 2012 (rule in the module
    docstring). ``observations``: data.stadtteil_observations; ``city_latest``: (date, residents)
    of the city register, for what is left to the Stadtteile without figures. Returns per
    Stadtteil (index: area): residents_2012, latest_date, latest, growth_per_year, source."""
    start = "2012-12-31"
    levels = observations[observations["kind"] == "level"][["reference_date", "area", "value"]]
    known = {(d, a): v for d, a, v in zip(levels["reference_date"], levels["area"], levels["value"])}
    changes = observations[observations["kind"] == "change"].sort_values("reference_date")
    for date, area, since, value in zip(changes["reference_date"], changes["area"], changes["since"], changes["value"]):
        if (since, area) in known and (date, area) not in known:
            known[(date, area)] = known[(since, area)] + value  # a printed change on a known total
    best: dict[str, tuple[str, float, str]] = {}  # area -> (date, growth per year, source)
    for (date, unit), value in sorted(known.items()):
        names = unit.split("+")
        if date <= start or any(n not in residents_2012.index for n in names):
            continue
        base = residents_2012[names]
        growth = (value - base.sum()) / _years(start, date) * base / base.sum()
        for name in names:
            if name not in best or best[name][0] <= date:
                best[name] = (date, float(growth[name]), "total" if len(names) == 1 else "combined total, split by 2012 residents")
    for date, area, since, value in zip(changes["reference_date"], changes["area"], changes["since"], changes["value"]):
        span = _years(since, date)
        if area not in best and area in residents_2012.index and span >= 0.9:
            best[area] = (date, float(value) / span, "printed change of one year")
    city_date, city_value = city_latest
    left = (city_value - residents_2012.sum()) / _years(start, city_date) - sum(g for _, g, _ in best.values())
    rest = [a for a in residents_2012.index if a not in best]
    weight = residents_2012[rest] / max(float(residents_2012[rest].sum()), 1.0)
    for area in rest:
        best[area] = (city_date, max(0.0, left) * float(weight[area]), "none: share of what is left of the city's growth")
    rows = []
    for area, r2012 in residents_2012.items():
        date, growth, source = best[area]
        rows.append((area, float(r2012), date, float(r2012) + growth * _years(start, date), growth, source))
    frame = pd.DataFrame(rows, columns=["area", "residents_2012", "latest_date", "latest", "growth_per_year", "source"])
    return frame.set_index("area")


@dataclass(frozen=True)
class DwellingGrowth:
    """Where the city's completions go (city-wide shares, each sums to 1 over all Stadtteile)."""

    observed: pd.Series  # the pattern of 2012 to the last observation (with the replacement share)
    stock: pd.Series  # by the stock (estimated residents at the end of the observations)
    last_year: int  # the observed pattern holds to this year
    table: pd.DataFrame  # per Stadtteil: the growth table with both shares (for the manifest)


def dwelling_growth(growth: pd.DataFrame, replacement: float) -> DwellingGrowth:
    """Completion shares from ``stadtteil_growth``: ``replacement`` by stock, the rest by positive growth."""
    last = max(growth["latest_date"])
    stock = growth["residents_2012"] + growth["growth_per_year"] * _years("2012-12-31", last)
    stock_share = stock / stock.sum()
    positive = growth["growth_per_year"].clip(lower=0.0)
    growth_share = positive / positive.sum() if positive.sum() > 0 else stock_share
    observed = replacement * stock_share + (1.0 - replacement) * growth_share
    table = growth.assign(share_observed=observed, share_stock=stock_share)
    return DwellingGrowth(observed, stock_share, int(last[:4]), table)


@dataclass(frozen=True)
class CompletionPattern:
    """The two patterns of ``DwellingGrowth`` for the areas of a run (arrays in their order)."""

    observed: np.ndarray  # city-wide share of the completions in each area, as observed
    stock: np.ndarray  # by the stock
    last_year: int  # the observed pattern holds to this year

    @classmethod
    def of(cls, growth: DwellingGrowth, areas: list[str]) -> "CompletionPattern":
        return cls(growth.observed.reindex(areas).to_numpy(float), growth.stock.reindex(areas).to_numpy(float), growth.last_year)


def completion_shares(pattern: CompletionPattern, year: int, rule: str, half_life: float) -> np.ndarray:
    """City-wide share of the year's completions in each of the pattern's areas: the observed
    pattern (``rule`` 'observed') tapering to the stock pattern ``half_life`` years after the last
    observed year (weight 0.5 ** (years since / half_life)), or the stock pattern ('stock')."""
    if rule == "stock":
        return pattern.stock.copy()
    weight = 0.5 ** (max(0, year - pattern.last_year) / half_life) if half_life > 0 else float(year <= pattern.last_year)
    return weight * pattern.observed + (1.0 - weight) * pattern.stock


def spread_completions(completions: float, shares: np.ndarray) -> np.ndarray:
    """Whole dwellings per area: ``completions`` x the areas' total share, split by their shares."""
    total = int(round(completions * float(shares.sum())))
    return split_integer(np.array([total]), np.asarray(shares, float)[None, :])[0]


def project_dwellings(projects, area_names: list[str], default_effect: float) -> tuple[np.ndarray, np.ndarray]:
    """Dwellings added per area by the projects building this year (``Scenario.housing_projects_in``:
    pairs of project and its dwellings of the year), and those dwellings x their rent effect."""
    added = np.zeros(len(area_names), np.int64)
    effect = np.zeros(len(area_names))
    for project, n in projects:
        a = area_names.index(project.area)
        added[a] += n
        effect[a] += n * (project.rent_effect if project.rent_effect is not None else default_effect)
    return added, effect


# ---- rents ----------------------------------------------------------------------------------
def relative_rents(
    offers: pd.DataFrame, areas: list[str], distance: np.ndarray, weights: np.ndarray, ridge: float = 0.01
) -> tuple[np.ndarray, list[str]]:
    """Offer rent of every Stadtteil relative to the city (residents-weighted mean 1), and how
    each was found ('estimated' or 'nearest Stadtteile'). ``offers``: data.offer_rents;
    ``distance``: km between the ``areas``; ``weights``: residents per area (rule in the module
    docstring)."""
    sources = sorted(set(offers["source"]))
    seen = sorted({a for m in offers["members"] for a, _ in m}, key=areas.index)
    x = np.zeros((len(offers), len(sources) + len(seen)))
    for i, (source, members) in enumerate(zip(offers["source"], offers["members"])):
        x[i, sources.index(source)] = 1.0
        for area, w in members:
            x[i, len(sources) + seen.index(area)] += w
    # the ridge keeps what the figures cannot tell apart (two halves of a printed "Westend") equal
    penalty = np.diag([0.0] * len(sources) + [ridge] * len(seen))
    beta = np.linalg.solve(x.T @ x + penalty, x.T @ np.log(offers["value"].to_numpy(float)))
    effect = dict(zip(seen, beta[len(sources) :]))
    idx = [areas.index(a) for a in seen]
    log_rel = np.empty(len(areas))
    method = []
    for i, area in enumerate(areas):
        if area in effect:
            log_rel[i] = effect[area]
            method.append("estimated from offer rents")
        else:
            d = distance[i, idx]
            w = np.where(d <= 0, 1e12, 1.0 / np.maximum(d, 1e-6) ** 2)  # a shared polygon: that area's value
            log_rel[i] = float((w * beta[len(sources) :]).sum() / w.sum())
            method.append("nearest Stadtteile (inverse distance squared)")
    rel = np.exp(log_rel)
    return rel / np.average(rel, weights=weights), method


def update_rents(
    rent: np.ndarray,
    dwellings: np.ndarray,
    households: np.ndarray,
    added: np.ndarray,
    effect: np.ndarray,
    growth: float,
    elasticity: float,
    reserve: float,
    pressure: np.ndarray | None = None,
    pressure_elasticity: float = 0.0,
) -> np.ndarray:
    """New rent index per area (see module rules); ``dwellings`` already include ``added``,
    ``effect`` holds the added dwellings x their rent effect, ``pressure`` the demand pressure.
    Tightness is the vacancy of the stock this year's searchers met: the year's new dwellings
    come on the market at its end (the calendar builds after the moves)."""
    before = dwellings - added
    vacancy = np.where(before > 0, (before - households) / np.maximum(before, 1), 0.0)
    tight = elasticity * np.maximum(0.0, reserve - vacancy)
    newbuild = effect / np.maximum(before, 1)
    demand = 0.0 if pressure is None else pressure_elasticity * pressure
    # a fall of more than half in one year is outside anything the rules mean to describe
    return rent * np.maximum(0.5, 1.0 + growth + tight + newbuild + demand)


def excess_rise(old: np.ndarray, new: np.ndarray, households: np.ndarray) -> np.ndarray:
    """Each area's rent rise above the city's mean rise (weighted by households), at least 0."""
    rise = new / old - 1.0
    weight = households.astype(float)
    total = weight.sum()
    mean = (rise * weight).sum() / total if total > 0 else 0.0  # np.average's sums, without its checks
    return np.maximum(0.0, rise - mean)


# ---- displacement ---------------------------------------------------------------------------
def draw_displaced(
    pop: Population, excess_rise: np.ndarray, rate: float, leave_city_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of low-income households pushed out of their area this year, split into those who
    leave the city and those who stay and look for a dwelling elsewhere: (leaving, staying)."""
    h = pop.households
    return _draw_displaced(rng, h.income, unsigned(h.area), excess_rise, rate, leave_city_share)


@njit(cache=True)
def _draw_displaced(
    rng: np.random.Generator, income: np.ndarray, area: np.ndarray, excess_rise: np.ndarray, rate: float, leave_city_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """``draw_displaced``: only low-income households in areas whose rent rose above the city's
    can be displaced; each of them (in row order) with probability min(1, rate x the rise) by
    the next uniform number of ``rng``; then each displaced household (in row order) leaves the
    city if its next number is below ``leave_city_share``."""
    # those at risk are picked out first without a branch (every row is written, only one at risk
    # keeps its place): low incomes are scattered over the rows, a branch would often guess wrong
    at_risk = np.empty(len(income), np.int64)
    k = 0
    for h in range(len(income)):
        at_risk[k] = h
        k += (income[h] == LOW) & (excess_rise[area[h]] > 0)
    displaced = np.empty(k, np.int64)
    n = 0
    for h in at_risk[:k]:
        if rng.random() < min(1.0, rate * excess_rise[area[h]]):
            displaced[n] = h
            n += 1
    leaves = np.empty(n, np.bool_)
    for i in range(n):
        leaves[i] = rng.random() < leave_city_share
    return displaced[:n][leaves], displaced[:n][~leaves]


def relocate_displaced(
    pop: Population, rows: np.ndarray, dwellings: np.ndarray, choose: Callable[..., np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Where displaced households go: (rows that found a dwelling, destination areas).
    ``choose(free, rows, own)``: the location choice (processes/location.py ``chooser``)."""
    area = pop.households.area
    dest = choose(free_dwellings(dwellings, pop), rows, own=area[rows].astype(np.int64))
    moved = dest >= 0
    return rows[moved], dest[moved]
