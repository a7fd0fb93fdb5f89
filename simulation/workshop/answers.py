"""What the page shows for two sets of runs (left: usually the baseline; right: the levers), as
small tables with labels in the page's language: residents by age group, service demand against
places, unmet need by group, the cohesion indicators, one indicator over the years and by
Stadtteil. Each value comes with the range of the replications and each difference with the
range of the paired differences (``engine.compared``). Labels and what a higher value means come
from ``simulation.glossary``.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import pandas as pd

from simulation.glossary import AGE_BAND_LABELS, Glossary
from simulation.localise import Numbers
from simulation.metrics import AGE_BANDS
from simulation.vocabulary import MAX_AGE, UNMET_GROUPS
from simulation.workshop.engine import Runs, compared
from simulation.workshop.texts import text

SIDES = ("left", "right", "diff")
BANDS = [f"{side}_{k}" for side in SIDES for k in ("mean", "low", "high")]  # the band columns of engine.compared
# the indicators one can put on the map and the time chart: (table, indicator)
MAP_INDICATORS = (
    ("services", "kita_u3.unmet"),
    ("services", "kita_3_6.unmet"),
    ("services", "family_centre.unmet"),
    ("services", "senior_meeting.unmet"),
    ("services", "senior_outreach.unmet"),
    ("population", "persons"),
    ("population", "persons_0_2"),
    ("population", "persons_3_5"),
    ("population", "persons_75plus"),
    ("cohesion", "cohesion_index"),
    ("cohesion", "volunteers_per_1000"),
    ("cohesion", "alone_75plus_no_contact"),
    ("cohesion", "turnover_rate"),
)
COHESION_PARTS = ("cohesion_index", "cohesion_part_mixing", "cohesion_part_stability", "cohesion_part_service_reach")
COHESION_PARTS += ("cohesion_part_volunteering", "cohesion_part_no_isolation")
COHESION_TABLE = ("volunteers_per_1000", "volunteer_hours_per_demand", "alone_75plus_no_contact", "turnover_rate")
COHESION_TABLE += ("median_years_at_address", "service_mixing_migration", "service_mixing_income", "dissimilarity_migration")
UNMET_DIMENSIONS = ("migration_background", "income_class", "household_type")


def sensible(x: float, family: str = "count") -> float:
    """A count rounded to three significant digits (81,234 -> 81,200; 438 stays), so that the page
    does not pretend a precision the runs do not have; other families keep theirs."""
    if family != "count" or not math.isfinite(x) or abs(x) < 1000:
        return x
    digits = 3 - int(math.floor(math.log10(abs(x)))) - 1
    return round(x, digits)


def wrap(label: str, width: int = 26) -> str:
    """A long label on several lines (never between "z." and "B.")."""
    return "\n".join(textwrap.wrap(label.replace("z. B.", "z.\u00a0B."), width)) or label


@dataclass(frozen=True)
class Answers:
    """Everything of one comparison the page draws or writes, for one language."""

    lang: str
    year: int
    n: int
    unit: tuple[str, str]  # level and name of the district rows
    ages: pd.DataFrame  # label + left/right/diff bands
    services: pd.DataFrame  # service label, demand bands, places (left/right mean)
    unmet: dict[str, pd.DataFrame]  # panel title -> rows by group (of the chosen service)
    unmet_ages: pd.DataFrame  # unmet need of every service, by the ages it is for
    cohesion: pd.DataFrame  # index and its parts (label, bands)
    cohesion_table: pd.DataFrame  # further indicators: label, family, higher, bands
    key: pd.DataFrame  # the key figures: label, family, bands
    series: pd.DataFrame  # the chosen indicator per year (district): year + bands
    areas: pd.DataFrame  # the chosen indicator per Stadtteil in the last year: area + bands
    indicator: str  # label of the chosen indicator
    family: str  # its family (number format)


def _rows(frame: pd.DataFrame, order: list[str], labels: list[str]) -> pd.DataFrame:
    """``frame``'s rows for the indicators ``order`` (missing ones as NaN), with their labels."""
    out = frame.set_index("indicator").reindex(order)
    out.insert(0, "label", labels)
    return out.reset_index()


