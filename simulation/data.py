"""Loading the real input tables in ``calibration/data`` (sources in its PROVENANCE.md).

Every loader checks that its file exists and has the columns it needs, and raises an
``InputError`` naming the file and the column otherwise. Tables are read once per process.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, wraps
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from simulation.errors import InputError
from simulation.vocabulary import MAX_AGE, SEXES

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "calibration" / "data"

# Age groups of the city's Stadtteil profiles (inclusive bounds; 65+ open, ends at MAX_AGE).
AGE_GROUPS = {"0-5": (0, 5), "6-13": (6, 13), "14-17": (14, 17), "18-29": (18, 29), "30-64": (30, 64), "65+": (65, MAX_AGE)}

FILES = {
    "structure": "frankfurt_stadtteil_bevoelkerungsstruktur_2011_2012.csv",
    "mapping": "frankfurt_stadtbezirk_sozialrathaus_mapping_2022.csv",
    "register": "frankfurt_city_population_register.csv",
    "stadtteil_partial": "frankfurt_stadtteil_population_partial.csv",
    "stadtteil_wiki": "frankfurt_stadtteil_residents_wiki_2021_2022.csv",
    "life_table": "germany_life_table_destatis_12621-0001.csv",
    "asfr": "germany_asfr_destatis_12612-0008.csv",
    "births_by_sex": "germany_live_births_by_sex_destatis_12612-0001.csv",
    "age_proxy": "germany_population_by_age_sex_destatis_12411-0006.csv",
    "households": "frankfurt_households_2022.csv",
    "benefits": "frankfurt_social_benefits.csv",
    "flows": "frankfurt_city_population_flows.csv",
    "register_extract": "register_extract.csv",
}

# Labels of the Stadtteil profile (indicator_de) for the cells the synthesiser needs.
_GROUP_LABELS = {
    "0-5": "bis 5 Jahre",
    "6-13": "von 6 bis 13 Jahren",
    "14-17": "von 14 bis 17 Jahren",
    "18-29": "von 18 bis 29 Jahren",
    "30-64": "von 30 bis 64 Jahren",
    "65+": "ab 65 Jahren",
}
_ORIGIN_LABELS = {
    "none": "Deutsche ohne Migrationshintergrund",
    "german_mb": "Deutsche mit Migrationshintergrund",
    "foreign": "Ausländerinnen und Ausländer",
}
_FEMALE_LABELS = {
    "0-5": "Mädchen bis 5 Jahre in %",
    "6-13": "Mädchen von 6 bis 13 Jahren in %",
    "14-17": "Junge Frauen von 14 bis 17 Jahren in %",
    "18-29": "Frauen von 18 bis 29 Jahren in %",
    "30-64": "Frauen von 30 bis 64 Jahren in %",
    "65+": "Frauen ab 65 Jahren in %",
}
_DURATION_LABELS = {  # adults by age group with residence duration < 5 years / 15+ years
    ("18-29", "lt5"): "Junge Erwachsene mit Wohndauer unter 5 Jahre",
    ("30-64", "lt5"): "30- bis 64-Jährige mit Wohndauer unter 5 Jahre",
    ("65+", "lt5"): "Seniorinnen und Senioren mit Wohndauer unter 5 Jahre",
    ("18-29", "ge15"): "Junge Erwachsene mit Wohndauer 15 Jahre und länger",
    ("30-64", "ge15"): "30- bis 64-Jährige mit Wohndauer 15 Jahre und länger",
    ("65+", "ge15"): "Seniorinnen und Senioren mit Wohndauer 15 Jahre und länger",
}


def data_path(data_dir: Path, key: str) -> Path:
    return Path(data_dir) / FILES[key]


# the files read while a ``logged_reads()`` block is open (load_inputs hashes exactly these)
_READ_LOGS: list[set[Path]] = []


@contextmanager
def logged_reads() -> Iterator[set[Path]]:
    """Collect the paths of every input file read inside the block (cached reads included)."""
    log: set[Path] = set()
    _READ_LOGS.append(log)
    try:
        yield log
    finally:
        _READ_LOGS.remove(log)


def note_read(path: Path) -> None:
    """Record that an input file is read (called by every reader, before any cache)."""
    for log in _READ_LOGS:
        log.add(Path(path).resolve())


def cached_reader(*keys: str):
    """Cache a loader of ``data_dir`` (parsing once per process) while still noting its files
    (``FILES`` keys) as read on every call, so a cached read appears in the manifest too."""

    def wrap(loader):
        cached = lru_cache(maxsize=4)(loader)

        @wraps(loader)
        def reader(data_dir, *args):
            for key in keys:
                note_read(data_path(data_dir, key))
            return cached(data_dir, *args)

        return reader

    return wrap


def read_table(path: Path, columns: list[str], **kwargs) -> pd.DataFrame:
    """Read a CSV and check that it has ``columns``; errors name the file and the column."""
    path = Path(path)
    note_read(path)
    if not path.is_file():
        raise InputError(path, None, "data file not found", "a CSV file under calibration/data (see PROVENANCE.md)")
    try:
        frame = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, None, f"cannot be read as CSV ({exc})") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(path, missing[0], "column missing", "columns " + ", ".join(columns))
    return frame


def file_hashes(paths, root: Path) -> dict[str, str]:
    """SHA-256 of each file (that exists), keyed by its path relative to ``root`` where it lies
    inside it (else its absolute path), sorted: the manifest's list of inputs read."""
    root = Path(root).resolve()
    out = {}
    for path in sorted(Path(p).resolve() for p in paths):
        if path.is_file():
            key = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass(frozen=True)
