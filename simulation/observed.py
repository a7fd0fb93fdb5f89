"""Observed series a run can be compared with, one row per observation, and their simulated
counterparts (sources and caveats: calibration/data/PROVENANCE.md).

Columns: ``series, area, group, date, year, value, unit, source, note, output``. ``area`` is the
city (``Frankfurt am Main``), a Stadtteil, or ``A+B`` for a figure that covers several Stadtteile
together (compared with their sum); ``output`` is the name of the simulated counterpart
(``simulation.experiment``), read from a run's tables.

Series:

- ``city_total``: register residents with main residence on the date (31 Dec; half-year dates
  compare with the run's value between the two 31 Decembers). Register file first, then the
  register series of ``frankfurt_population_totals.csv``, then the 2011/2012 profile total.
- ``stadtteil_total``: Stadtteil residents (press releases, statistik.aktuell, Wikipedia info
  boxes citing statistik.aktuell, the 2011/2012 profile). Where a source prints only the change
  since a date with a known level, the level is derived (note ``DERIVED``).
- ``foreigners``: residents of foreign nationality (the model's ``foreign`` group).
- ``births``: live births to mothers resident in Frankfurt in the calendar year. The registry
  offices' registrations include mothers from outside the city and are never used.
- ``deaths``: deaths of Frankfurt residents in the calendar year (registry registrations: never).
- ``age_share``: share of the residents in each of 17 age groups on 31 Dec 2023. The source is
  the official population on the census-2022 basis (749,596), not the register (770,166), so
  only shares are compared, never counts. ``age_share_broad``: the same summed into 0-5, 6-17,
  18-29, 30-64 and 65+ (DERIVED).
- ``mean_age``: average age (city 2011, 2015, 2023; Stadtteile 2011, 2012), compared with the
  simulated mean of exact ages.

``comparable`` says which observations a run can be judged against: inside its years (after the
base date: base-year figures are inputs, not tests) and covering only areas of the run (city
figures need a whole-city run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulation import data
from simulation.errors import InputError
from simulation.vocabulary import CITY

COLUMNS = ["series", "area", "group", "date", "year", "value", "unit", "source", "note", "output"]

REGISTER = "frankfurt_city_population_register.csv"
TOTALS = "frankfurt_population_totals.csv"
CORE = "frankfurt_stadtteil_population_core_2011_2012.csv"
PARTIAL = "frankfurt_stadtteil_population_partial.csv"
WIKI = "frankfurt_stadtteil_residents_wiki_2021_2022.csv"
STADTTEIL = "frankfurt_stadtteil_population.csv"
BIRTHS_DEATHS = "frankfurt_births_deaths_fertility.csv"
AGE_GROUPS = "frankfurt_population_by_age_group_2023.csv"
SOURCE_FILES = (REGISTER, TOTALS, CORE, PARTIAL, WIKI, STADTTEIL, BIRTHS_DEATHS, AGE_GROUPS)

BROAD_AGE_GROUPS = {"0-5": (0, 5), "6-17": (6, 17), "18-29": (18, 29), "30-64": (30, 64), "65+": (65, 100)}


@dataclass(frozen=True)
class Series:
    description: str
    unit: str
    flow: bool  # counts of a calendar year (else a stock on a date)
    output: str  # output kind of the simulated counterpart


SERIES = {
    "city_total": Series("register residents with main residence, whole city", "persons", False, "residents"),
    "stadtteil_total": Series("register residents with main residence per Stadtteil", "persons", False, "residents"),
    "foreigners": Series("residents of foreign nationality", "persons", False, "residents_mb:foreign"),
    "births": Series("live births to resident mothers in the year", "births", True, "births"),
    "deaths": Series("deaths of residents in the year", "deaths", True, "deaths"),
    "age_share": Series("share of residents by age group, 17 groups (census-2022 basis; shares only)", "share", False, "share_age"),
    "age_share_broad": Series("share of residents by broad age group (census-2022 basis; shares only)", "share", False, "share_age"),
    "mean_age": Series("average age", "years", False, "mean_age"),
}


def _date(text) -> str | None:
    """ISO date of a reference date: 'YYYY-MM-DD' as is, a bare year as its 31 Dec."""
    text = str(text).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    if re.fullmatch(r"\d{4}", text):
        return f"{text}-12-31"
    return None


def output_name(series: str, area: str, group: str, date: str) -> str:
    """Name of the simulated counterpart of an observation (``simulation.experiment`` syntax)."""
    spec = SERIES[series]
    kind = spec.output + (f":{group}" if spec.output == "share_age" else "")
    where = "" if area == CITY else f":{area}"
    when = date[:4] if spec.flow or date.endswith("-12-31") else date
    return f"{kind}{where}@{when}"


def _rows(series: str, frame: pd.DataFrame, source: str, note_prefix: str = "") -> pd.DataFrame:
    """Observation rows from a frame with columns area, date, value, note (group optional)."""
    out = pd.DataFrame(
        {
            "series": series,
            "area": frame["area"].astype(str).to_numpy(),
            "group": frame["group"].astype(str).to_numpy() if "group" in frame else "all",
            "date": frame["date"].to_numpy(),
            "value": frame["value"].astype(float).to_numpy(),
            "unit": SERIES[series].unit,
            "source": source,
            "note": [(note_prefix + (str(n) if isinstance(n, str) else "")).strip() for n in frame["note"]],
        }
    )
    return out.dropna(subset=["date", "value"])


def _read(data_dir: Path, name: str, columns: list[str]) -> pd.DataFrame:
    return data.read_table(Path(data_dir) / name, columns)


def _long(data_dir: Path, name: str) -> pd.DataFrame:
    """A file of the second round (shared long layout), with an ISO ``date`` column."""
    frame = _read(data_dir, name, ["reference_date", "area", "group", "indicator", "value", "note"])
    return frame.assign(date=frame["reference_date"].map(_date))


def _city_totals(data_dir: Path) -> list[pd.DataFrame]:
    register = _read(data_dir, REGISTER, ["reference_date", "residents_main_residence", "foreigners", "note"])
    totals = _long(data_dir, TOTALS)
    core = _read(data_dir, CORE, ["stadtteil_nr", "reference_date", "residents", "foreigners", "mean_age_years"])
    melde = totals[totals["indicator"].str.startswith("Melderegister, population with Hauptwohnung") & (totals["group"] == "all")]
    city_core = core[core["stadtteil_nr"].astype(str) == "total"]
    parts = [
        _rows(
            "city_total", register.assign(area=CITY, date=register["reference_date"], value=register["residents_main_residence"]), REGISTER
        ),
        _rows("city_total", melde.assign(area=CITY), TOTALS),
        _rows(
            "city_total",
            city_core.assign(area=CITY, date=city_core["reference_date"], value=city_core["residents"], note=""),
            CORE,
            "Stadtteil profile total",
        ),
    ]
    foreign = register.dropna(subset=["foreigners"])
    non_german = totals[totals["indicator"].str.startswith("Melderegister") & (totals["group"] == "citizenship=non-German")]
    parts += [
        _rows("foreigners", foreign.assign(area=CITY, date=foreign["reference_date"], value=foreign["foreigners"]), REGISTER),
        _rows("foreigners", non_german.assign(area=CITY, group="all"), TOTALS),
        _rows(
            "foreigners",
            city_core.assign(area=CITY, date=city_core["reference_date"], value=city_core["foreigners"], note=""),
            CORE,
            "Stadtteil profile total",
        ),
    ]
    # mean age: the totals file, the 2011/2012 profile and the register's 2023 press figure
    average = totals[totals["indicator"] == "average age"]
    parts.append(_rows("mean_age", average.assign(area=CITY), TOTALS, "reference date given as a year: read as 31 Dec."))
    parts.append(
        _rows(
            "mean_age",
            city_core.assign(area=CITY, date=city_core["reference_date"], value=city_core["mean_age_years"], note=""),
            CORE,
            "Stadtteil profile total",
        )
    )
    for row in register.itertuples():
        m = re.search(r"mean age (\d+(?:\.\d+)?) years", str(row.note))
        if m:
            frame = pd.DataFrame({"area": [CITY], "date": [row.reference_date], "value": [float(m.group(1))], "note": [""]})
            parts.append(_rows("mean_age", frame, REGISTER, "read from the note of the register row (hessenschau.de, citing the city)"))
    return parts


def _stadtteil_totals(data_dir: Path, names: list[str]) -> list[pd.DataFrame]:
    press = _long(data_dir, STADTTEIL)
    press = press.assign(area=press["area"].str.replace(r"^Frankfurt Stadtteil ", "", regex=True))
    partial = _read(data_dir, PARTIAL, ["reference_date", "stadtteil", "residents_main_residence", "foreigners", "note"])
    wiki = _read(data_dir, WIKI, ["reference_date", "stadtteil", "residents", "note"])
    wiki = wiki.assign(
        stadtteil=wiki["stadtteil"].replace(
            {"Sachsenhausen (Sachsenhausen-Nord + Sachsenhausen-Süd)": "Sachsenhausen-Nord+Sachsenhausen-Süd"}
        )
    )
    core = _read(data_dir, CORE, ["stadtteil_nr", "stadtteil", "reference_date", "residents", "foreigners", "mean_age_years"])
    core = core[core["stadtteil_nr"].astype(str) != "total"].assign(note="")
    levels = press[press["indicator"].str.startswith("population (")]
    parts = [
        _rows("stadtteil_total", levels, STADTTEIL),
        _rows(
            "stadtteil_total",
            partial.assign(area=partial["stadtteil"], date=partial["reference_date"], value=partial["residents_main_residence"]),
            PARTIAL,
        ),
        _rows("stadtteil_total", wiki.assign(area=wiki["stadtteil"], date=wiki["reference_date"], value=wiki["residents"]), WIKI),
        _rows("stadtteil_total", core.assign(area=core["stadtteil"], date=core["reference_date"], value=core["residents"]), CORE),
    ]
    foreign = partial.dropna(subset=["foreigners"])
    parts += [
        _rows(
            "foreigners", foreign.assign(area=foreign["stadtteil"], date=foreign["reference_date"], value=foreign["foreigners"]), PARTIAL
        ),
        _rows("foreigners", core.assign(area=core["stadtteil"], date=core["reference_date"], value=core["foreigners"]), CORE),
        _rows("mean_age", core.assign(area=core["stadtteil"], date=core["reference_date"], value=core["mean_age_years"]), CORE),
    ]
    # a printed change since a date whose level is known gives the level (DERIVED); in date order,
    # so that a derived level can anchor the next change
    known = pd.concat(parts[:4], ignore_index=True).drop_duplicates(["area", "date"]).set_index(["area", "date"])["value"].to_dict()
    derived = []
    for row in press[press["indicator"].str.startswith("change vs ")].sort_values("date").itertuples():
        m = re.match(r"change vs (\d{2})\.(\d{2})\.(\d{4})", row.indicator)
        since = f"{m.group(3)}-{m.group(2)}-{m.group(1)}" if m else None
        if since and (row.area, since) in known and (row.area, row.date) not in known:
            known[(row.area, row.date)] = known[(row.area, since)] + float(row.value)
            note = f"DERIVED: level on {since} plus the printed change {row.value:+,.0f}"
            derived.append({"area": row.area, "date": row.date, "value": known[(row.area, row.date)], "note": note})
    if derived:
        parts.append(_rows("stadtteil_total", pd.DataFrame(derived), STADTTEIL))
    for part in parts:
        for area in part["area"]:
            unknown = [a for a in area.split("+") if a not in names]
            if unknown:
                raise InputError(None, "stadtteil", f"unknown Stadtteil '{unknown[0]}' in the observed series", ", ".join(names))
    return parts


def _vital(data_dir: Path) -> list[pd.DataFrame]:
    frame = _long(data_dir, BIRTHS_DEATHS)
    city = frame["area"] == CITY
    births = frame[city & frame["indicator"].str.startswith("live births to mothers resident in Frankfurt")]
    deaths = frame[city & frame["indicator"].str.startswith("deaths of Frankfurt residents")]
    return [
        _rows("births", births.assign(area=CITY), BIRTHS_DEATHS, "calendar year; residence principle (Wohnortprinzip)."),
        _rows("deaths", deaths.assign(area=CITY), BIRTHS_DEATHS, "calendar year."),
    ]


def _age_group(label: str) -> tuple[int, int] | None:
    """(first, last) age of a label like 'unter 3 Jahre', '3 bis unter 6 Jahre', '75 Jahre und mehr'."""
    text = label.split(";")[0].strip()
    if m := re.fullmatch(r"unter (\d+) Jahre", text):
        return 0, int(m.group(1)) - 1
    if m := re.fullmatch(r"(\d+) bis unter (\d+) Jahre", text):
        return int(m.group(1)), int(m.group(2)) - 1
    if m := re.fullmatch(r"(\d+) Jahre und mehr", text):
        return int(m.group(1)), 100
    return None


def _label(lo: int, hi: int) -> str:
    return f"{lo}+" if hi >= 100 else f"{lo}-{hi}"


def _age_shares(data_dir: Path) -> list[pd.DataFrame]:
    frame = _long(data_dir, AGE_GROUPS)
    path = Path(data_dir) / AGE_GROUPS
    out = []
    for date, rows in frame.groupby("date"):
        total = rows[rows["group"].str.startswith("Insgesamt")]
        groups = [(g, _age_group(g), v) for g, v in zip(rows["group"], rows["value"]) if _age_group(g)]
        if total.empty or not groups:
            raise InputError(path, "group", f"no total ('Insgesamt') or no age groups for {date}", "age groups and a total")
        total_value = float(total["value"].iloc[0])
        counts = {_label(*ages): float(v) for _, ages, v in groups}
        if abs(sum(counts.values()) - total_value) > 0.5:
            raise InputError(path, "value", f"the age groups of {date} do not add up to the total {total_value:,.0f}")
        note = f"share of the official population on the census-2022 basis ({total_value:,.0f}); compare shares, not counts"
        out.append(
            _rows(
                "age_share",
                pd.DataFrame(
                    {"area": CITY, "group": list(counts), "date": date, "value": [v / total_value for v in counts.values()], "note": ""}
                ),
                AGE_GROUPS,
                note,
            )
        )
        bounds = [_age_group(g) for g, _, _ in groups]
        broad = {}
        for name, (lo, hi) in BROAD_AGE_GROUPS.items():
            inside = [v for (a, b), (_, _, v) in zip(bounds, groups) if a >= lo and b <= hi]
            broad[name] = sum(float(v) for v in inside) / total_value
        out.append(
            _rows(
                "age_share_broad",
                pd.DataFrame({"area": CITY, "group": list(broad), "date": date, "value": list(broad.values()), "note": ""}),
                AGE_GROUPS,
                "DERIVED: sum of the 17 groups; " + note,
            )
        )
    return out


def observations(data_dir: Path | None = None) -> pd.DataFrame:
    """Every observation of the series above (columns ``COLUMNS``), one per series, area, group
    and date (the first source in the order of the module docstring wins), sorted."""
    data_dir = Path(data_dir) if data_dir else data.DEFAULT_DATA_DIR
    names = data.load_areas(data_dir).names
    parts = _city_totals(data_dir) + _stadtteil_totals(data_dir, names) + _vital(data_dir) + _age_shares(data_dir)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.drop_duplicates(["series", "area", "group", "date"], keep="first")
    return _finish(frame)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(
        year=frame["date"].str[:4].astype(int),
        output=[output_name(s, a, g, d) for s, a, g, d in zip(frame["series"], frame["area"], frame["group"], frame["date"])],
    )
    order = {s: i for i, s in enumerate(SERIES)}
    # age groups in age order ("3-5" before "10-14"), other groups by name
    first_age = frame["group"].str.extract(r"^(\d+)", expand=False).astype(float).fillna(-1)
    frame = frame.assign(_o=frame["series"].map(order), _g=first_age)
    frame = frame.sort_values(["_o", "area", "_g", "group", "date"], kind="stable")
    return frame[COLUMNS].reset_index(drop=True)


def read_observations(path: Path, names: list[str]) -> pd.DataFrame:
    """Observations from a researcher's CSV (columns series, area, date, value; optional group,
    source, note): the city's own series or synthetic ones. InputError on unknown series or areas."""
    path = Path(path)
    frame = data.read_table(path, ["series", "area", "date", "value"])
    for i, row in enumerate(frame.itertuples(), start=2):
        if row.series not in SERIES:
            raise InputError(path, f"series (line {i})", f"unknown series '{row.series}'", ", ".join(SERIES))
        if row.area != CITY and any(a not in names for a in str(row.area).split("+")):
            raise InputError(path, f"area (line {i})", f"unknown area '{row.area}'", f"{CITY}, a Stadtteil or A+B")
        if _date(row.date) is None:
            raise InputError(path, f"date (line {i})", f"'{row.date}' is not a date", "YYYY-MM-DD or YYYY")
    frame = frame.assign(
        date=frame["date"].map(_date),
        value=pd.to_numeric(frame["value"], errors="raise"),
        group=frame["group"].astype(str) if "group" in frame else "all",
        unit=frame["series"].map(lambda s: SERIES[s].unit),
        source=frame["source"] if "source" in frame else path.name,
        note=frame["note"].fillna("") if "note" in frame else "",
    )
    return _finish(frame)


def comparable(obs: pd.DataFrame, run_areas: list[str], all_areas: list[str], base_year: int, last_year: int) -> pd.Series:
    """Which observations a run can be judged against: after the base date and at most its last
    31 Dec (flows: the calendar years base_year+1..last_year), and covering only areas of the run
    (city figures only when the run covers every area)."""
    whole_city = set(all_areas) <= set(run_areas)
    areas_ok = np.array([whole_city if a == CITY else all(p in run_areas for p in a.split("+")) for a in obs["area"]], dtype=bool)
    dates = obs["date"]
    in_years = (dates > f"{base_year}-12-31") & (dates <= f"{last_year}-12-31")
    return pd.Series(areas_ok & in_years.to_numpy(), index=obs.index)


def simulated(result, obs: pd.DataFrame) -> np.ndarray:
    """The simulated counterpart of every observation row from a run (``RunResult`` or tables)."""
    from simulation.experiment import output_values

    return output_values(result, list(obs["output"]))
