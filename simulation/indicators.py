"""Demand and cohesion indicators: small pure functions of counts, in the source papers' notation.

Two-group segregation across units (areas), after Massey & Denton (1988), "The dimensions of
residential segregation", as implemented in PySAL ``segregation`` (``Dissim``, ``Isolation``,
``Interaction``, ``Entropy``): x = group counts per unit, t = totals per unit, X = sum(x),
T = sum(t), P = X / T. The tests check these functions against PySAL to 1e-9. Each takes one table
(x, t over the units) or several stacked on leading axes (the units on the last axis), and gives a
number or an array of one value per table.
"""

from __future__ import annotations

import numpy as np


def _table(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """x, t as floats and their sums X, T over the units (the last axis, kept for broadcasting)."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    return x, t, x.sum(axis=-1, keepdims=True), t.sum(axis=-1, keepdims=True)


def _per_table(value: np.ndarray, zero: np.ndarray) -> np.ndarray | float:
    """The value of each table, 0 where ``zero``: an array over the leading axes, a number for one table."""
    return np.where(zero, 0.0, value)[..., 0][()]


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        e = p * np.log(1 / p) + (1 - p) * np.log(1 / (1 - p))
    return np.nan_to_num(e)


def segregation(x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray | float]:
    """The four indices below of each table at once (they share X, T, P, p_i and x_i / X)."""
    x, t, X, T = _table(x, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        P = X / T
        pi = np.where(t == 0, 0, x / np.where(t == 0, 1, t))
        D = (t * np.abs(pi - P)).sum(axis=-1, keepdims=True) / (2 * T * P * (1 - P))
        entropies = _binary_entropy(np.concatenate([P, pi], axis=-1))
        E, Ei = entropies[..., :1], entropies[..., 1:]  # of the whole and of each unit
        share = x / X
        # the isolation, exposure and entropy terms summed over the units at once, NaN terms as 0
        terms = np.stack([share * (x / t), share * ((t - x) / t), t * (E - Ei) / (E * T)])
        xPx, xPy, H = np.where(np.isnan(terms), 0.0, terms).sum(axis=-1, keepdims=True)
    return {
        "dissimilarity": _per_table(D, (P == 0.0) | (P == 1.0)),
        "isolation": _per_table(xPx, X == 0),
        "exposure": _per_table(xPy, X == 0),
        "entropy": _per_table(H, E == 0),
    }


def dissimilarity(x: np.ndarray, t: np.ndarray) -> np.ndarray | float:
    """D = sum(t_i |p_i - P|) / (2 T P (1 - P)), p_i = x_i / t_i (0 for empty units). Range 0..1."""
    return segregation(x, t)["dissimilarity"]


def isolation(x: np.ndarray, t: np.ndarray) -> np.ndarray | float:
    """xPx = sum((x_i / X) (x_i / t_i)): the group's average share of its own group. Range 0..1."""
    return segregation(x, t)["isolation"]


def exposure(x: np.ndarray, t: np.ndarray) -> np.ndarray | float:
    """xPy = sum((x_i / X) (y_i / t_i)), y = t - x: the group's average share of the other group."""
    return segregation(x, t)["exposure"]


def entropy(x: np.ndarray, t: np.ndarray) -> np.ndarray | float:
    """Theil's H = sum(t_i (E - E_i)) / (E T), E = entropy of the whole, E_i of unit i. Range 0..1."""
    return segregation(x, t)["entropy"]


def contact_pairs(users_a: np.ndarray, users_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of users of each offering: those that join group a and group b, and all of them."""
    a, b = np.asarray(users_a, float), np.asarray(users_b, float)
    n = a + b
    return a * b, n * (n - 1) / 2


def mixing(users_a: np.ndarray, users_b: np.ndarray) -> float:
    """Share of contacts (pairs of users of the same offering) that join group a and group b.

    users_a[k], users_b[k]: users of offering k from each group. 0 when the groups never share an
    offering; 2 p (1 - p) of the pooled users when every offering has the same mix.
    """
    cross, pairs = (x.sum() for x in contact_pairs(users_a, users_b))
    return float(cross / pairs) if pairs > 0 else 0.0


def ratio(num, den, otherwise: float, defined=None):
    """num / den elementwise, ``otherwise`` where it is not ``defined`` (default: where den is not 0)."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0 if defined is None else defined, num / den, otherwise)[()]


def turnover_rate(moved_in, moved_out, population):
    """Residential turnover: persons moving in plus out, halved, per resident at the start (0 without residents)."""
    return ratio(np.add(moved_in, moved_out) / 2, population, 0.0, np.greater(population, 0))


def dependency(young_or_old, working_age):
    """Persons of the dependent age group per 100 persons aged 18-64 (NaN without them)."""
    return ratio(100.0 * np.asarray(young_or_old, float), working_age, np.nan, np.greater(working_age, 0))


def composite(parts: dict, weights: dict):
    """Weighted mean of the parts (each 0..1) with the scenario's weights; elementwise for arrays."""
    total = sum(weights.values())
    return sum(weights[k] * parts[k] for k in weights) / total


def is_small_area(residents: np.ndarray, threshold: int) -> np.ndarray:
    """Areas with fewer residents than ``threshold``: one household's move changes their rates and
    shares visibly, so their figures are flagged as not reliable (the one place this is decided)."""
    return np.asarray(residents) < threshold
