"""Contract tests for the input tables and their loaders."""

from __future__ import annotations

import hashlib
import shutil

import pandas as pd
import pytest

from simulation import data
from simulation.errors import InputError


def test_areas_are_the_45_stadtteile_in_seven_sozialrathaeuser(data_dir):
    areas = data.load_areas(data_dir).frame
    assert len(areas) == 45
    assert areas["area"].is_unique
    assert set(areas["sozialrathaus"]) == {"Bockenheim", "Dornbusch", "Gallus", "Höchst", "Nord", "Ost", "Sachsenhausen"}


def test_split_stadtteile_go_to_the_majority_of_their_stadtbezirke(data_dir):
    areas = data.load_areas(data_dir).frame.set_index("area")
    # Nordend-West: 4 Stadtbezirke Ost, 3 Dornbusch; Praunheim: 4 Bockenheim, 1 Nord (2022 directory)
    assert areas.loc["Nordend-West", "sozialrathaus"] == "Ost"
    assert areas.loc["Nordend-West", "split_between"] == "Dornbusch"
    assert areas.loc["Praunheim", "sozialrathaus"] == "Bockenheim"
    assert areas.loc["Praunheim", "split_between"] == "Nord"
    assert (areas["split_between"] != "").sum() == 2


def test_bockenheim_district_matches_the_magistrat_text(data_dir):
    # M 28/2022: Bockenheim, Rödelheim, Hausen, Praunheim and Westend-Süd
    areas = data.load_areas(data_dir).frame
    assert set(areas.loc[areas["sozialrathaus"] == "Bockenheim", "area"]) == {
        "Bockenheim",
        "Rödelheim",
        "Hausen",
        "Praunheim",
        "Westend-Süd",
    }


@pytest.mark.parametrize("date, total", [("2011-12-31", 667_075), ("2012-12-31", 678_691)])
def test_profile_cells_add_up_to_the_city_total(data_dir, date, total):
    cells = data.profile_cells(data_dir, date)
    assert cells["persons"].sum() == total
    assert cells["female_share"].between(0, 1).all()


def test_missing_data_file_names_the_file(tmp_path):
    with pytest.raises(InputError) as err:
        data.read_table(tmp_path / "nope.csv", ["a"])
    assert "nope.csv" in str(err.value) and "not found" in str(err.value)


def test_missing_column_names_file_and_column(tmp_path, data_dir):
    broken = tmp_path / "data"
    shutil.copytree(data_dir, broken)
    frame = pd.read_csv(broken / data.FILES["mapping"]).drop(columns=["sozialrathaus"])
    frame.to_csv(broken / data.FILES["mapping"], index=False)
    with pytest.raises(InputError) as err:
        data.load_areas(broken)
    assert err.value.field == "sozialrathaus"
    assert data.FILES["mapping"] in str(err.value)


def test_reads_are_logged_with_their_hashes_cached_or_not(data_dir):
    data.load_areas(data_dir)  # parsed and cached before the log opens
    with data.logged_reads() as read:
        data.load_areas(data_dir)
    assert read == {(data_dir / data.FILES["mapping"]).resolve(), (data_dir / data.FILES["structure"]).resolve()}
    hashes = data.file_hashes(read, data_dir)
    assert set(hashes) == {data.FILES["mapping"], data.FILES["structure"]}
    assert hashes[data.FILES["mapping"]] == hashlib.sha256((data_dir / data.FILES["mapping"]).read_bytes()).hexdigest()
