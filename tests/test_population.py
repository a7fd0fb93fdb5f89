"""The column state: derived household types, removal, head repair, invariant checks."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.errors import AccountingError
from simulation.population import Removal, _new_rows, empty_persons
from simulation.vocabulary import CHILD, FEMALE, FOREIGN, GERMAN_MB, HEAD, HOUSEHOLD_TYPES, LOW, MALE, NONE, NOT_LOW, OTHER, PARTNER
from tests.helpers import make_population

F, M = FEMALE, MALE


def family():
    # household 0: couple with a child; household 1: single parent; household 2: single; 3: flat share
    people = [
        (40, M, NONE, 0, HEAD),
        (38, F, NONE, 0, PARTNER),
        (8, F, NONE, 0, CHILD),
        (35, F, FOREIGN, 1, HEAD),
        (3, M, GERMAN_MB, 1, CHILD),
        (80, F, NONE, 2, HEAD),
        (25, M, NONE, 3, HEAD),
        (26, F, NONE, 3, OTHER),
        (24, M, NONE, 3, OTHER),
    ]
    return make_population(people, [(0, NOT_LOW, 3), (1, LOW, 1), (0, NOT_LOW, 40), (1, NOT_LOW, 2)])


def test_household_type_is_derived_from_roles():
    pop = family()
    names = [HOUSEHOLD_TYPES[k] for k in pop.household_type()]
    assert names == ["couple_with_children", "single_parent", "single", "other"]
    assert pop.size().tolist() == [3, 2, 1, 3]
    pop.check()


def test_household_type_follows_ageing():
    # the child of 17 comes of age: the couple has no minor child left, the single parent's son of
    # 17 likewise; the cached types of the year before must not survive the birthday
    people = [
        (40, M, NONE, 0, HEAD),
        (38, F, NONE, 0, PARTNER),
        (17, F, NONE, 0, CHILD),
        (35, F, FOREIGN, 1, HEAD),
        (17, M, NONE, 1, CHILD),
    ]
    pop = make_population(people, [(0, NOT_LOW, 3), (1, LOW, 1)])
    assert [HOUSEHOLD_TYPES[k] for k in pop.household_type()] == ["couple_with_children", "single_parent"]
    pop.age_one_year()
    assert [HOUSEHOLD_TYPES[k] for k in pop.household_type()] == ["couple", "other"]
    assert pop.persons.age.tolist() == [41, 39, 18, 36, 18] and pop.households.years.tolist() == [4, 2]


def test_death_of_head_makes_partner_head_and_keeps_children():
    pop = family()
    pop.remove_persons(np.arange(len(pop.persons)) == 0)  # the father dies
    assert HOUSEHOLD_TYPES[pop.household_type()[0]] == "single_parent"
    assert pop.persons.role[pop.persons.hh == 0].tolist() == [HEAD, CHILD]
    pop.check()


def test_death_of_single_parent_leaves_child_as_head_and_removes_nothing_else():
    pop = family()
    pop.remove_persons(np.arange(len(pop.persons)) == 3)
    assert len(pop.households) == 4
    child = np.flatnonzero(pop.persons.age == 3)[0]
    assert pop.persons.role[child] == HEAD
    pop.check()


def test_empty_household_is_removed_and_rows_remapped():
    pop = family()
    pop.remove_persons(pop.persons.age == 80)
    assert len(pop.households) == 3
    assert pop.households.hid.tolist() == [0, 1, 3]
    flat = pop.persons.hh[pop.persons.age == 26][0]
    assert pop.households.hid[flat] == 3
    assert pop.row_of(3) == 2
    pop.check()


def test_check_raises_on_two_heads():
    pop = family()
    pop.persons.role[1] = HEAD
    with pytest.raises(AccountingError, match="exactly one head"):
        pop.check()


def test_check_raises_on_household_outside_areas():
    pop = family()
    pop.households.area[0] = 9
    with pytest.raises(AccountingError, match="outside the area set"):
        pop.check()


def test_check_raises_on_household_rows_wider_than_int32():
    """Household rows are int32 by design (half the bytes of int64 in every copy, move and
    compiled pass): the check names wider ones."""
    pop = family()
    pop.check()
    pop.persons.hh = pop.persons.hh.astype(np.int64)
    with pytest.raises(AccountingError, match="rows not int32: hh"):
        pop.check()


@pytest.mark.parametrize("wrong_row", [-1, 5, 99])
def test_check_raises_on_carried_head_rows_that_differ(wrong_row):
    """A carried head row that is negative, not the head's or past the persons is named."""
    pop = family()
    head = pop.head_row().copy()
    head[0] = wrong_row
    pop._store("head_row", head)
    with pytest.raises(AccountingError, match="carried head rows differ"):
        pop.check()


@pytest.mark.parametrize("share_removed", [0.0, 0.001, 0.01, 0.3, 1.0])
def test_keep_moves_the_kept_rows_to_the_front_in_order(share_removed):
    # few removed rows move as runs, many row by row: both keep what a mask selects
    rng = np.random.default_rng(7)
    n = 5000
    keep = rng.random(n) >= share_removed
    persons = empty_persons(n)
    persons.pid[:] = np.arange(n)
    persons.age[:] = rng.integers(0, 100, n)
    persons.draw[:] = rng.integers(0, 2**32, n, dtype=np.uint32)
    expected = {name: getattr(persons, name)[keep].copy() for name in ("pid", "age", "draw")}
    persons.keep(Removal.of(keep))
    assert len(persons) == keep.sum()
    for name, rows in expected.items():
        assert np.array_equal(getattr(persons, name), rows), name


@pytest.mark.parametrize("share_removed", [0.0, 0.001, 0.01, 0.3, 1.0])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 5000])
def test_removal_finds_the_rows_that_go_and_the_new_rows(share_removed, n):
    keep = np.random.default_rng(n).random(n) >= share_removed
    removal = Removal.of(keep)
    new_row = np.full(n, -1)
    new_row[keep] = np.arange(keep.sum())
    assert removal.kept == keep.sum()
    assert removal.gone is None or np.array_equal(removal.gone, np.flatnonzero(~keep))
    assert np.array_equal(removal.new_rows(), new_row)
    first = removal.first(n // 2)
    assert first.kept == keep[: n // 2].sum()
    assert np.array_equal(first.new_rows(), _new_rows(keep[: n // 2]))
