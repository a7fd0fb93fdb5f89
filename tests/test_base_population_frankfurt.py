"""Base population from Frankfurt's own age tables (issue 10): the 2023 age structure, single
ages within groups, the sex split, and the helpers behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import base_population, data
from simulation.errors import InputError
from simulation.vocabulary import MAX_AGE

REGISTER_2023 = 770_166
FOREIGNERS_2023 = 244_401


@pytest.fixture(scope="module")
def cells_2023(data_dir):
    return base_population.person_cells("anchored", data_dir, 2023, data.load_areas(data_dir).names)


@pytest.fixture(scope="module")
def cells_2012(data_dir):
    return base_population.person_cells("profile_2012", data_dir, 2012, data.load_areas(data_dir).names)


def _by_groups(cells: pd.DataFrame, starts) -> np.ndarray:
    """Persons per age group beginning at ``starts`` (the last open)."""
    index = np.searchsorted(np.asarray(starts), cells["age"].to_numpy(), side="right") - 1
    return np.bincount(index, cells["persons"].to_numpy(), minlength=len(starts)).astype(np.int64)


def _single_ages(cells: pd.DataFrame) -> np.ndarray:
    return np.bincount(cells["age"].to_numpy(), cells["persons"].to_numpy(), minlength=MAX_AGE + 1)


# --- the mean-preserving split -------------------------------------------------------------


def test_single_age_curve_hand_example():
    # groups 0-1: 4 persons, 2-3: 8, 4+: 0. Cumulative 0, 4, 12, 12 at ages 0, 2, 4, 101.
    # PCHIP slopes: secants 2, 4, 0; at 0 the three-point end formula ((2*2+2)*2 - 2*4)/4 = 1;
    # at 2 the harmonic mean 2/(1/2 + 1/4) = 8/3; at 4 zero (the next secant is 0).
    # Hermite at the middle of a 2-year interval: C = (C0 + C1)/2 + 2*(d0 - d1)/8, so
    # C(1) = 2 + (1 - 8/3)/4 = 19/12 and C(3) = 8 + (8/3 - 0)/4 = 26/3.
    curve = base_population.single_age_curve(np.array([[4.0, 8.0, 0.0]]), np.array([0, 2, 4]))[0]
    np.testing.assert_allclose(curve[:4], [19 / 12, 4 - 19 / 12, 26 / 3 - 4, 12 - 26 / 3], atol=1e-12)
    assert curve[4:].sum() == pytest.approx(0.0, abs=1e-12)
    # mean-preserving: each group keeps its count (average persons per year of age)
    assert curve[:2].sum() == pytest.approx(4.0) and curve[2:4].sum() == pytest.approx(8.0)


def test_open_group_follows_its_weights_in_five_year_parts():
    weights = np.arange(1.0, 7.0)  # ages 95..100
    curve = base_population.single_age_curve(np.array([[30.0, 21.0]]), np.array([0, 95]), weights)[0]
    # the open group 95+ is cut at 100 (open age): 95-99 get 15/21 of its persons, 100+ gets 6/21
    assert curve[95:100].sum() == pytest.approx(21 * 15 / 21)
    assert curve[100] == pytest.approx(21 * 6 / 21)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50_000), min_size=2, max_size=8),
    widths=st.lists(st.integers(1, 12), min_size=8, max_size=8),
)
def test_single_age_curve_keeps_every_group_and_is_never_negative(counts, widths):
    starts = np.concatenate([[0], np.cumsum(widths[: len(counts) - 1])])
    curve = base_population.single_age_curve(np.array([counts], dtype=float), starts)[0]
    assert (curve >= 0).all()
    sums = np.add.reduceat(curve, starts)
    np.testing.assert_allclose(sums, counts, atol=1e-6 * max(1, max(counts)))


def test_controlled_rounding_moves_single_persons_within_rows():
    real = np.array([[0.6, 0.4, 1.0], [0.6, 0.4, 1.0]])  # column totals 1.2, 0.8, 2
    n = np.array([[1, 0, 1], [1, 0, 1]])  # rounded row by row: columns hold 2, 0, 2
    out = base_population._controlled_rounding(n, real, np.array([0, 1, 2]), np.array([1, 1, 2]))
    # one person moves from column 0 to column 1 inside a row; both rows cost the same, the first wins
    assert out.tolist() == [[0, 1, 1], [1, 0, 1]]


def test_stable_growth_zero_for_the_stationary_ratio():
    population = np.linspace(2.0, 0.1, MAX_AGE + 1)
    ratio = population[75:].sum() / population[65:75].sum()
    assert base_population.stable_growth(population, 65, 75, ratio) == pytest.approx(0.0, abs=1e-9)
    assert base_population.stable_growth(population, 65, 75, ratio / 2) > 0  # fewer old: a growing population


# --- 2023: the official age structure ------------------------------------------------------


def test_2023_base_reproduces_the_official_17_age_groups(data_dir, cells_2023):
    cells, info = cells_2023
    official = data.official_age_groups(data_dir)
    official = official[official["reference_date"] == "2023-12-31"].sort_values("lo")
    got = _by_groups(cells, official["lo"].to_numpy())
    want = official["persons"].to_numpy() * REGISTER_2023 / official["persons"].sum()
    assert got.sum() == REGISTER_2023
    assert np.abs(got - want).max() < 1.0  # the official shares at the register's level, up to rounding
    np.testing.assert_allclose(got / got.sum(), official["persons"] / official["persons"].sum(), atol=1.5e-6)
    assert [t["persons"] for t in info["age_groups"]["targets"]] == got.tolist()
    assert info["age_groups"]["official_total"] == 749_596 and info["age_groups"]["register_total"] == REGISTER_2023


def test_2023_share_aged_50_to_64_is_the_official_one(cells_2023):
    cells, _ = cells_2023
    share = cells.loc[cells["age"].between(50, 64), "persons"].sum() / cells["persons"].sum()
    assert share == pytest.approx(144_809 / 749_596, abs=1e-5)  # 19.3 %, not Germany's 24 %
    assert share == pytest.approx(0.193, abs=0.001)


def test_2023_base_keeps_register_stadtteil_and_foreigner_totals(data_dir, cells_2023):
    cells, info = cells_2023
    by_area = cells.groupby("area")["persons"].sum()
    assert by_area.sum() == REGISTER_2023
    official = data.stadtteil_totals(data_dir)
    official = official[official["reference_date"] == "2023-12-31"]
    assert len(official) >= 4
    for name, value in zip(official["area"], official["residents"]):
        assert by_area[name.split("+")].sum() == value, name
    totals = base_population.anchored_area_totals(data_dir, 2023).set_index("area")["residents"]
    assert (by_area.reindex(totals.index) == totals).all()
    assert cells.loc[cells["origin"] == "foreign", "persons"].sum() == FOREIGNERS_2023  # exact now
    assert info["foreigners_total"] == FOREIGNERS_2023


def test_2023_keeps_the_2012_female_share_of_every_area_and_group(data_dir, cells_2023):
    cells, _ = cells_2023
    groups = data.profile_cells(data_dir, "2012-12-31").drop_duplicates(["area", "age_group"]).set_index(["area", "age_group"])
    labels = pd.cut(cells["age"], [-1, 5, 13, 17, 29, 64, MAX_AGE], labels=list(data.AGE_GROUPS)).astype(str)
    t = cells.assign(age_group=labels, women=np.where(cells["sex"] == "female", cells["persons"], 0))
    t = t.groupby(["area", "age_group"])[["women", "persons"]].sum()
    expected = groups["female_share"].reindex(t.index) * t["persons"]
    assert (t["women"] - expected).abs().max() < 1.0  # largest remainder of the profile's share


def test_base_date_without_age_table_keeps_the_2012_age_structure(data_dir):
    cells, info = base_population.person_cells("anchored", data_dir, 2022, data.load_areas(data_dir).names)
    totals = base_population.anchored_area_totals(data_dir, 2022).set_index("area")["residents"]
    assert (cells.groupby("area")["persons"].sum().reindex(totals.index) == totals).all()
    assert cells.loc[cells["origin"] == "foreign", "persons"].sum() == info["foreigners_total"] == 240_007
    assert "no official age table" in info["age_groups"]


def test_women_outnumber_men_among_the_oldest(cells_2023):
    cells, _ = cells_2023
    old = cells[cells["age"] >= 90]
    assert old.loc[old["sex"] == "female", "persons"].sum() / old["persons"].sum() > 0.6


# --- 2012: the profile exactly, smooth single ages ------------------------------------------


def test_2012_reproduces_every_profile_cell(data_dir, cells_2012):
    cells, _ = cells_2012
    labels = pd.cut(cells["age"], [-1, 5, 13, 17, 29, 64, MAX_AGE], labels=list(data.AGE_GROUPS)).astype(str)
    got = cells.assign(age_group=labels).groupby(["area", "age_group", "origin"])["persons"].sum()
    want = data.profile_cells(data_dir, "2012-12-31").set_index(["area", "age_group", "origin"])["persons"]
    pd.testing.assert_series_equal(got.reindex(want.index).fillna(0).astype(int), want.astype(int), check_names=False)


@pytest.mark.parametrize("which", ["2012", "2023"])
def test_no_jumps_at_group_borders(which, cells_2012, cells_2023):
    # At every border of the profile's and the official age groups, the city's change from the
    # last age of one group to the first of the next may exceed the larger of the two
    # neighbouring one-year changes by at most 2 % of the level. The official 17 groups imply
    # changes of up to about 8 % a year (18-29), which a smooth curve follows inside the
    # groups; a split by a foreign age pattern shows up as a step at the border (the national
    # proxy gave 40 % at 18 and 23 % at 65). Measured now: at most 1.1 % (2012), 0.3 % (2023).
    cells, _ = cells_2012 if which == "2012" else cells_2023
    n = _single_ages(cells).astype(float)
    for border in (3, 6, 10, 14, 15, 18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 75):
        step = abs(n[border] - n[border - 1])
        neighbours = max(abs(n[border - 1] - n[border - 2]), abs(n[border + 1] - n[border]))
        assert step - neighbours <= 0.02 * n[border - 1], border


def test_2012_mean_age_close_to_the_profile(data_dir, cells_2012):
    cells, _ = cells_2012
    # the profile's "Durchschnittsalter" (41.3 in 2012) is taken at exact age: completed years + 0.5
    mean = (cells["age"] * cells["persons"]).sum() / cells["persons"].sum() + 0.5
    assert mean == pytest.approx(41.3, abs=0.3)
    structure = data.load_structure(data_dir)
    profile = structure[(structure["reference_date"] == "2012-12-31") & (structure["indicator_de"] == "Durchschnittsalter")]
    profile = profile[profile["stadtteil_nr"] != "total"].set_index("stadtteil")["value"]
    by_area = cells.assign(w=cells["age"] * cells["persons"]).groupby("area")[["w", "persons"]].sum()
    error = by_area["w"] / by_area["persons"] + 0.5 - profile.reindex(by_area.index)
    assert np.sqrt((error**2).mean()) < 0.75  # 0.53 now; 1.23 with the national proxy


def test_2012_foreigners_follow_the_2013_table(data_dir, cells_2012):
    cells, _ = cells_2012
    table = data.foreign_age_groups(data_dir)
    table = table[table["sex"] == "all"].sort_values("lo")
    got = _by_groups(cells[cells["origin"] == "foreign"], table["lo"].to_numpy())
    share, want = got / got.sum(), table["persons"].to_numpy() / table["persons"].sum()
    assert np.abs(share - want).max() < 0.01  # within a percentage point in every group


# --- reading the tables ----------------------------------------------------------------------


def test_age_group_tables_are_read(data_dir):
    official = data.official_age_groups(data_dir)
    assert official["persons"].sum() == 749_596 and len(official) == 17
    assert official["lo"].tolist()[:3] == [0, 3, 6] and official["hi"].iloc[-1] == MAX_AGE
    foreign = data.foreign_age_groups(data_dir)
    assert foreign.groupby("sex")["persons"].sum().to_dict() == {"all": 184_615, "female": 91_285, "male": 93_330}


def test_age_group_table_with_a_gap_is_a_clear_error(tmp_path, data_dir):
    frame = pd.read_csv(data.data_path(data_dir, "age_groups"))
    frame = frame[~frame["group"].str.startswith("3 bis unter 6")]
    frame.to_csv(tmp_path / data.FILES["age_groups"], index=False)
    with pytest.raises(InputError) as err:
        data.official_age_groups(tmp_path)
    assert err.value.field == "group" and "gaps" in str(err.value)
