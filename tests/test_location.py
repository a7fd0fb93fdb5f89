"""Location choice (processes/location.py): logit weights by hand, capacity, homophily, rent."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.processes import location, shared
from simulation.vocabulary import FEMALE, FOREIGN, HEAD, LOW, MALE, NONE, NOT_LOW, PARTNER
from tests.helpers import assert_capacity_rule, make_population

G = location.N_GROUPS


def params(low=0.0, not_low=0.0, homophily=0.0, constant=None, areas=3):
    """Choice parameters: rent sensitivity by income class, homophily, income constants (2, areas)."""
    beta = np.zeros(2)
    beta[LOW], beta[NOT_LOW] = low, not_low
    k = np.zeros((2, areas)) if constant is None else np.asarray(constant, float)
    return location.ChoiceParams(beta, homophily, k)


def row(income: int, group: int) -> int:
    return income * G + group


EVEN = np.full((3, G), 1.0 / G)


def test_logit_weights_by_hand():
    free = np.array([10, 20, 0])
    # rent index: low-income weigh exp(-2 log I): 1, 1/4, 1 -> x free: 10, 5, 0 -> 2/3, 1/3, 0
    p = location.destination_weights(free, np.array([1.0, 2.0, 1.0]), EVEN, params(low=2.0))
    assert p[row(LOW, NONE)] == pytest.approx([2 / 3, 1 / 3, 0])
    assert p[row(NOT_LOW, NONE)] == pytest.approx([1 / 3, 2 / 3, 0])  # no rent sensitivity: free dwellings only
    # income constants: k = log 2 in area 1 for low income -> weights 10, 40
    k = np.zeros((2, 3))
    k[LOW, 1] = np.log(2.0)
    p = location.destination_weights(free, np.ones(3), EVEN, params(constant=k))
    assert p[row(LOW, FOREIGN)] == pytest.approx([0.2, 0.8, 0])
    assert p[row(NOT_LOW, FOREIGN)] == pytest.approx([1 / 3, 2 / 3, 0])
    # homophily 1: weight = free x share of the own group: 10 x 0.2, 20 x 0.8 -> 1/9, 8/9
    shares = np.array([[0.2, 0.3, 0.5], [0.8, 0.1, 0.1], [0.5, 0.25, 0.25]])
    p = location.destination_weights(free, np.ones(3), shares, params(homophily=1.0))
    assert p[row(NOT_LOW, NONE)] == pytest.approx([1 / 9, 8 / 9, 0])
    assert p[row(LOW, FOREIGN)] == pytest.approx([5 / 7, 2 / 7, 0])
    # an optional prior per area multiplies
    p = location.destination_weights(free, np.ones(3), EVEN, params(), prior=np.array([3.0, 1.0, 1.0]))
    assert p[row(NOT_LOW, NONE)] == pytest.approx([0.6, 0.4, 0])


def test_income_constants_keep_the_base_year_income_geography():
    # area 0: 1 of 4 households low-income, area 1: 3 of 4; city 1/2
    area = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    low = np.array([1, 0, 0, 0, 1, 1, 1, 0], bool)
    p = location.ChoiceParams.of({"low": 5.0, "not_low": 1.0}, 0.0, area, low, 2)
    assert p.income_constant[LOW] == pytest.approx(np.log([0.5, 1.5]))
    assert p.income_constant[NOT_LOW] == pytest.approx(np.log([1.5, 0.5]))
    assert p.rent_sensitivity[LOW] == 5.0 and p.rent_sensitivity[NOT_LOW] == 1.0
    # with as many free dwellings as households in each area and unchanged rents, each class
    # goes where it lives: 1/4 of the low-income movers to area 0, 3/4 to area 1
    w = location.destination_weights(np.array([4, 4]), np.ones(2), np.full((2, G), 1 / G), p)
    assert w[row(LOW, NONE)] == pytest.approx([0.25, 0.75])
    assert w[row(NOT_LOW, NONE)] == pytest.approx([0.75, 0.25])


def test_capacity_hand_case():
    group, low = np.zeros(5, np.int64), np.zeros(5, bool)
    dest = location.choose_areas(np.array([0, 2, 1]), np.ones(3), EVEN, group, low, params(), np.random.default_rng(0))
    assert sorted(dest.tolist()) == [-1, -1, 1, 1, 2]


@settings(max_examples=50, deadline=None)
@given(cap=st.lists(st.integers(0, 30), min_size=1, max_size=8), n=st.integers(0, 120), seed=st.integers(0, 10_000))
def test_choice_never_exceeds_capacity_and_avoids_own_area(cap, n, seed):
    rng = np.random.default_rng(seed)
    capacity = np.array(cap)
    k = len(cap)
    shares = rng.dirichlet(np.ones(G), size=k)
    p = params(low=3.0, not_low=1.0, homophily=2.0, constant=rng.normal(0, 1, (2, k)), areas=k)
    own = rng.integers(0, k, n)
    dest = location.choose_areas(capacity, rng.uniform(0.5, 2, k), shares, rng.integers(0, G, n), rng.random(n) < 0.3, p, rng, own=own)
    assert_capacity_rule(dest, capacity, own)


def test_draws_follow_the_logit_probabilities():
    # capacity does not bind: the share of each area = its probability; 20,000 draws give a
    # standard error of at most 0.0035, so 0.02 is more than 5 standard errors
    n = 20_000
    free = np.array([10**9, 2 * 10**9, 10**9])
    p = params(low=2.0, not_low=0.5, constant=[[0.0, 0.5, -0.3], [0.2, 0.0, 0.1]])
    rng = np.random.default_rng(11)
    group, low = rng.integers(0, G, n), rng.random(n) < 0.5
    rent = np.array([1.0, 1.2, 0.9])
    dest = location.choose_areas(free, rent, EVEN, group, low, p, np.random.default_rng(12))
    expected = location.destination_weights(free, rent, EVEN, p)[location.household_types(group, low)].mean(axis=0)
    assert np.bincount(dest, minlength=3) / n == pytest.approx(expected, abs=0.02)


def test_without_homophily_composition_does_not_matter():
    n = 5_000
    rng = np.random.default_rng(3)
    group, low = rng.integers(0, G, n), rng.random(n) < 0.2
    free = np.array([400, 3000, 1500, 2500])
    p = params(low=4.0, not_low=1.0, homophily=0.0, constant=[[0.3, 0.0, -0.4, 0.2], [0.0, 0.1, 0.0, -0.1]], areas=4)
    a = np.array([[0.9, 0.05, 0.05], [0.3, 0.3, 0.4], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    b = a[::-1].copy()
    rent = np.array([1.0, 1.1, 0.9, 1.0])
    da = location.choose_areas(free, rent, a, group, low, p, np.random.default_rng(4))
    db = location.choose_areas(free, rent, b, group, low, p, np.random.default_rng(4))
    assert (da == db).all()  # same weights, same draws


def test_with_homophily_a_group_favours_areas_where_it_lives():
    # two areas with the same free dwellings and rents; foreigners are 10 % in area 0, 40 % in
    # area 1; with homophily 1 a foreign mover picks area 1 with probability 0.4 / 0.5 = 0.8 and
    # a mover without migration background (90 % vs 60 %) area 0 with 0.9 / 1.5 = 0.6.
    # 10,000 movers each: standard error <= 0.005, tolerance 0.02 (4 standard errors)
    n = 10_000
    shares = np.array([[0.9, 0.0, 0.1], [0.6, 0.0, 0.4]])
    free = np.array([10**9, 10**9])
    low = np.zeros(n, bool)
    p = params(homophily=1.0, areas=2)
    foreign = location.choose_areas(free, np.ones(2), shares, np.full(n, FOREIGN), low, p, np.random.default_rng(5))
    none = location.choose_areas(free, np.ones(2), shares, np.full(n, NONE), low, p, np.random.default_rng(6))
    assert np.mean(foreign == 1) == pytest.approx(0.8, abs=0.02)
    assert np.mean(none == 0) == pytest.approx(0.6, abs=0.02)
    # stronger homophily sorts further: 0.4^2 / (0.1^2 + 0.4^2) = 0.94
    p2 = params(homophily=2.0, areas=2)
    foreign2 = location.choose_areas(free, np.ones(2), shares, np.full(n, FOREIGN), low, p2, np.random.default_rng(5))
    assert np.mean(foreign2 == 1) == pytest.approx(0.16 / 0.17, abs=0.02)


def test_low_income_movers_shun_areas_whose_rents_rose_most():
    # rents in area 1 rose by half more than in area 0: weight 1.5^-5 = 0.13 for low-income
    # movers (area 0 with 1 / 1.13 = 0.88), 1.5^-1 = 0.67 for the others (area 0 with 0.6);
    # 10,000 movers each: standard error <= 0.005, tolerance 0.02
    n = 10_000
    free = np.array([10**9, 10**9])
    p = location.ChoiceParams.of({"low": 5.0, "not_low": 1.0}, 0.0, np.array([0, 1]), np.array([True, True]), 2)
    group, rent = np.zeros(n, np.int64), np.array([1.0, 1.5])
    low = location.choose_areas(free, rent, np.full((2, G), 1 / G), group, np.ones(n, bool), p, np.random.default_rng(7))
    other = location.choose_areas(free, rent, np.full((2, G), 1 / G), group, np.zeros(n, bool), p, np.random.default_rng(8))
    assert np.mean(low == 0) == pytest.approx(1 / (1 + 1.5**-5), abs=0.02)
    assert np.mean(other == 0) == pytest.approx(1 / (1 + 1.5**-1), abs=0.02)


@pytest.mark.parametrize("n", [1, 5, 7, 8, 45, 127, 128, 129, 300, 1000])
def test_pairwise_sum_adds_up_as_numpy_does(n):
    rng = np.random.default_rng(n)
    for _ in range(50):
        x = rng.random(n) * np.exp(rng.normal(0, 5, n))
        assert shared.pairwise_sum(x) == x.sum()  # to the last bit: the choice draws depend on it
        w = np.stack([x, x[::-1]])
        assert shared.pairwise_sum(w[1]) == w.sum(axis=1)[1]


def test_residents_after_moves_count_the_movers_members_in_their_new_areas():
    """Households of mixed origin move between three areas: the carried count equals a fresh one."""
    people = [(30, MALE, NONE, 0, HEAD), (31, FEMALE, FOREIGN, 0, PARTNER), (40, MALE, FOREIGN, 1, HEAD)]
    people += [(50, FEMALE, NONE, 2, HEAD), (25, MALE, NONE, 3, HEAD), (26, FEMALE, FOREIGN, 3, PARTNER)]
    pop = make_population(people, [(0, NOT_LOW, 1), (1, NOT_LOW, 1), (2, LOW, 1), (0, LOW, 1)], 3)
    before = location.residents_by_group(pop, 3)
    rows, dest = np.array([0, 2, 3]), np.array([2, 0, 1])
    origin = pop.move_households(rows, dest)
    after = location.after_moves(before, pop, rows, origin)
    assert after.tolist() == location.residents_by_group(pop, 3).tolist()
    assert after.tolist() != before.tolist()
