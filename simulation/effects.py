"""What a scenario changes against its baseline: its levers, the indicators they touch and where
the paired differences are clearly not zero, as yearly series with their bands.

The report shows what this module selects; nothing here is a fixed list of indicators:

- a service named by a lever (an offering, a take-up change, an override of its catalogue
  values) is shown with demand, capacity, served and unmet side by side, in the lever's areas,
  their districts and the city (or, for a city-wide lever, the city and the districts where the
  effect is clear);
- any other indicator is shown where its difference is *clear*: the 90 % band of the paired
  differences (5th to 95th percentile over replications) leaves out zero, and the mean difference
  is at least ``RELEVANT[family]`` (half a person, 0.002 on an index) so that an exactly repeated
  but negligible difference does not count. With one replication there is no band: any
  difference of that size counts, and the report says that the result is not reliable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulation.glossary import Glossary
from simulation.scenario import Scenario

RELEVANT = {"count": 0.5, "index": 0.002, "rate": 0.1, "years": 0.5}
MEASURES = ("demand", "capacity", "served", "unmet")  # side by side for every service shown
MAX_INDICATOR_TOPICS = 4
MAX_UNITS = 2  # districts and areas each shown per topic besides the lever's own (the maps show all areas)
# detail that the report leaves to the tables: the index's parts and weights, sex by age band
HIDDEN = ("cohesion_part_", "cohesion_weight_", "small_area", "persons_female_", "persons_male_")


@dataclass(frozen=True)
class Unit:
    level: str  # area, sozialrathaus or city
    area: str


@dataclass(frozen=True)
class Lever:
    """A change of the scenario against the baseline: what, where (no areas: city-wide), from when."""

    kind: str  # offering, take_up, service, housing, volunteer_programme, in_migration, other
    year: int | None
    areas: tuple[str, ...]
    services: tuple[str, ...]
    detail: object  # the scenario entry (Offering, TakeUpChange, ...) or, for "other", the field name


@dataclass(frozen=True)
class Run:
    """Consecutive years with a clear difference of one sign: the years, the mean difference, and
    the lowest 5th and highest 95th percentile of those years."""

    first: int
    last: int
    mean: float
    low: float
    high: float


@dataclass
class Series:
    """One indicator in one unit over the years: means of baseline and scenario, the mean paired
    difference and its 90 % band, and whether the difference is clear in each year."""

    table: str
    indicator: str
    unit: Unit
    years: np.ndarray
    baseline: np.ndarray
    value: np.ndarray
    diff: np.ndarray
    low: np.ndarray
    high: np.ndarray
    clear: np.ndarray

    @property
    def any_clear(self) -> bool:
        return bool(self.clear.any())

    def runs(self) -> list[Run]:
        """The stretches of consecutive clear years whose differences have one sign."""
        out: list[Run] = []
        start = None
        for i in range(len(self.years) + 1):
            same = start is not None and i < len(self.years) and self.clear[i] and np.sign(self.diff[i]) == np.sign(self.diff[start])
            if start is not None and not same:
                part = slice(start, i)
                out.append(
                    Run(
                        int(self.years[start]),
                        int(self.years[i - 1]),
                        float(self.diff[part].mean()),
                        float(np.nanmin(self.low[part])),
                        float(np.nanmax(self.high[part])),
                    )
                )
                start = None
            if start is None and i < len(self.years) and self.clear[i]:
                start = i
        return out

    def peak_year(self) -> int:
        return int(self.years[np.nanargmax(np.abs(self.diff))])

    def at(self, year: int) -> int:
        return int(np.searchsorted(self.years, year))


@dataclass
class Topic:
    """What the report shows about one service (its MEASURES) or one other indicator, in ``units``."""

    table: str
    indicator: str  # for a service: its name
    from_lever: bool
    units: list[Unit]
    series: dict[tuple[str, Unit], Series] = field(default_factory=dict)  # (indicator, unit) -> series

    @property
    def is_service(self) -> bool:
        return self.table == "services"

    def get(self, indicator: str, unit: Unit) -> Series | None:
        return self.series.get((indicator, unit))

    def main(self, unit: Unit) -> Series | None:
        """The series that stands for the topic in a unit: a service's unmet need, else the indicator."""
        return self.get(f"{self.indicator}.unmet" if self.is_service else self.indicator, unit)


