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

from simulation.processes.shared import hash_step, uniform_below

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
) -> np.ndarray:
    """Mask of persons who volunteer this year: fixed_uniform(draw, VOLUNTEER_KEY) below the chance
    of their origin and area, compared in integer space (``shared.uniform_below``)."""
    chance = np.clip(share * relative[:, None] * area_factor[None, :], 0.0, 1.0)  # by origin and area
    z = hash_step(draw.astype(np.uint64), VOLUNTEER_KEY)  # the hash state behind fixed_uniform(draw, VOLUNTEER_KEY)
    return (age >= min_age) & uniform_below(chance.ravel(), origin * np.int16(len(area_factor)) + area, z, None)


def volunteer_places(hours: np.ndarray, split: np.ndarray, hours_per_place: float) -> np.ndarray:
    """Places per service and area from volunteer hours per area; ``split`` (services x areas)
    holds each service's share of an area's volunteer time (columns sum to 1 or 0)."""
    return split * (hours / hours_per_place)[None, :]
