"""The column state: derived household types, removal, head repair, invariant checks."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import population as P
from simulation.errors import AccountingError
from tests.helpers import make_population

F, M = P.FEMALE, P.MALE


def family():
    # household 0: couple with a child; household 1: single parent; household 2: single; 3: flat share
    people = [
        (40, M, P.NONE, 0, P.HEAD), (38, F, P.NONE, 0, P.PARTNER), (8, F, P.NONE, 0, P.CHILD),
        (35, F, P.FOREIGN, 1, P.HEAD), (3, M, P.GERMAN_MB, 1, P.CHILD),
        (80, F, P.NONE, 2, P.HEAD),
        (25, M, P.NONE, 3, P.HEAD), (26, F, P.NONE, 3, P.OTHER), (24, M, P.NONE, 3, P.OTHER),
    ]
    return make_population(people, [(0, P.NOT_LOW, 3), (1, P.LOW, 1), (0, P.NOT_LOW, 40), (1, P.NOT_LOW, 2)])


def test_household_type_is_derived_from_roles():
    pop = family()
    names = [P.HOUSEHOLD_TYPES[k] for k in pop.household_type()]
    assert names == ["couple_with_children", "single_parent", "single", "other"]
    assert pop.size().tolist() == [3, 2, 1, 3]
    pop.check()


def test_death_of_head_makes_partner_head_and_keeps_children():
    pop = family()
    pop.remove_persons(np.arange(len(pop.persons)) == 0)  # the father dies
    assert P.HOUSEHOLD_TYPES[pop.household_type()[0]] == "single_parent"
    assert pop.persons.role[pop.persons.hh == 0].tolist() == [P.HEAD, P.CHILD]
    pop.check()


def test_death_of_single_parent_leaves_child_as_head_and_removes_nothing_else():
    pop = family()
    pop.remove_persons(np.arange(len(pop.persons)) == 3)
    assert len(pop.households) == 4
    child = np.flatnonzero(pop.persons.age == 3)[0]
    assert pop.persons.role[child] == P.HEAD
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
    pop.persons.role[1] = P.HEAD
    with pytest.raises(AccountingError, match="exactly one head"):
        pop.check()


def test_check_raises_on_household_outside_areas():
    pop = family()
    pop.households.area[0] = 9
    with pytest.raises(AccountingError, match="outside the area set"):
        pop.check()