class AreaTable:
    """The social areas: Stadtteile with number, name and Sozialrathaus district."""

    frame: pd.DataFrame  # columns: area_nr, area, sozialrathaus, split_between

    @property
    def names(self) -> list[str]:
        return list(self.frame["area"])

    def sozialrathaus_of(self) -> dict[str, str]:
        return dict(zip(self.frame["area"], self.frame["sozialrathaus"]))


@cached_reader("structure")
def load_structure(data_dir: Path) -> pd.DataFrame:
    """The Stadtteil profile 2011/2012 in long form (all 45 statistical Stadtteile)."""
    frame = read_table(
        data_path(data_dir, "structure"),
        ["stadtteil_nr", "stadtteil", "reference_date", "indicator_de", "value"],
        dtype={"stadtteil_nr": str},
    )
    return frame


@cached_reader("mapping", "structure")
def load_areas(data_dir: Path) -> AreaTable:
    """Stadtteile of the 2012 profile, each assigned to one Sozialrathaus.

    Rule: a Stadtteil whose Stadtbezirke all belong to one Sozialrathaus (2022 street directory)
    goes there. A split Stadtteil (Nordend-West: 4 Stadtbezirke Ost, 3 Dornbusch; Praunheim:
    4 Bockenheim, 1 Nord) goes to the Sozialrathaus holding most of its Stadtbezirke, because no
    population per Stadtbezirk is available to split it; ``split_between`` records the others.
    """
    path = data_path(data_dir, "mapping")
    mapping = read_table(path, ["stadtbezirk_nr", "stadtteil", "sozialrathaus"], dtype={"stadtbezirk_nr": str})
    structure = load_structure(data_dir)
    areas = (
        structure.loc[structure["stadtteil_nr"] != "total", ["stadtteil_nr", "stadtteil"]]
        .drop_duplicates()
        .assign(area_nr=lambda f: f["stadtteil_nr"].astype(int))
        .sort_values("area_nr")
    )
    counts = mapping.groupby(["stadtteil", "sozialrathaus"]).size().rename("n").reset_index()
    rows = []
    for nr, name in zip(areas["area_nr"], areas["stadtteil"]):
        options = counts[counts["stadtteil"] == name].sort_values(["n", "sozialrathaus"], ascending=[False, True])
        if options.empty:
            raise InputError(path, "stadtteil", f"Stadtteil '{name}' has no Sozialrathaus", "every Stadtteil of the profile")
        rows.append(
            {
                "area_nr": int(nr),
                "area": name,
                "sozialrathaus": options["sozialrathaus"].iloc[0],
                "split_between": ";".join(options["sozialrathaus"].iloc[1:]),
            }
        )
    return AreaTable(pd.DataFrame(rows))