@dataclass
class ScenarioEffects:
    name: str
    levers: list[Lever]
    topics: list[Topic]
    groups: list[Series]  # unmet need by group with a clear difference (districts and city)
    comparison: "Comparison"  # every series of the scenario, for maps and tables of all areas


class Comparison:
    """The comparison rows of one scenario, looked up by (table, indicator, level, area)."""

    KEYS = ["table", "indicator", "level", "area"]

    def __init__(self, rows: pd.DataFrame, glossary: Glossary, replications: int):
        self.replications = replications
        rows = rows.sort_values([*self.KEYS, "year"], kind="stable").reset_index(drop=True)
        code = rows["table"].astype(str) + ":" + rows["indicator"].astype(str)
        families = {c: glossary.term(*c.split(":", 1)).family for c in code.unique()}
        diff = rows["difference"].to_numpy(float)
        relevant = np.abs(diff) >= code.map(families).map(RELEVANT).to_numpy(float)
        if replications >= 2:
            outside = (rows["difference_p5"].to_numpy(float) > 0) | (rows["difference_p95"].to_numpy(float) < 0)
        else:
            outside = diff != 0
        self.rows = rows.assign(clear=relevant & outside)
        self._rows_of = self.rows.groupby(self.KEYS, sort=False).indices  # key -> its rows (by year)

    def series(self, table: str, indicator: str, unit: Unit) -> Series | None:
        where = self._rows_of.get((table, indicator, unit.level, unit.area))
        if where is None:
            return None
        r = self.rows.iloc[where]
        col = lambda name: r[name].to_numpy(float)  # noqa: E731
        return Series(
            table,
            indicator,
            unit,
            r["year"].to_numpy(int),
            col("baseline"),
            col("value"),
            col("difference"),
            col("difference_p5"),
            col("difference_p95"),
            r["clear"].to_numpy(bool),
        )

    def clear_keys(self) -> pd.DataFrame:
        """(table, indicator, level, area) with a clear difference in some year, and the largest
        difference relative to the baseline there."""
        c = self.rows[self.rows["clear"]]
        rel = c["difference"].abs() / c["baseline"].abs().clip(lower=1e-9)
        return c.assign(relative=rel).groupby(["table", "indicator", "level", "area"], as_index=False)["relative"].max()


def levers(base: Scenario, scenario: Scenario) -> list[Lever]:
    """The scenario's changes against the baseline: entries of the lever lists that the baseline
    does not have, overrides of service values, and any other setting that differs."""
    out: list[Lever] = []
    for o in scenario.offerings:
        if o not in base.offerings:
            out.append(Lever("offering", o.year, (o.area,), (o.service,), o))
    for t in scenario.take_up:
        if t not in base.take_up:
            out.append(Lever("take_up", t.from_year, (), (t.service,), t))
    for name, override in scenario.services.items():
        if base.services.get(name) != override:
            out.append(Lever("service", None, (), (name,), override))
    for h in scenario.housing:
        if h not in base.housing:
            out.append(Lever("housing", h.year, (h.area,), (), h))
    for v in scenario.volunteer_programmes:
        if v not in base.volunteer_programmes:
            out.append(Lever("volunteer_programme", v.year, (v.area,), (), v))
    for c in scenario.in_migration.changes:
        if c not in base.in_migration.changes:
            out.append(Lever("in_migration", c.from_year, (), (), c))
    listed = {"offerings", "take_up", "services", "housing", "volunteer_programmes", "name", "description", "description_de"}
    a, b = base.model_dump(), scenario.model_dump()
    a["in_migration"].pop("changes"), b["in_migration"].pop("changes")
    for key in b:
        if key not in listed and a.get(key) != b[key]:
            out.append(Lever("other", None, (), (), key))
    return sorted(out, key=lambda x: (x.year is None, x.year or 0))


