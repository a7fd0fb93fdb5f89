"""Loading the real input tables in ``calibration/data`` (sources in its PROVENANCE.md).

Every loader checks that its file exists and has the columns it needs, and raises an
``InputError`` naming the file and the column otherwise. Tables are read once per process.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, wraps
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from simulation.errors import InputError, did_you_mean
from simulation.vocabulary import MAX_AGE, ORIGINS, SEXES

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
    "age_groups": "frankfurt_population_by_age_group_2023.csv",
    "foreign_age_groups": "frankfurt_foreign_population_by_age_2013.csv",
    "households": "frankfurt_households_2022.csv",
    "benefits": "frankfurt_social_benefits.csv",
    "flows": "frankfurt_city_population_flows.csv",
    "register_extract": "register_extract.csv",
    "net_internal": "frankfurt_net_internal_migration_by_age_kwm.csv",
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
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not saved as UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(path, None, f"cannot be read as CSV ({str(exc).strip()})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        semicolons = len(frame.columns) == 1 and ";" in str(frame.columns[0])
        problem = "columns separated by ';' (as a German spreadsheet saves them)" if semicolons else "column missing"
        raise InputError(path, missing[0], problem, "comma-separated columns " + ", ".join(columns))
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
    return _profile_cells(data_dir, date).copy()  # built once per process (a run asks several times)


@cached_reader("structure", "mapping")
def _profile_cells(data_dir: Path, date: str) -> pd.DataFrame:
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
    series = {key: _indicator(structure, date, label) for key, label in _DURATION_LABELS.items()}  # once, not per area
    rows = []
    for area in load_areas(data_dir).names:
        for group in ("18-29", "30-64", "65+"):
            lt5 = series[(group, "lt5")][area]
            ge15 = series[(group, "ge15")][area]
            rows.append((area, group, lt5, ge15, totals[(area, group)]))
    return pd.DataFrame(rows, columns=["area", "age_group", "lt5", "ge15", "persons"])


def register_totals(data_dir: Path) -> pd.Series:
    """City residents with main residence by reference date (municipal register)."""
    frame = read_table(data_path(data_dir, "register"), ["reference_date", "residents_main_residence"])
    return frame.set_index("reference_date")["residents_main_residence"].astype(int)


def register_foreigners(data_dir: Path) -> pd.Series:
    frame = read_table(data_path(data_dir, "register"), ["reference_date", "foreigners"])
    return frame.dropna(subset=["foreigners"]).set_index("reference_date")["foreigners"].astype(int)


# ---- the city's own register extract (population.source = "register_extract") ----
EXTRACT_COLUMNS = ["area", "age", "sex", "migration_background", "persons"]
EXTRACT_TOTALS = ("total", "insgesamt")  # a key column with one of these: a row of sums


def register_extract(path: Path, areas: list[str]) -> pd.DataFrame:
    """A register extract: one row per area x age x sex x migration_background with a count of
    persons (columns ``EXTRACT_COLUMNS``; more columns are ignored). A row whose key columns say
    'total' (or 'insgesamt') is a sum over them: it must equal the rows it covers and is then
    dropped. Returns the cells with age and persons as integers. Each problem is an InputError
    naming the column and the row (counted like a spreadsheet: the header is row 1)."""
    path = Path(path)
    frame = read_table(path, EXTRACT_COLUMNS, dtype=str, keep_default_na=False)[EXTRACT_COLUMNS]
    if frame.empty:
        raise InputError(path, None, "has no rows", "one row per area, age, sex and migration_background with a count of persons")
    frame = frame.apply(lambda column: column.str.strip()).reset_index(drop=True)
    frame["area"] = frame["area"].map(lambda name: unicodedata.normalize("NFC", name))
    keys = EXTRACT_COLUMNS[:4]
    total = frame[keys].apply(lambda column: column.str.casefold().isin(EXTRACT_TOTALS))
    age = pd.to_numeric(frame["age"], errors="coerce")
    persons = pd.to_numeric(frame["persons"], errors="coerce")

    def refuse(column: str, bad: pd.Series, problem: str, allowed: str) -> None:
        hits = np.flatnonzero(bad.to_numpy())
        if len(hits):
            value = frame.at[int(hits[0]), column]
            raise InputError(path, column, problem.format(value=value, fit=did_you_mean(value, areas)), allowed, row=int(hits[0]) + 2)

    for column in keys:
        refuse(column, frame[column] == "", "empty", f"a value in every row of column {column}")
    ages = f"whole years 0..{MAX_AGE} ({MAX_AGE}: {MAX_AGE} and older)"
    refuse("area", ~frame["area"].isin(areas) & ~total["area"], "unknown area '{value}'{fit}", "Stadtteil names (sozialraum areas)")
    refuse("age", age.isna() & ~total["age"], "'{value}' is not an age", ages)
    refuse("age", ~age.between(0, MAX_AGE) & age.notna(), "unknown age {value}", ages)
    refuse("age", (age % 1 != 0) & age.notna(), "age {value} is not a whole number of years", ages)
    refuse("sex", ~frame["sex"].isin(SEXES) & ~total["sex"], "unknown value '{value}'", ", ".join(SEXES))
    refuse(
        "migration_background",
        ~frame["migration_background"].isin(ORIGINS) & ~total["migration_background"],
        "unknown value '{value}'",
        ", ".join(ORIGINS),
    )
    counts = "a whole number of persons, 0 or more"
    refuse("persons", persons.isna(), "'{value}' is not a number of persons", counts)
    refuse("persons", persons < 0, "negative count {value}", counts)
    refuse("persons", persons % 1 != 0, "{value} is not a whole number", counts)
    frame["age"], frame["persons"] = age, persons
    sums = total.any(axis=1).to_numpy()
    cells = frame[~sums].astype({"age": int, "persons": np.int64})
    seen: dict[tuple, int] = {}
    for row, key in zip(cells.index, cells[keys].itertuples(index=False, name=None)):
        if key in seen:
            raise InputError(
                path, None, f"repeats the cell {', '.join(map(str, key))} of row {seen[key] + 2}", "one row per cell", row=row + 2
            )
        seen[key] = row
    for row in np.flatnonzero(sums):
        covered = np.ones(len(cells), bool)
        for column in keys:
            if not total.at[row, column]:
                covered &= (cells[column] == frame.at[row, column]).to_numpy()
        found = int(cells.loc[covered, "persons"].sum())
        if found != frame.at[row, "persons"]:
            raise InputError(
                path,
                "persons",
                f"total {frame.at[row, 'persons']:,.0f} does not match the {found:,} persons of its rows",
                "the sum of the rows it covers",
                row=row + 2,
            )
    return cells.reset_index(drop=True)


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


FILES.update({"living_space": "frankfurt_stadtteil_housing_2012.csv", "minimum_income": "frankfurt_social_minimum_income.csv"})


def living_space_per_resident(data_dir: Path, areas: list[str]) -> pd.Series:
    """Living space per resident (m2) by Stadtteil, 2012 (Stadtteilprofile), indexed by ``areas``."""
    path = data_path(data_dir, "living_space")
    frame = read_table(path, ["stadtteil", "living_space_m2_per_resident"]).set_index("stadtteil")["living_space_m2_per_resident"]
    missing = [a for a in areas if a not in frame.index or pd.isna(frame[a])]
    if missing:
        raise InputError(path, "living_space_m2_per_resident", f"no value for {', '.join(missing)}", "a value for every Stadtteil")
    return frame.reindex(areas).astype(float)


def sgb2_per_1000_by_stadtteil(data_dir: Path) -> dict[str, float]:
    """SGB II recipients per 1,000 inhabitants of the Stadtteile the data name (2017: the lowest
    and the highest), keyed by Stadtteil."""
    path = data_path(data_dir, "minimum_income")
    frame = read_table(path, ["area", "group", "indicator", "value"])
    rows = frame[(frame["indicator"] == "SGB II recipients per 1,000 inhabitants") & (frame["group"] == "all")]
    return {a.removeprefix("Frankfurt Stadtteil "): float(v) for a, v in zip(rows["area"], rows["value"])}


def _age_group_table(path: Path) -> pd.DataFrame:
    """An official age-group table ("unter 3 Jahre", "3 bis unter 6 Jahre", ..., "75 Jahre und
    mehr"; "Insgesamt" is the total) as rows reference_date, sex, lo, hi (inclusive; the open group
    ends at MAX_AGE), persons. The groups must follow each other without gaps and add up to the
    table's total for every date and sex, else InputError naming the file."""
    frame = read_table(path, ["reference_date", "group", "value"])
    parts = frame["group"].str.extract(r"^(?P<label>[^;]+); sex=(?P<sex>[^;]+);")
    label = parts["label"].str.strip()
    lo = label.str.extract(r"^(\d+) bis unter")[0]
    lo = lo.where(~label.str.startswith("unter "), "0")
    lo = lo.fillna(label.str.extract(r"^(\d+) Jahre und mehr")[0])
    hi = label.str.extract(r"bis unter (\d+)")[0].fillna(label.str.extract(r"^unter (\d+)")[0])
    table = pd.DataFrame(
        {"reference_date": frame["reference_date"], "sex": parts["sex"], "label": label, "lo": lo, "hi": hi, "persons": frame["value"]}
    )
    totals = table[table["label"] == "Insgesamt"].set_index(["reference_date", "sex"])["persons"]
    rows = table[table["label"] != "Insgesamt"].copy()
    if rows["lo"].isna().any():
        bad = rows.loc[rows["lo"].isna(), "label"].iloc[0]
        raise InputError(path, "group", f"cannot read the age group '{bad}'", "'unter N Jahre', 'N bis unter M Jahre', 'N Jahre und mehr'")
    rows["lo"] = rows["lo"].astype(int)
    rows["hi"] = pd.to_numeric(rows["hi"]).fillna(MAX_AGE + 1).astype(int) - 1
    rows["persons"] = rows["persons"].astype("int64")
    for (date, sex), g in rows.sort_values("lo").groupby(["reference_date", "sex"]):
        contiguous = g["lo"].iloc[0] == 0 and (g["lo"].to_numpy()[1:] == g["hi"].to_numpy()[:-1] + 1).all() and g["hi"].iloc[-1] == MAX_AGE
        if not contiguous:
            raise InputError(path, "group", f"age groups of {date} (sex={sex}) have gaps or overlaps", "groups from 0 to the open group")
        if (date, sex) in totals.index and int(totals[(date, sex)]) != int(g["persons"].sum()):
            raise InputError(path, "value", f"age groups of {date} (sex={sex}) do not add up to 'Insgesamt'")
    return rows[["reference_date", "sex", "lo", "hi", "persons"]].sort_values(["reference_date", "sex", "lo"]).reset_index(drop=True)


