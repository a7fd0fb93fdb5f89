"""Base-year person cells: exact totals, the anchoring method, integer splitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import base_population, data
from simulation.errors import InputError


def test_split_integer_hand_case():
    # 10 split 1:1:1 -> 3.33 each; largest remainders tie, first columns win
    out = base_population.split_integer(np.array([10, 7]), np.array([[1.0, 1.0, 1.0], [0.5, 0.25, 0.25]]))
    assert out.tolist() == [[4, 3, 3], [4, 2, 1]] or out.tolist() == [[4, 3, 3], [3, 2, 2]]
    assert out.sum(axis=1).tolist() == [10, 7]


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    k=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_split_integer_is_exact_and_within_one_of_proportional(counts, k, seed):
    weights = np.random.default_rng(seed).random((len(counts), k)) + 1e-3
    out = base_population.split_integer(np.array(counts), weights)
    assert (out >= 0).all()
    assert out.sum(axis=1).tolist() == counts
    exact = weights / weights.sum(axis=1, keepdims=True) * np.array(counts)[:, None]
    assert np.abs(out - exact).max() < 1.0


def test_anchored_totals_equal_the_official_figures(data_dir):
    totals = base_population.anchored_area_totals(data_dir, 2023).set_index("area")["residents"]
    assert totals.sum() == 770_166  # register, 31 Dec 2023
    # Stadtteile with an official total on 31 Dec 2023 keep it exactly
    assert totals["Gallus"] == 44_123
    assert totals["Bockenheim"] == 43_545
    assert totals["Bahnhofsviertel"] == 3_679
    assert totals["Berkersheim"] == 3_856
    assert len(totals) == 45 and (totals > 0).all()


def test_anchored_totals_for_2022_keep_the_2022_figures(data_dir):
    totals = base_population.anchored_area_totals(data_dir, 2022).set_index("area")["residents"]
    assert totals.sum() == 767_609
    wiki = pd.read_csv(data.data_path(data_dir, "stadtteil_wiki"))
    single = wiki[(wiki["reference_date"] == "2022-12-31") & ~wiki["stadtteil"].str.contains(r"\+")]
    for name, value in zip(single["stadtteil"], single["residents"]):
        assert totals[name] == value, name
    # the combined Sachsenhausen figure is kept as a sum
    assert totals["Sachsenhausen-Nord"] + totals["Sachsenhausen-Süd"] == 62_399


def test_base_year_without_register_total_is_a_clear_error(data_dir):
    with pytest.raises(InputError) as err:
        base_population.anchored_area_totals(data_dir, 2020)
    assert err.value.field == "reference_date" and "2020-12-31" in str(err.value)


def test_profile_2012_cells_reproduce_every_group_cell(data_dir):
    areas = data.load_areas(data_dir).names
    cells, _ = base_population.person_cells("profile_2012", data_dir, 2012, areas)
    groups = data.profile_cells(data_dir, "2012-12-31")
    labels = pd.cut(cells["age"], [-1, 5, 13, 17, 29, 64, 200], labels=list(data.AGE_GROUPS))
    got = cells.assign(age_group=labels.astype(str)).groupby(["area", "age_group", "origin"])["persons"].sum()
    want = groups.set_index(["area", "age_group", "origin"])["persons"]
    pd.testing.assert_series_equal(got.reindex(want.index).fillna(0).astype(int), want.astype(int), check_names=False)


def test_anchored_cells_hit_area_totals_and_foreigners(data_dir):
    areas = data.load_areas(data_dir).names
    cells, info = base_population.person_cells("anchored", data_dir, 2023, areas)
    totals = base_population.anchored_area_totals(data_dir, 2023).set_index("area")["residents"]
    by_area = cells.groupby("area")["persons"].sum()
    assert (by_area.reindex(totals.index) == totals).all()
    foreign = cells.loc[cells["origin"] == "foreign", "persons"].sum()
    assert abs(foreign - 244_401) <= len(areas)  # raked to the register; +-1 per area from rounding
    assert info["foreigners_total"] == 244_401


def test_register_extract_is_read_and_checked(tmp_path, data_dir):
    path = tmp_path / "extract.csv"
    pd.DataFrame(
        {
            "area": ["Altstadt", "Altstadt"],
            "age": [30, 31],
            "sex": ["female", "male"],
            "migration_background": ["none", "foreign"],
            "persons": [5, 7],
        }
    ).to_csv(path, index=False)
    cells, info = base_population.person_cells("register_extract", data_dir, 2030, ["Altstadt"], path)
    assert cells["persons"].sum() == 12 and info["source"] == "register_extract"
    pd.DataFrame({"area": ["Atlantis"], "age": [30], "sex": ["female"], "migration_background": ["none"], "persons": [1]}).to_csv(
        path, index=False
    )
    with pytest.raises(InputError) as err:
        base_population.person_cells("register_extract", data_dir, 2030, ["Altstadt"], path)
    assert err.value.field == "area"
    pd.DataFrame({"area": ["Altstadt"], "age": [30], "sex": ["x"], "migration_background": ["none"], "persons": [1]}).to_csv(
        path, index=False
    )
    with pytest.raises(InputError) as err:
        base_population.person_cells("register_extract", data_dir, 2030, ["Altstadt"], path)
    assert err.value.field == "sex" and "female, male" in str(err.value)
