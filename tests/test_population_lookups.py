"""The population's derived lookups stay equal to a fresh computation through any sequence of
changes; the sorted weighted choice draws what ``rng.choice`` draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core.errors import TypingError

from simulation.population import tally, unsigned
from simulation.processes.migration import _weighted_choice
from simulation.processes.shared import households_with_member
from simulation.vocabulary import CHILD, FEMALE, HEAD, HOUSEHOLD_TYPES, MALE, NONE, NOT_LOW, PARTNER
from tests.helpers import make_population


def fresh(pop) -> dict[str, np.ndarray]:
    """Every lookup computed from the columns alone."""
    p, h = pop.persons, pop.households
    heads = np.flatnonzero(p.role == HEAD)
    head_row = np.empty(len(h), np.int64)
    head_row[p.hh[heads]] = heads
    return {
        "size": np.bincount(p.hh, minlength=len(h)),
        "head_row": head_row,
        "person_area": h.area[p.hh],
        "households_per_area": np.bincount(h.area, minlength=pop.n_areas),
        "persons_per_area": np.bincount(h.area[p.hh], minlength=pop.n_areas),
        "household_type": statistics_types(pop),
    }


def statistics_types(pop) -> np.ndarray:
    """Household types by the city's definitions, household by household: only children under 18
    make a family; other members (lodgers, adult children) do not change a family's type."""
    p = pop.persons
    out = np.empty(len(pop.households), np.int8)
    for hh in range(len(pop.households)):
        role, age = p.role[p.hh == hh], p.age[p.hh == hh]
        partner, minor = (role == PARTNER).any(), ((role == CHILD) & (age < 18)).any()
        if len(role) == 1:
            kind = "single"
        elif partner:
            kind = "couple_with_children" if minor else "couple"
        else:
            kind = "single_parent" if minor else "other"
        out[hh] = HOUSEHOLD_TYPES.index(kind)
    return out


def families(n: int):
    people, households = [], []
    for i in range(n):
        households.append((i % 3, NOT_LOW, i % 7))
        people += [(40, MALE, NONE, i, HEAD), (38, FEMALE, NONE, i, PARTNER), (19 + i % 3, FEMALE, NONE, i, CHILD)]
    return make_population(people, households, 3)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    steps=st.lists(st.sampled_from(["die", "leave", "separate", "join", "move", "emigrate", "copy", "born"]), max_size=12),
)
def test_lookups_follow_every_change(seed, steps):
    rng = np.random.default_rng(seed)
    pop = families(30)
    for step in steps:
        # look first, so that a stale cached value would be used by the next change
        handed_out, fresh_before = {}, fresh(pop)
        for name, expected in fresh_before.items():
            handed_out[name] = getattr(pop, name)()
            assert np.array_equal(handed_out[name], expected), (step, name)
        p, h = pop.persons, pop.households
        if step == "die" and len(p) > 1:
            pop.remove_persons(rng.random(len(p)) < 0.1)
        elif step == "leave":
            children = np.flatnonzero(p.role == CHILD)
            pop.found_households(children[rng.random(len(children)) < 0.5])
        elif step == "separate":
            partners = np.flatnonzero(p.role == PARTNER)[:3]
            pop.separate_couples(partners, pop.head_row()[p.hh[partners]])
        elif step == "join":
            alone = pop.head_row()[pop.size() == 1]
            women, men = alone[p.sex[alone] == FEMALE][:3], alone[p.sex[alone] == MALE][:3]
            k = min(len(women), len(men))
            pop.join_couples(women[:k], men[:k])
        elif step == "move" and len(h):
            rows = np.flatnonzero(rng.random(len(h)) < 0.3)
            pop.move_households(rows, rng.integers(0, 3, len(rows)))
        elif step == "emigrate" and len(h) > 1:
            pop.remove_households(rng.random(len(h)) < 0.2)
        elif step == "copy" and len(h):
            templates = rng.integers(0, len(h), 3)
            n = int(pop.size()[templates].sum())
            pop.copy_households(templates, rng.integers(0, 3, 3), 2030, rng.integers(0, 2**32, n, dtype=np.uint32))
        elif step == "born" and len(h):
            mothers = np.flatnonzero(p.sex == FEMALE)[:2]
            pop.add_persons(
                np.zeros(len(mothers), np.int16),
                np.zeros(len(mothers), np.int8),
                np.zeros(len(mothers), np.int8),
                p.hh[mothers],
                np.full(len(mothers), CHILD, np.int8),
                np.full(len(mothers), 2030, np.int16),
                np.zeros(len(mothers), np.uint32),
            )
        pop.check()
        # a lookup handed out keeps its values through the change (the carried ones are changed in
        # place or grown into the room of their buffer only where no one holds them)
        for name, value in handed_out.items():
            assert np.array_equal(value, fresh_before[name]), (step, name)
    for name, expected in fresh(pop).items():
        assert np.array_equal(getattr(pop, name)(), expected), name


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
    n=st.integers(0, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_weighted_choice_draws_what_rng_choice_draws(weights, n, seed):
    w = np.array(weights)
    expected = np.random.default_rng(seed).choice(len(w), n, p=w / w.sum())
    assert np.array_equal(_weighted_choice(np.random.default_rng(seed), w, n), expected)


def test_ordering_persons_by_household_keeps_the_head_lookup_true():
    pop = families(5)
    pop.found_households(np.flatnonzero(pop.persons.role == CHILD))  # the founders' rows lie among others
    assert np.array_equal(pop.head_row(), fresh(pop)["head_row"])  # cached from here on
    pop.order_persons_by_household()
    assert np.array_equal(np.diff(pop.persons.hh) >= 0, np.ones(len(pop.persons) - 1, bool))
    for name, expected in fresh(pop).items():
        assert np.array_equal(getattr(pop, name)(), expected), name
    pop.check()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 120)), min_size=0, max_size=60),
    st.one_of(st.integers(-5, 130), st.integers(30_000, 70_000)),
    st.one_of(st.integers(-5, 130), st.integers(30_000, 200_000)),
)
def test_households_with_member_of_an_age_range(members, lo, hi):
    """Per household: a member aged lo..hi (none at all when hi < lo), as a plain loop counts it."""
    hh = np.array([h for h, _ in members], np.int32)
    age = np.array([a for _, a in members], np.int16)
    expected = np.zeros(10, np.uint8)
    for h, a in members:
        if lo <= a <= hi:
            expected[h] = 1
    assert np.array_equal(households_with_member(hh, age, lo, hi, 10), expected)


