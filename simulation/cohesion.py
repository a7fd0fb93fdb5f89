"""Cohesion indicators of one year, per area, Sozialrathaus district and city (tidy rows).

Indicator names (stable, snake_case) and definitions:

- ``dissimilarity_*``, ``isolation_*``, ``exposure_*``, ``entropy_*`` (``*`` = ``migration``:
  residents with a migration background, german_mb + foreign, against none; ``income``: persons
  in low-income households against the others): segregation between the areas of a district or
  of the city (not defined for a single area);
- ``turnover_rate``: persons moving in plus moving out (across the city boundary or between
  areas), halved, per resident at the start of the year;
- ``median_years_at_address``: median over households;
- ``displacement``: low-income households pushed out of the area by rent rises in the year;
- ``service_mixing_migration`` / ``service_mixing_income``: share of contacts (pairs of users of
  the same offering, over all services with places) that cross the groups;
- ``volunteers_per_1000``; ``volunteer_hours_per_demand``: volunteer hours in social services per
  person seeking a service that uses volunteers;
- ``alone_75plus_no_contact``: persons 75+ living alone who used no service in the year;
- ``dependency_young`` / ``dependency_old``: persons 0-17 / 65+ per 100 aged 18-64;
- ``cohesion_index``: weighted mean of five parts in 0..1, each also written with its weight
  (``cohesion_part_<name>``, ``cohesion_weight_<name>``): mixing (service mixing by migration
  background relative to the mixing expected if users were mixed at random), stability
  (1 - turnover rate), service_reach (served / demand, services with places), volunteering
  (volunteers per resident 14+ relative to the national 39.7 %), no_isolation (1 - share of
  persons 75+ living alone without contact).

Small areas: an area with fewer residents than ``small_area_threshold`` (default 5,000) gets the
indicator ``small_area`` = 1 (else 0) in every year, and the run's ``areas`` table, report and
figures flag it: below that, one household's move changes rates and shares visibly, so its
figures are not reliable for comparisons (districts and the city are never small).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulation import indicators as ind
from simulation.vocabulary import CITY


NATIONAL_VOLUNTEER_SHARE = 0.397  # Freiwilligensurvey 2019


@dataclass
class YearState:
    """What the indicators of one year need; built by the model after the year's events."""

    year: int
    area_names: list[str]
    sozialrathaus: list[str]
    person_area: np.ndarray
    age: np.ndarray
    migrant: np.ndarray  # bool
    low_income: np.ndarray  # bool, person in a low-income household
    alone: np.ndarray  # bool, person lives alone
    use: np.ndarray  # (persons, services) offering area or -1
    limited: np.ndarray  # (services,) bool: service has places (not an entitlement)
    volunteer: np.ndarray  # bool
    household_area: np.ndarray
    household_years: np.ndarray
    start_population: np.ndarray  # per area, 31 Dec of the year before
    moved_in: np.ndarray  # per area: immigrants + moves in
    moved_out: np.ndarray  # per area: emigrants + moves out
    displaced: np.ndarray  # per area, households
    volunteer_hours: np.ndarray  # per area, in social services
    volunteer_demand: np.ndarray  # per area: persons seeking services that use volunteers
    served: np.ndarray  # per area: served in services with places
    demand: np.ndarray  # per area: demand in services with places
    weights: dict[str, float]
    small_area_threshold: int
    flows_known: bool = True  # False in the base year: no moves were simulated yet


def _offering_counts(s: YearState, flag: np.ndarray) -> np.ndarray:
    """Users per service, offering area and group (flag False/True): shape (services, areas, 2)."""
    n_areas = len(s.area_names)
    out = np.zeros((s.use.shape[1], n_areas, 2))
    for i in np.flatnonzero(s.limited):
        users = np.flatnonzero(s.use[:, i] >= 0)
        key = s.use[users, i].astype(np.int64) * 2 + flag[users]
        out[i] = np.bincount(key, minlength=2 * n_areas).reshape(n_areas, 2)
    return out