def analyse(
    rows: pd.DataFrame,
    base: Scenario,
    scenario: Scenario,
    glossary: Glossary,
    replications: int,
    district_of: dict[str, str],
) -> ScenarioEffects:
    """The levers of ``scenario`` and what the report shows of its comparison ``rows`` (one scenario's
    rows of ``ensemble.compare``). ``district_of``: the Sozialrathaus district of every area of the run."""
    comp = Comparison(rows, glossary, replications)
    moves = levers(base, scenario)
    several_districts = len(set(district_of.values())) > 1
    city = [Unit("city", next(iter(rows.loc[rows["level"] == "city", "area"]), ""))] if several_districts else []
    clear = comp.clear_keys()
    topics: list[Topic] = []

    def clear_units(table: str, indicators: list[str], exclude: list[Unit]) -> list[Unit]:
        """The areas, then the districts, with the largest clear effect (MAX_UNITS each)."""
        c = clear[(clear["table"] == table) & clear["indicator"].isin(indicators)]
        out = []
        for level in ("area", "sozialrathaus"):
            largest = c[c["level"] == level].groupby("area")["relative"].max().sort_values(ascending=False).index
            out += [u for u in (Unit(level, a) for a in largest) if u not in exclude][:MAX_UNITS]
        return out

    lever_services = list(dict.fromkeys(s for m in moves for s in m.services))
    clear_services = sorted(set(clear.loc[clear["table"] == "services", "indicator"].str.split(".").str[0]) - set(lever_services))
    for service in [*lever_services, *clear_services]:
        placed = [a for m in moves if service in m.services for a in m.areas]
        units = [Unit("area", a) for a in dict.fromkeys(placed)]
        units += [Unit("sozialrathaus", d) for d in dict.fromkeys(district_of[a] for a in placed if a in district_of)]
        units += clear_units("services", [f"{service}.{m}" for m in MEASURES], units + city)
        units = _ordered(units + city)
        topic = Topic("services", service, service in lever_services, units)
        for unit in units:
            for m in MEASURES:
                s = comp.series("services", f"{service}.{m}", unit)
                if s is not None:
                    topic.series[(f"{service}.{m}", unit)] = s
        topics.append(topic)

    others = clear[~clear["table"].isin(["services", "services_unmet"]) & ~clear["indicator"].str.startswith(HIDDEN)]
    ranked = others.groupby(["table", "indicator"], as_index=False)["relative"].max().sort_values("relative", ascending=False)
    for table, indicator in ranked[["table", "indicator"]].head(MAX_INDICATOR_TOPICS).itertuples(index=False):
        units = _ordered(clear_units(table, [indicator], city) + city)
        topic = Topic(table, indicator, False, units)
        for unit in units:
            s = comp.series(table, indicator, unit)
            if s is not None:
                topic.series[(indicator, unit)] = s
        topics.append(topic)

    shown = {t.indicator for t in topics if t.is_service}
    group_keys = clear[(clear["table"] == "services_unmet") & clear["indicator"].str.split(".").str[0].isin(shown)]
    if not several_districts:
        group_keys = group_keys[group_keys["level"] != "city"]
    groups = [comp.series("services_unmet", k.indicator, Unit(k.level, k.area)) for k in group_keys.itertuples()]
    return ScenarioEffects(scenario.name, moves, topics, [g for g in groups if g is not None], comp)


def _ordered(units: list[Unit]) -> list[Unit]:
    """Areas first, then districts, then the city: from where a lever acts to the whole."""
    order = {"area": 0, "sozialrathaus": 1, "city": 2}
    return sorted(units, key=lambda u: order[u.level])


def area_differences(rows: pd.DataFrame, table: str, indicator: str, year: int | None = None) -> tuple[int, pd.Series]:
    """Mean differences per area of one indicator in ``year`` (default: the year in which the
    areas' differences add up to the most, i.e. the year of the largest effect)."""
    sub = rows[(rows["table"] == table) & (rows["indicator"] == indicator) & (rows["level"] == "area")]
    if year is None:
        size = sub.assign(a=sub["difference"].abs()).groupby("year")["a"].sum()
        year = int(size.idxmax()) if len(size) and size.max() > 0 else int(sub["year"].max())
    return year, sub[sub["year"] == year].set_index("area")["difference"]