@cached_reader("age_groups")
def official_age_groups(data_dir: Path) -> pd.DataFrame:
    """Frankfurt's official population by 17 age groups (31 Dec 2023, census-2022 basis; sex 'all')."""
    return _age_group_table(data_path(data_dir, "age_groups"))


@cached_reader("foreign_age_groups")
def foreign_age_groups(data_dir: Path) -> pd.DataFrame:
    """Frankfurt's foreigners by 17 age groups and sex (31 Dec 2013)."""
    return _age_group_table(data_path(data_dir, "foreign_age_groups"))


# Age groups of the federal district migration matrix (Kreiswanderungsmatrix), inclusive bounds.
MIGRATION_AGE_GROUPS = {"0-17": (0, 17), "18-24": (18, 24), "25-29": (25, 29), "30-49": (30, 49), "50-64": (50, 64), "65+": (65, MAX_AGE)}
_KWM_AGE_LABELS = {"<18": "0-17", "18-<25": "18-24", "25-<30": "25-29", "30-<50": "30-49", "50-<65": "50-64", "65+": "65+"}


@cached_reader("net_internal")
def net_internal_migration(data_dir: Path) -> pd.DataFrame:
    """Frankfurt's net migration with every other German district by year and age group (persons;
    all sexes and citizenships, all counterparts): columns year, age_group, net. Source: the
    federal district migration matrix 2018-2021 (DERIVED sums, see PROVENANCE.md)."""
    path = data_path(data_dir, "net_internal")
    frame = read_table(path, ["reference_date", "group", "value"])
    parts = frame["group"].str.extract(r"^age (?P<age>[^;]+); sex=(?P<sex>[^;]+); citizenship=(?P<cit>[^;]+); counterpart=(?P<cp>.+)$")
    keep = (parts["sex"] == "all") & (parts["cit"] == "all") & (parts["cp"] == "all other German Kreise")
    out = pd.DataFrame(
        {
            "year": frame.loc[keep, "reference_date"].str[:4].astype(int),
            "age_group": parts.loc[keep, "age"].map(_KWM_AGE_LABELS),
            "net": frame.loc[keep, "value"].astype(float),
        }
    )
    if out["age_group"].isna().any() or out.empty:
        raise InputError(path, "group", "age groups not as expected", "age <18, 18-<25, 25-<30, 30-<50, 50-<65, 65+")
    return out.reset_index(drop=True)