@njit
def _compiled_unsigned(column):
    return unsigned(column)  # the compiled passes' variant


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_unsigned_reads_the_same_non_negative_integers_at_full_length(dtype):
    column = np.array([0, 1, 7, np.iinfo(dtype).max], dtype)
    view = unsigned(column)
    assert np.array_equal(_compiled_unsigned(column), view) and _compiled_unsigned(column).dtype == view.dtype
    assert view.dtype.kind == "u" and view.dtype.itemsize == column.dtype.itemsize
    assert len(view) == len(column) and view.tolist() == column.tolist()
    assert np.shares_memory(view, column)  # a view: what compiled passes write is in the column
    # a negative value reads as a huge one: past any row, which the yearly check relies on
    assert unsigned(np.array([-1], dtype))[0] == 2 ** (8 * column.dtype.itemsize) - 1


def test_unsigned_refuses_what_is_not_integers():
    for column in (np.zeros(3, np.float32), np.zeros(3, bool)):
        with pytest.raises(TypeError, match="integers"):
            unsigned(column)
    with pytest.raises(TypingError):
        _compiled_unsigned(np.zeros(3, np.float32))


@settings(deadline=None)  # the first example loads the compiled variants
@given(st.lists(st.integers(0, 6), max_size=60), st.integers(0, 3))
def test_tally_counts_and_sums_per_cell_as_bincount_does(cells, extra):
    cell = np.array(cells, np.int16)
    n_cells = 7 + extra
    weight = (np.arange(len(cell)) * 5 % 11).astype(np.int32)
    flag = weight % 2 == 1
    assert tally(cell, n_cells).tolist() == np.bincount(cell, minlength=n_cells).tolist()
    assert tally(cell, n_cells, weight).tolist() == np.bincount(cell, weights=weight, minlength=n_cells).astype(int).tolist()
    assert tally(cell, n_cells, flag).tolist() == np.bincount(cell[flag], minlength=n_cells).tolist()