def answers(left: Runs, right: Runs, unit: tuple[str, str], glossary: Glossary, unmet_service: str, indicator: tuple[str, str]) -> Answers:
    """The page's tables for ``left`` against ``right`` in the last year of the runs."""
    lang = glossary.lang
    level, name = unit
    year = min(left.last_year, right.last_year)
    n = min(left.n, right.n)
    population = compared(left, right, "population", level, name, year)
    ages = _rows(population, [f"persons_{b}" for b in AGE_BANDS], [AGE_BAND_LABELS[b] for b in AGE_BANDS])

    services = compared(left, right, "services", level, name, year)
    limited = [s for s, t in glossary.services.items() if not t.unlimited]
    demand = _rows(services, [f"{s}.demand" for s in limited], [wrap(glossary.service(s)) for s in limited])
    places = services.set_index("indicator").reindex([f"{s}.capacity" for s in limited])
    per_user = pd.Series([glossary.services[s].units_per_user for s in limited])
    demand["left_places"] = places["left_mean"].to_numpy() / per_user.to_numpy()
    demand["right_places"] = places["right_mean"].to_numpy() / per_user.to_numpy()

    unmet = {}
    by_group = compared(left, right, "services_unmet", level, name, year)
    for dimension in UNMET_DIMENSIONS:
        groups = [g for d, g in UNMET_GROUPS if d == dimension]
        codes = [f"{unmet_service}.{dimension}={g}.unmet_by_group" for g in groups]
        unmet[glossary.dimension(dimension)] = _rows(by_group, codes, [wrap(glossary.group(dimension, g), 30) for g in groups])
    by_age = sorted(limited, key=lambda s: (glossary.services[s].min_age, glossary.services[s].max_age))
    unmet_ages = _rows(services, [f"{s}.unmet" for s in by_age], [_age_label(glossary, s) for s in by_age])

    cohesion_rows = compared(left, right, "cohesion", level, name, year)
    cohesion = _rows(cohesion_rows, list(COHESION_PARTS), [wrap(glossary.term("cohesion", c).label, 30) for c in COHESION_PARTS])
    terms = [glossary.term("cohesion", c) for c in COHESION_TABLE]
    cohesion_table = _rows(cohesion_rows, list(COHESION_TABLE), [t.label for t in terms])
    cohesion_table["family"] = [t.family for t in terms]
    cohesion_table["higher"] = [t.higher for t in terms]

    kita = _paired_sum(left, right, level, name, year, ["kita_u3.unmet", "kita_3_6.unmet"])  # summed within each run
    key = pd.DataFrame(
        [
            {"label": text(lang, "residents"), "family": "count", **population.set_index("indicator").loc["persons", BANDS]},
            {"label": text(lang, "unmet_kita"), "family": "count", **kita},
            {"label": text(lang, "cohesion"), "family": "index", **cohesion_rows.set_index("indicator").loc["cohesion_index", BANDS]},
        ]
    )

    table, code = indicator
    over_years = compared(left, right, table, level, name)
    series = over_years[over_years["indicator"] == code].sort_values("year").reset_index(drop=True)
    by_area = compared(left, right, table, "area", None, year)
    areas = by_area[by_area["indicator"] == code].reset_index(drop=True)
    term = glossary.term(table, code)
    return Answers(
        lang, year, n, unit, ages, demand, unmet, unmet_ages, cohesion, cohesion_table, key, series, areas, term.label, term.family
    )


def _paired_sum(left: Runs, right: Runs, level: str, name: str, year: int, codes: list[str]) -> dict[str, float]:
    """Bands of a sum of indicators, summed within each replication first."""
    sums = []
    for runs in (left, right):
        idx = runs.values.index
        mask = (idx.get_level_values("table") == "services") & (idx.get_level_values("level") == level)
        mask &= (idx.get_level_values("area") == name) & (idx.get_level_values("year") == year)
        mask &= idx.get_level_values("indicator").isin(codes)
        sums.append(runs.values[mask].sum(axis=0).to_numpy(float))
    n = min(len(sums[0]), len(sums[1]))
    a, b = sums[0][:n], sums[1][:n]
    out = {}
    for side, values in (("left", a), ("right", b), ("diff", b - a)):
        out |= {f"{side}_mean": float(values.mean()), f"{side}_low": float(values.min()), f"{side}_high": float(values.max())}
    return out


def _age_label(glossary: Glossary, service: str) -> str:
    s = glossary.services[service]
    ages = f"{s.min_age}+" if s.max_age >= MAX_AGE else f"{s.min_age}–{s.max_age}"
    return wrap(f"{ages}: {glossary.service(service)}", 30)


def formatted(x: float, family: str, fmt: Numbers, signed: bool = False) -> str:
    """A value as the page writes it: sensibly rounded, in the page's language."""
    return fmt.value(sensible(x, family), family, signed=signed)


def verdict(low: float, high: float, family: str, lang: str) -> str:
    """The uncertainty of a paired difference in words, at the precision the page shows: a range
    that rounds to zero at both ends is no difference; one wholly above or below zero is sure."""
    fmt = Numbers(lang)
    low, high = (round(sensible(x, family), fmt.decimals(x, family)) for x in (low, high))
    if low == 0 and high == 0:
        return text(lang, "same")
    return text(lang, "sure") if low > 0 or high < 0 else text(lang, "unsure")
