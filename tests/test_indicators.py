"""Indicators against PySAL segregation, analytic cases and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import indicators as ind

segregation = pytest.importorskip("segregation.singlegroup", reason="PySAL segregation is the reference implementation")

tables = st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000)), min_size=2, max_size=40).filter(
    lambda rows: 0 < sum(x for x, _ in rows) < sum(x + y for x, y in rows)
)


def frame(rows):
    x = np.array([r[0] for r in rows], float)
    t = x + np.array([r[1] for r in rows], float)
    keep = t > 0  # PySAL divides by unit totals; units without residents carry no information
    return pd.DataFrame({"group": x[keep], "total": t[keep]})


@settings(max_examples=150, deadline=None)
@given(tables)
def test_indices_equal_pysal_segregation(rows):
    df = frame(rows)
    x, t = df["group"].to_numpy(), df["total"].to_numpy()
    assert ind.dissimilarity(x, t) == pytest.approx(segregation.Dissim(df, "group", "total").statistic, abs=1e-9)
    assert ind.isolation(x, t) == pytest.approx(segregation.Isolation(df, "group", "total").statistic, abs=1e-9)
    assert ind.exposure(x, t) == pytest.approx(segregation.Interaction(df, "group", "total").statistic, abs=1e-9)
    assert ind.entropy(x, t) == pytest.approx(segregation.Entropy(df, "group", "total").statistic, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(tables)
def test_indices_stay_in_their_ranges(rows):
    df = frame(rows)
    x, t = df["group"].to_numpy(), df["total"].to_numpy()
    for f in (ind.dissimilarity, ind.isolation, ind.exposure, ind.entropy):
        assert -1e-12 <= f(x, t) <= 1 + 1e-12, f.__name__
    assert ind.isolation(x, t) + ind.exposure(x, t) == pytest.approx(1.0)  # xPx + xPy = 1


def test_perfect_segregation_and_perfect_mixing():
    x, t = np.array([100.0, 0.0, 50.0, 0.0]), np.array([100.0, 300.0, 50.0, 10.0])
    assert ind.dissimilarity(x, t) == pytest.approx(1.0)
    assert ind.entropy(x, t) == pytest.approx(1.0)
    assert ind.isolation(x, t) == pytest.approx(1.0) and ind.exposure(x, t) == pytest.approx(0.0)
    x, t = np.array([30.0, 60.0, 3.0]), np.array([100.0, 200.0, 10.0])  # 30 % everywhere
    assert ind.dissimilarity(x, t) == pytest.approx(0.0)
    assert ind.entropy(x, t) == pytest.approx(0.0, abs=1e-12)
    assert ind.isolation(x, t) == pytest.approx(0.3) and ind.exposure(x, t) == pytest.approx(0.7)


def test_hand_computed_dissimilarity():
    # two areas: group 10 of 20 and 30 of 80; P = 0.4; D = (20*0.1 + 80*0.025) / (2*100*0.4*0.6)
    assert ind.dissimilarity(np.array([10, 30]), np.array([20, 80])) == pytest.approx(4.0 / 48.0)


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=20))
def test_mixing_is_zero_when_groups_never_share_and_bounded(offers):
    a = np.array([o[0] for o in offers], float)
    b = np.array([o[1] for o in offers], float)
    assert ind.mixing(a, np.zeros_like(b)) == 0.0
    separate_a, separate_b = np.concatenate([a, np.zeros_like(b)]), np.concatenate([np.zeros_like(a), b])
    assert ind.mixing(separate_a, separate_b) == 0.0
    assert 0.0 <= ind.mixing(a, b) <= 1.0


def test_mixing_hand_case():
    # one offering with 2 + 2 users: 6 pairs, 4 of them cross the groups
    assert ind.mixing(np.array([2.0]), np.array([2.0])) == pytest.approx(4 / 6)


def test_composite_is_the_weighted_mean():
    parts = {"a": 0.2, "b": 1.0}
    assert ind.composite(parts, {"a": 3.0, "b": 1.0}) == pytest.approx((0.6 + 1.0) / 4)
    assert ind.dependency(25, 100) == 25.0 and ind.turnover_rate(10, 30, 100) == 0.2