# ---- housing: Stadtteil totals over time, dwelling completions, offer rents (processes/housing.py) ----
FILES.update(
    {
        "stadtteil_core": "frankfurt_stadtteil_population_core_2011_2012.csv",
        "stadtteil_press": "frankfurt_stadtteil_population.csv",
        "completions": "frankfurt_dwelling_completions.csv",
        "rents": "frankfurt_rents.csv",
    }
)


@cached_reader("stadtteil_core")
def stadtteil_residents_2012(data_dir: Path) -> pd.Series:
    """Residents per Stadtteil on 31 Dec 2012: the complete Stadtteil table (core extract)."""
    frame = read_table(data_path(data_dir, "stadtteil_core"), ["stadtteil_nr", "stadtteil", "reference_date", "residents"], dtype=str)
    rows = frame[(frame["reference_date"] == "2012-12-31") & (frame["stadtteil_nr"] != "total")]
    return rows.set_index("stadtteil")["residents"].astype(float)


def stadtteil_observations(data_dir: Path) -> pd.DataFrame:
    """Official Stadtteil figures after 2012: columns reference_date, area, kind, since, value.

    ``kind`` 'level': residents on the date (``stadtteil_totals``: statistik.aktuell, press
    releases and Wikipedia info boxes citing the city; and the city's press releases of
    2023/2024 in frankfurt_stadtteil_population.csv); a combined figure keeps its areas joined by
    '+'. ``kind`` 'change': the change printed in those press releases since the date ``since``.
    """
    levels = stadtteil_totals(data_dir).assign(kind="level", since="")
    path = data_path(data_dir, "stadtteil_press")
    press = read_table(path, ["reference_date", "area", "indicator", "value"])
    area = press["area"].str.replace(r"^Frankfurt Stadtteil ", "", regex=True)
    since = press["indicator"].str.extract(r"change vs (\d\d)\.(\d\d)\.(\d{4})")
    is_change = since[0].notna()
    is_level = press["indicator"].str.startswith("population")
    out = pd.concat(
        [
            levels.rename(columns={"residents": "value"})[["reference_date", "area", "kind", "since", "value"]],
            pd.DataFrame({"reference_date": press["reference_date"], "area": area, "kind": "level", "since": "", "value": press["value"]})[
                is_level
            ],
            pd.DataFrame(
                {
                    "reference_date": press["reference_date"],
                    "area": area,
                    "kind": "change",
                    "since": since[2] + "-" + since[1] + "-" + since[0],
                    "value": press["value"],
                }
            )[is_change],
        ],
        ignore_index=True,
    )
    out["value"] = out["value"].astype(float)
    return out.drop_duplicates(subset=["reference_date", "area", "kind", "since"], keep="first").reset_index(drop=True)


