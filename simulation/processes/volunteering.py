"""Volunteering: who volunteers, and the service places their time adds.

Rules: a person aged at least ``min_age`` volunteers when a fixed per-person uniform number is
below share x relative_propensity[origin] x the factor of a volunteer programme in the area (if
one runs). Share: 39.7 % of residents 14+ volunteer in Germany (Freiwilligensurvey 2019); the
relative propensities by origin are scenario assumptions. Volunteer hours in an area = volunteers
x hours_per_volunteer x social_services_share + programmes' coordination hours; they add
hours / hours_per_place places to the area's services that use volunteers, split in proportion
to those services' base-year places in the area.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulation.population import tally
from simulation.processes.shared import below_threshold, key_step, mix_one

VOLUNTEER_KEY = 10_001  # key of the fixed per-person number behind volunteering


def volunteers(
    age: np.ndarray,
    origin: np.ndarray,
    area: np.ndarray,
    draw: np.ndarray,
    share: float,
    relative: np.ndarray,
    area_factor: np.ndarray,
    min_age: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mask of persons who volunteer this year, and the volunteers per area: aged at least
    ``min_age``, with fixed_uniform(draw, VOLUNTEER_KEY) below the chance of their origin and area."""
    chance = np.clip(share * relative[:, None] * area_factor[None, :], 0.0, 1.0)  # by origin and area
    return _volunteers(age, origin, area, draw, below_threshold(chance), key_step(VOLUNTEER_KEY), min_age)


@njit(cache=True)
def _volunteers(age, origin, area, draw, threshold, step, min_age):
    """``volunteers``: the numbers behind fixed_uniform(draw, VOLUNTEER_KEY) (one hash_step of
    ``step``) compared with ``threshold[origin, area]`` as integers (``below_threshold``)."""
    n_areas = threshold.shape[1]
    flat = threshold.ravel()
    limit = np.empty(len(draw), np.uint64)
    for i in range(len(draw)):  # each person's threshold first, so that the comparisons run on vectors
        limit[i] = flat[np.intp(origin[i]) * n_areas + np.intp(area[i])]
    volunteer = np.empty(len(age), np.bool_)
    for i in range(len(draw)):
        volunteer[i] = (age[i] >= min_age) & ((mix_one(np.uint64(draw[i]) + step) >> np.uint64(11)) < limit[i])
    return volunteer, tally(area, n_areas, volunteer)


def volunteer_places(hours: np.ndarray, split: np.ndarray, hours_per_place: float) -> np.ndarray:
    """Places per service and area from volunteer hours per area; ``split`` (services x areas)
    holds each service's share of an area's volunteer time (columns sum to 1 or 0)."""
    return split * (hours / hours_per_place)[None, :]
