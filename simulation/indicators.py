"""Demand and cohesion indicators: small pure functions of counts, in the source papers' notation.

Two-group segregation across units (areas), after Massey & Denton (1988), "The dimensions of
residential segregation", as implemented in PySAL ``segregation`` (``Dissim``, ``Isolation``,
``Interaction``, ``Entropy``): x = group counts per unit, t = totals per unit, X = sum(x),
T = sum(t), P = X / T. The tests check these functions against PySAL to 1e-9.
"""

from __future__ import annotations

import numpy as np


def dissimilarity(x: np.ndarray, t: np.ndarray) -> float:
    """D = sum(t_i |p_i - P|) / (2 T P (1 - P)), p_i = x_i / t_i (0 for empty units). Range 0..1."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    T = t.sum()
    P = x.sum() / T
    if P in (0.0, 1.0):
        return 0.0
    pi = np.where(t == 0, 0, x / np.where(t == 0, 1, t))
    return float((t * np.abs(pi - P)).sum() / (2 * T * P * (1 - P)))


def isolation(x: np.ndarray, t: np.ndarray) -> float:
    """xPx = sum((x_i / X) (x_i / t_i)): the group's average share of its own group. Range 0..1."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    X = x.sum()
    if X == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nansum((x / X) * (x / t)))


def exposure(x: np.ndarray, t: np.ndarray) -> float:
    """xPy = sum((x_i / X) (y_i / t_i)), y = t - x: the group's average share of the other group."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    X = x.sum()
    if X == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nansum((x / X) * ((t - x) / t)))


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        e = p * np.log(1 / p) + (1 - p) * np.log(1 / (1 - p))
    return np.nan_to_num(e)


def entropy(x: np.ndarray, t: np.ndarray) -> float:
    """Theil's H = sum(t_i (E - E_i)) / (E T), E = entropy of the whole, E_i of unit i. Range 0..1."""
    x, t = np.asarray(x, float), np.asarray(t, float)
    T = t.sum()
    P = x.sum() / T
    E = float(_binary_entropy(np.array([P]))[0])
    if E == 0:
        return 0.0
    pi = np.where(t == 0, 0, x / np.where(t == 0, 1, t))
    return float(np.nansum(t * (E - _binary_entropy(pi)) / (E * T)))


def mixing(users_a: np.ndarray, users_b: np.ndarray) -> float:
    """Share of contacts (pairs of users of the same offering) that join group a and group b.

    users_a[k], users_b[k]: users of offering k from each group. 0 when the groups never share an
    offering; 2 p (1 - p) of the pooled users when every offering has the same mix.
    """
    a, b = np.asarray(users_a, float), np.asarray(users_b, float)
    n = a + b
    pairs = (n * (n - 1) / 2).sum()
    return float((a * b).sum() / pairs) if pairs > 0 else 0.0


def turnover_rate(moved_in: float, moved_out: float, population: float) -> float:
    """Residential turnover: persons moving in plus out, halved, per resident at the start."""
    return float((moved_in + moved_out) / 2 / population) if population > 0 else 0.0


def dependency(young_or_old: float, working_age: float) -> float:
    """Persons of the dependent age group per 100 persons aged 18-64."""
    return float(100.0 * young_or_old / working_age) if working_age > 0 else float("nan")


def composite(parts: dict[str, float], weights: dict[str, float]) -> float:
    """Weighted mean of the parts (each 0..1) with the scenario's weights."""
    total = sum(weights.values())
    return float(sum(weights[k] * parts[k] for k in weights) / total)