def dwelling_completions(data_dir: Path) -> pd.DataFrame:
    """Dwellings completed in the city by year (Bauaufsicht via press): year, indicator, value."""
    return read_table(data_path(data_dir, "completions"), ["year", "indicator", "value"])


# printed rent areas that are not one Stadtteil: a printed name -> the Stadtteile it covers
_RENT_AREAS = {"Westend": ("Westend-Süd", "Westend-Nord"), "Nordend": ("Nordend-West", "Nordend-Ost"), "Gutleut": ("Gutleutviertel",)}


def offer_rents(data_dir: Path, stadtteile: list[str]) -> pd.DataFrame:
    """Offer rents from listings (EUR per m2 and month, net cold; offer rents, not the rents
    sitting tenants pay) in frankfurt_rents.csv: columns source (site and year), year, members,
    value. ``members``: () for a city-wide figure, else pairs (Stadtteil, weight) whose weighted
    mean the figure describes: a printed group of Stadtteile ("cheaper Stadtteile (A, B, C)") gives
    each printed name the same weight, a printed name covering several Stadtteile ("Westend")
    splits its weight evenly. Left out: figures for an Ortsbezirk (several Stadtteile in unknown
    proportions) and names that are not Stadtteile ("'Stadtteil West' (as printed)").
    The year is the last year printed in the reference date (an undated report "~2013-2015" counts as 2015)."""
    path = data_path(data_dir, "rents")
    frame = read_table(path, ["reference_date", "area", "indicator", "value", "source_url"])
    frame = frame[frame["indicator"].str.contains(r"offer rent|Kaltmiete \(commercial", regex=True)]
    rows = []
    for date, printed, value, url in zip(frame["reference_date"], frame["area"], frame["value"], frame["source_url"]):
        name = re.sub(r"^Frankfurt ", "", printed)
        years = re.findall(r"(?:19|20)\d\d", date)
        if "Ortsbezirk" in name or not years:
            continue
        if name in ("city-wide", "Frankfurt am Main"):
            members: tuple = ()
        else:
            group = re.search(r"\(([^)]*)\)", name)
            parts = [p.strip() for p in group[1].split(",")] if group else [name]
            covered = [_RENT_AREAS.get(p, (p,)) for p in parts]
            if not all(a in stadtteile for c in covered for a in c):
                continue
            members = tuple((a, 1.0 / len(parts) / len(c)) for c in covered for a in c)
        site = re.sub(r"^https?://(www\.)?", "", url).split("/")[0]
        rows.append((f"{site} {years[-1]}", int(years[-1]), members, float(value)))
    return pd.DataFrame(rows, columns=["source", "year", "members", "value"])
