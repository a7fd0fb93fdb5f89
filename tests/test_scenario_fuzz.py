"""Property-based fuzzing of the input readers: whatever a file holds, the scenario loader (and the
register extract reader) returns a valid result or raises one InputError whose message is a
single line naming the file; never another exception."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import data
from simulation.errors import InputError
from simulation.scenario import Scenario, load_scenario
from tests.conftest import ROOT

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _keys(model) -> set[str]:
    """Every key of the schema, at every level."""
    out = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            out |= _keys(inner)
    return out


def _models_in(annotation):
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


KEYS = sorted(_keys(Scenario) | {"extends", "kita_u3", "none", "foreign", "low", "mixing", "origin_weights"})
WORDS = [
    "Altstadt",
    "Höchst",
    unicodedata.normalize("NFD", "Höchst"),
    "Hoechst",
    "sozialrathaus:Bockenheim",
    "sozialrathaus:Mitte",
    "city",
    "kita_u3",
    "basic_income_support",
    "open",
    "shrink",
    "auto",
    "2016/18",
    "register_extract",
    "anchored",
    "",
    ".",
    "base.toml",
    "../nowhere.toml",
    "fuzz.toml",
    "extract.csv",
    "a" * 300,
    "\x00",
]

scalars = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, 2, 5, 2023, 2024, 2030, 2049, 2100, -1, 100_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.dates(min_value=date(1, 1, 1)),
    st.datetimes(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), values, max_size=6)


def toml_value(value) -> str:
    """``value`` written as TOML (inline): what a hand-edited file may say."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, (int, date, datetime, time)):
        return value.isoformat() if not isinstance(value, int) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}" for k, v in value.items()) + "}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "base.toml").write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nhorizon = 2\n', encoding="utf-8")
    return path


def loads_or_refuses(path: Path) -> Scenario | None:
    try:
        return load_scenario(path)
    except InputError as exc:
        text = str(exc)
        assert "\n" not in text and "\r" not in text
        assert path.name in text
        assert len(text) < 2000
        return None


@FUZZ
@given(document=documents)
def test_any_document_loads_or_gets_one_message(folder, document):
    path = folder / "fuzz.toml"
    path.write_text("".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}\n" for k, v in document.items()), encoding="utf-8")
    scenario = loads_or_refuses(path)
    if scenario is not None:
        assert scenario.name == "fuzz" or "name" in document


@FUZZ
@given(table=st.sampled_from(["mortality", "in_migration", "housing_market", "services.kita_u3", "population"]), body=documents)
def test_any_table_on_top_of_a_real_scenario_loads_or_gets_one_message(folder, table, body):
    path = folder / "fuzz.toml"
    lines = [f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}" for k, v in body.items()]
    path.write_text('extends = "base.toml"\n' + f"[{table}]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    loads_or_refuses(path)


SEED_TEXT = (ROOT / "scenarios" / "new_kita_bockenheim.toml").read_text(encoding="utf-8")


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=0, max_value=3), st.text(max_size=3)), max_size=6
    )
)
def test_a_hand_edited_scenario_loads_or_gets_one_message(folder, edits):
    """Random edits of a shipped scenario: characters deleted, inserted or replaced anywhere."""
    text = SEED_TEXT.replace('extends = "baseline.toml"', f'extends = "{ROOT / "scenarios" / "baseline.toml"}"')
    for where, deleted, inserted in edits:
        at = int(where * len(text))
        text = text[:at] + inserted + text[at + deleted :]
    path = folder / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    loads_or_refuses(path)


@FUZZ
@given(content=st.binary(max_size=300))
def test_any_bytes_load_or_get_one_message(folder, content):
    path = folder / "fuzz.toml"
    path.write_bytes(content)
    loads_or_refuses(path)


CELLS = st.tuples(
    st.sampled_from(["Altstadt", "Höchst", "Hoechst", "total", "", "Atlantis", "Altstadt,x", '"Alt"stadt']),
    st.sampled_from(["0", "30", "100", "101", "-1", "30.5", "abc", "total", "", "1e3"]),
    st.sampled_from(["female", "male", "w", "total", ""]),
    st.sampled_from(["none", "german_mb", "foreign", "deutsch", "insgesamt"]),
    st.sampled_from(["0", "1", "12", "-3", "2.5", "many", "", "1e400", "nan", "99999999999999999999"]),
)


@FUZZ
@given(
    header=st.sampled_from(["area,age,sex,migration_background,persons", "area;age;sex;migration_background;persons", "area,age,sex"]),
    rows=st.lists(CELLS, max_size=6),
    junk=st.binary(max_size=20),
)
def test_any_register_extract_is_read_or_gets_one_message(folder, header, rows, junk):
    path = folder / "extract.csv"
    path.write_bytes((header + "\n" + "".join(",".join(r) + "\n" for r in rows)).encode("utf-8") + junk)
    try:
        cells = data.register_extract(path, ["Altstadt", "Höchst"])
    except InputError as exc:
        assert "\n" not in str(exc) and "extract.csv" in str(exc)
        return
    assert set(cells["area"]) <= {"Altstadt", "Höchst"}
    assert (cells["persons"] >= 0).all() and cells["age"].between(0, 100).all()