def _indicator(structure: pd.DataFrame, date: str, label: str) -> pd.Series:
    rows = structure[(structure["reference_date"] == date) & (structure["indicator_de"] == label)]
    return rows.set_index("stadtteil")["value"].astype(float)


def profile_cells(data_dir: Path, date: str = "2012-12-31") -> pd.DataFrame:
    """Persons per area x age group x origin, with the female share of each area x age group.

    Source: Stadtteil profiles (Bürgeramt, Statistik und Wahlen), 31 Dec 2011 or 2012.
    Columns: area, age_group, origin, persons, female_share.
    """
    structure = load_structure(data_dir)
    areas = load_areas(data_dir).names
    if date not in set(structure["reference_date"]):
        raise InputError(data_path(data_dir, "structure"), "reference_date", f"no rows for {date}", "2011-12-31, 2012-12-31")
    rows = []
    for group, label in _GROUP_LABELS.items():
        female = _indicator(structure, date, _FEMALE_LABELS[group]) / 100.0
        for origin, prefix in _ORIGIN_LABELS.items():
            counts = _indicator(structure, date, f"{prefix} {label}")
            for area in areas:
                rows.append((area, group, origin, int(counts[area]), float(female[area])))
    return pd.DataFrame(rows, columns=["area", "age_group", "origin", "persons", "female_share"])


def residence_duration(data_dir: Path, date: str = "2012-12-31") -> pd.DataFrame:
    """Adults per area x age group with residence duration < 5 and >= 15 years, and the group total.

    Source: Stadtteil profiles 2012 ("Wohndauer"). Columns: area, age_group, lt5, ge15, persons.
    """
    structure = load_structure(data_dir)
    cells = profile_cells(data_dir, date)
    totals = cells.groupby(["area", "age_group"])["persons"].sum()
    rows = []
    for area in load_areas(data_dir).names:
        for group in ("18-29", "30-64", "65+"):
            lt5 = _indicator(structure, date, _DURATION_LABELS[(group, "lt5")])[area]
            ge15 = _indicator(structure, date, _DURATION_LABELS[(group, "ge15")])[area]
            rows.append((area, group, lt5, ge15, totals[(area, group)]))
    return pd.DataFrame(rows, columns=["area", "age_group", "lt5", "ge15", "persons"])


def register_totals(data_dir: Path) -> pd.Series:
    """City residents with main residence by reference date (municipal register)."""
    frame = read_table(data_path(data_dir, "register"), ["reference_date", "residents_main_residence"])
    return frame.set_index("reference_date")["residents_main_residence"].astype(int)


def register_foreigners(data_dir: Path) -> pd.Series:
    frame = read_table(data_path(data_dir, "register"), ["reference_date", "foreigners"])
    return frame.dropna(subset=["foreigners"]).set_index("reference_date")["foreigners"].astype(int)


def stadtteil_totals(data_dir: Path) -> pd.DataFrame:
    """Official Stadtteil totals after 2012 (partial): columns reference_date, area, residents.

    Sources: statistik.aktuell / press releases (partial file) and Wikipedia info boxes citing
    statistik.aktuell 03/2023. A combined row ("Sachsenhausen (Nord + Süd)") is kept with both
    area names joined by '+' so the caller can split it.
    """
    partial = read_table(data_path(data_dir, "stadtteil_partial"), ["reference_date", "stadtteil", "residents_main_residence"])
    wiki = read_table(data_path(data_dir, "stadtteil_wiki"), ["reference_date", "stadtteil", "residents"])
    a = partial.rename(columns={"stadtteil": "area", "residents_main_residence": "residents"})[["reference_date", "area", "residents"]]
    b = wiki.rename(columns={"stadtteil": "area"})[["reference_date", "area", "residents"]]
    b["area"] = b["area"].str.replace(
        r"^Sachsenhausen \(Sachsenhausen-Nord \+ Sachsenhausen-Süd\)$", "Sachsenhausen-Nord+Sachsenhausen-Süd", regex=True
    )
    out = pd.concat([a, b], ignore_index=True).dropna(subset=["residents"])
    out["residents"] = out["residents"].astype(int)
    return out.drop_duplicates(subset=["reference_date", "area"], keep="first").reset_index(drop=True)


