"""Scenario files as planners save them: byte-order marks, umlauts in file names, decomposed
Unicode, extends across folders; and which file an error names."""

from __future__ import annotations

import codecs
import pickle
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from simulation.errors import InputError, did_you_mean
from simulation.inputs import load_inputs
from simulation.scenario import load_scenario
from tests.conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.toml"
SMALL = f'extends = "{BASELINE}"\nhorizon = 1\n'


def test_a_byte_order_mark_is_accepted(tmp_path):
    plain, marked = tmp_path / "plain.toml", tmp_path / "marked.toml"
    plain.write_text(SMALL + "seed = 9\n", encoding="utf-8")
    marked.write_bytes(codecs.BOM_UTF8 + (SMALL + "seed = 9\n").encode("utf-8"))
    a, b = load_scenario(plain), load_scenario(marked)
    assert b.seed == 9
    assert a.model_dump(exclude={"name"}) == b.model_dump(exclude={"name"})


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_umlauts_in_the_file_name_make_the_name(tmp_path, form):
    path = tmp_path / unicodedata.normalize(form, "senioren_höchst.toml")
    path.write_text(SMALL, encoding="utf-8")
    assert load_scenario(path).name == "senioren_höchst"  # composed, whatever the file system stored


def test_a_decomposed_area_name_is_the_same_area(tmp_path):
    path = tmp_path / "mac.toml"
    path.write_text(SMALL + f'areas = ["{unicodedata.normalize("NFD", "Höchst")}"]\n', encoding="utf-8")
    sc = load_scenario(path)
    assert sc.areas == ["Höchst"]
    assert load_inputs(sc).area_names == ["Höchst"]


def write_extract(path: Path, persons: int) -> None:
    pd.DataFrame(
        [("Altstadt", age, sex, "none", persons) for age in range(0, 90) for sex in ("female", "male")],
        columns=["area", "age", "sex", "migration_background", "persons"],
    ).to_csv(path, index=False)


def test_extends_resolves_the_register_extract_against_the_file_that_names_it(tmp_path):
    shared, mine = tmp_path / "shared", tmp_path / "workshop"
    shared.mkdir(), mine.mkdir()
    write_extract(shared / "extract.csv", 2)
    write_extract(mine / "extract.csv", 5)  # a file of the same name beside the extending scenario: not the one meant
    (shared / "base.toml").write_text(
        SMALL + 'areas = ["Altstadt"]\n[population]\nsource = "register_extract"\nregister_extract = "extract.csv"\n', encoding="utf-8"
    )
    child = mine / "child.toml"
    child.write_text('extends = "../shared/base.toml"\nseed = 3\n', encoding="utf-8")
    sc = load_scenario(child, allow_any_extends=True)  # a sibling folder outside the project: only with the flag
    assert Path(sc.population.register_extract) == shared / "extract.csv"
    assert load_inputs(sc).cells["persons"].sum() == 2 * 90 * 2
    child.write_text('extends = "../shared/base.toml"\n[population]\nregister_extract = "extract.csv"\n', encoding="utf-8")
    sc = load_scenario(child, allow_any_extends=True)
    assert Path(sc.population.register_extract) == mine / "extract.csv"  # set in the child: beside it


def test_extends_resolves_the_data_folder_against_the_file_that_names_it(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "base.toml").write_text(SMALL + 'data_dir = "../../../calibration/data"\n', encoding="utf-8")
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "b" / "c" / "child.toml").write_text('extends = "../../a/base.toml"\n', encoding="utf-8")
    sc = load_scenario(tmp_path / "b" / "c" / "child.toml", allow_any_extends=True)  # outside the project: only with the flag
    assert Path(sc.data_dir) == tmp_path / "a" / "../../../calibration/data"


def test_an_error_names_the_file_that_set_the_value(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text(SMALL + '[mortality]\nlife_table = "1900"\n', encoding="utf-8")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n[mortality]\nfactor = 1.1\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_scenario(child)
    assert err.value.file == str(base) and err.value.field == "mortality.life_table"
    assert err.value.via == ((str(child), "extends"),)
    assert str(err.value).startswith(f"{child} (field 'extends') -> {base}: field 'mortality.life_table'")


def test_a_list_comes_whole_from_the_file_that_sets_it(tmp_path):
    offering = '[[offerings]]\nservice = "kita_u3"\narea = "Bockenheim"\nyear = {year}\naction = "open"\ncapacity = 5\n'
    base = tmp_path / "base.toml"
    base.write_text(SMALL + "".join(offering.format(year=2024) for _ in range(3)))  # three entries, all fine
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n' + offering.format(year=2024) + offering.format(year=2099))
    with pytest.raises(InputError) as err:
        load_scenario(child)
    assert err.value.file == str(child) and err.value.field == "offerings[2].year" and err.value.via == ()


def test_a_reasonable_shrink_and_a_real_change_are_accepted(tmp_path):
    path = tmp_path / "fine.toml"
    path.write_text(
        SMALL
        + 'areas = ["Altstadt"]\n[[offerings]]\nservice = "kita_u3"\narea = "Altstadt"\nyear = 2024\naction = "shrink"\ncapacity = 10\n'
        + "[[in_migration.changes]]\nfrom_year = 2024\nfamily_weight = 1.5\n",
        encoding="utf-8",
    )
    assert load_inputs(load_scenario(path)).area_names == ["Altstadt"]


@pytest.mark.parametrize(
    "typed, meant",
    [("Hoechst", "Höchst"), ("hoechst", "Höchst"), ("Westend Sued", "Westend-Süd"), ("Rodelheim", "Rödelheim"), ("kita", "kita_u3")],
)
def test_did_you_mean_finds_what_planners_mean(typed, meant):
    assert did_you_mean(typed, ["Höchst", "Westend-Süd", "Rödelheim", "Altstadt", "kita_u3", "kita_3_6"]) == f" (did you mean '{meant}'?)"


def test_did_you_mean_stays_quiet_without_a_likely_match():
    assert did_you_mean("Atlantis", ["Höchst", "Altstadt"]) == ""
    assert did_you_mean("", ["Höchst"]) == ""


def test_an_input_error_survives_a_worker_process_and_stays_one_line():
    err = InputError("extract.csv", "area", "unknown area 'A\nB'", "Altstadt", row=7).reached_from("s.toml", "population.register_extract")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err)
    assert (
        str(err)
        == "s.toml (field 'population.register_extract') -> extract.csv: column 'area', row 7: unknown area 'A\\nB' (allowed: Altstadt)"
    )