def _unit_rows(s: YearState, level: str, name: str, srh: str, areas: np.ndarray, per_area: dict, offers: dict) -> list[tuple]:
    """Indicator rows of one unit (an area, a district or the city) made of ``areas``."""
    pop = per_area["population"][areas].sum()
    rows = []

    def add(indicator, value):
        rows.append((s.year, level, name, srh, indicator, float(value)))

    if level != "area":
        for suffix, group in (("migration", "migrants"), ("income", "low")):
            x, t = per_area[group][areas], per_area["population"][areas]
            add(f"dissimilarity_{suffix}", ind.dissimilarity(x, t))
            add(f"isolation_{suffix}", ind.isolation(x, t))
            add(f"exposure_{suffix}", ind.exposure(x, t))
            add(f"entropy_{suffix}", ind.entropy(x, t))
    turnover = ind.turnover_rate(s.moved_in[areas].sum(), s.moved_out[areas].sum(), s.start_population[areas].sum()) if s.flows_known else np.nan
    add("turnover_rate", turnover)
    years = np.concatenate([per_area["years_by_area"][a] for a in areas])
    add("median_years_at_address", np.median(years) if len(years) else np.nan)
    add("displacement", s.displaced[areas].sum() if s.flows_known else np.nan)
    mix = {}
    for suffix in ("migration", "income"):
        counts = offers[suffix][:, areas, :].reshape(-1, 2)
        mix[suffix] = ind.mixing(counts[:, 1], counts[:, 0])
        add(f"service_mixing_{suffix}", mix[suffix])
    volunteers = per_area["volunteers"][areas].sum()
    add("volunteers_per_1000", 1000.0 * volunteers / pop if pop else np.nan)
    need = s.volunteer_demand[areas].sum()
    add("volunteer_hours_per_demand", s.volunteer_hours[areas].sum() / need if need else np.nan)
    lonely = per_area["alone_75_no_contact"][areas].sum()
    add("alone_75plus_no_contact", lonely)
    add("dependency_young", ind.dependency(per_area["young"][areas].sum(), per_area["working"][areas].sum()))
    add("dependency_old", ind.dependency(per_area["old"][areas].sum(), per_area["working"][areas].sum()))
    counts = offers["migration"][:, areas, :].reshape(-1, 2)
    users = counts.sum()
    p = counts[:, 1].sum() / users if users else 0.0
    expected = 2 * p * (1 - p)
    parts = {
        "mixing": min(1.0, mix["migration"] / expected) if expected > 0 else 1.0,
        "stability": max(0.0, 1.0 - turnover) if not np.isnan(turnover) else np.nan,
        "service_reach": s.served[areas].sum() / s.demand[areas].sum() if s.demand[areas].sum() else 1.0,
        "volunteering": min(1.0, volunteers / per_area["adults14"][areas].sum() / NATIONAL_VOLUNTEER_SHARE) if per_area["adults14"][areas].sum() else 0.0,
        "no_isolation": 1.0 - lonely / per_area["age75"][areas].sum() if per_area["age75"][areas].sum() else 1.0,
    }
    # parts that cannot be known (stability in the base year) drop out and the weights renormalise
    weights = {k: v for k, v in s.weights.items() if v > 0 and not np.isnan(parts[k])}
    if not weights:  # only unknowable parts carry weight (the base year): weigh the others equally
        weights = {k: 1.0 for k in parts if not np.isnan(parts[k])}
    total = sum(weights.values())
    for k in parts:
        add(f"cohesion_part_{k}", parts[k])
        add(f"cohesion_weight_{k}", weights.get(k, 0.0) / total)
    add("cohesion_index", ind.composite({k: parts[k] for k in weights}, weights))
    return rows


def yearly_indicators(s: YearState) -> pd.DataFrame:
    n = len(s.area_names)
    area = s.person_area

    def count(mask):
        return np.bincount(area[mask], minlength=n).astype(float)

    everyone = np.ones(len(area), bool)
    no_contact = (s.use < 0).all(axis=1) if s.use.shape[1] else everyone
    per_area = {
        "population": count(everyone), "migrants": count(s.migrant), "low": count(s.low_income),
        "volunteers": count(s.volunteer), "young": count(s.age < 18), "old": count(s.age >= 65),
        "working": count((s.age >= 18) & (s.age < 65)), "adults14": count(s.age >= 14), "age75": count(s.age >= 75),
        "alone_75_no_contact": count((s.age >= 75) & s.alone & no_contact),
    }
    order = np.argsort(s.household_area, kind="stable")
    bounds = np.searchsorted(s.household_area[order], np.arange(n + 1))
    per_area["years_by_area"] = [s.household_years[order[bounds[a]:bounds[a + 1]]] for a in range(n)]
    offers = {"migration": _offering_counts(s, s.migrant.astype(np.int64)), "income": _offering_counts(s, s.low_income.astype(np.int64))}
    rows = []
    for a, name in enumerate(s.area_names):
        rows += _unit_rows(s, "area", name, s.sozialrathaus[a], np.array([a]), per_area, offers)
    for srh in sorted(set(s.sozialrathaus)):
        members = np.array([i for i, x in enumerate(s.sozialrathaus) if x == srh])
        rows += _unit_rows(s, "sozialrathaus", srh, srh, members, per_area, offers)
    # city rows are labelled with the city's name; in a run of some areas they cover those areas
    rows += _unit_rows(s, "city", CITY, "", np.arange(n), per_area, offers)
    for a, name in enumerate(s.area_names):
        rows.append((s.year, "area", name, s.sozialrathaus[a], "small_area", float(per_area["population"][a] < s.small_area_threshold)))
    return pd.DataFrame(rows, columns=["year", "level", "area", "sozialrathaus", "indicator", "value"])