@cached_reader("life_table")
def life_tables(data_dir: Path) -> pd.DataFrame:
    """German period life tables (Destatis 12621-0001): period, sex, age, qx, lx, Lx, Tx."""
    return read_table(data_path(data_dir, "life_table"), ["period", "sex", "age", "qx", "lx", "Lx", "Tx"])


@cached_reader("asfr")
def asfr_table(data_dir: Path) -> pd.DataFrame:
    """German age-specific fertility rates per 1,000 women (Destatis 12612-0008), 1972-2024."""
    return read_table(data_path(data_dir, "asfr"), ["year", "age_of_mother", "live_births_per_1000_women"])


@cached_reader("births_by_sex")
def births_by_sex(data_dir: Path) -> pd.DataFrame:
    return read_table(data_path(data_dir, "births_by_sex"), ["year", "male", "female", "total"])


@cached_reader("age_proxy")
def single_age_proxy(data_dir: Path, date: str = "2014-12-31") -> pd.DataFrame:
    """Germany by single year of age and sex (Destatis 12411-0006), 0-84 and open 85+."""
    frame = read_table(data_path(data_dir, "age_proxy"), ["reference_date", "age", "male", "female"])
    frame = frame[(frame["reference_date"] == date) & (frame["age"] != "total")].copy()
    if frame.empty:
        raise InputError(data_path(data_dir, "age_proxy"), "reference_date", f"no rows for {date}")
    return frame


@cached_reader("households")
def household_facts(data_dir: Path) -> dict[tuple[str, str], float]:
    """Frankfurt household statistics (register-based household generation), keyed (date, indicator)."""
    frame = read_table(data_path(data_dir, "households"), ["reference_date", "indicator", "value"])
    return {(d, i): float(v) for d, i, v in zip(frame["reference_date"], frame["indicator"], frame["value"])}


def benefit_share(data_dir: Path) -> float:
    """Share of residents receiving minimum-income benefits (city, 31 Dec 2022)."""
    frame = read_table(data_path(data_dir, "benefits"), ["indicator", "value"])
    row = frame[frame["indicator"] == "minimum_income_benefit_share_pct"]
    if row.empty:
        raise InputError(data_path(data_dir, "benefits"), "indicator", "row minimum_income_benefit_share_pct missing")
    return float(row["value"].iloc[0]) / 100.0


def age_weights_within_groups(data_dir: Path) -> np.ndarray:
    """Weights by sex (0 female, 1 male) and single age 0..MAX_AGE for splitting the profile's age groups.

    Germany 31 Dec 2014 by single age (Destatis 12411-0006; the date nearest to the 2012 profile)
    is the proxy. Its open group 85+ is spread over 85..100 in proportion to the stationary
    life-table population Lx (2016/18).
    """
    proxy = single_age_proxy(data_dir)
    lt = life_tables(data_dir)
    lt = lt[lt["period"] == "2016/18"]
    weights = np.zeros((2, MAX_AGE + 1))
    for s, sex in enumerate(SEXES):
        closed = proxy[proxy["age"] != "85+"]
        weights[s, closed["age"].astype(int).to_numpy()] = closed[sex].astype(float).to_numpy()
        open_total = float(proxy.loc[proxy["age"] == "85+", sex].iloc[0])
        lx = lt[(lt["sex"] == sex) & (lt["age"] >= 85)].sort_values("age")["Lx"].to_numpy(dtype=float)
        weights[s, 85:] = open_total * lx / lx.sum()
    return weights
