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

from simulation.processes.services import fixed_uniform

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
    """Mask of persons who volunteer this year."""
    chance = np.clip(share * relative[:, None] * area_factor[None, :], 0.0, 1.0)  # by origin and area
    p = np.take(chance, origin * np.int16(len(area_factor)) + area)
    return (age >= min_age) & (fixed_uniform(draw, VOLUNTEER_KEY) < p)


def volunteer_places(hours: np.ndarray, split: np.ndarray, hours_per_place: float) -> np.ndarray:
    """Places per service and area from volunteer hours per area; ``split`` (services x areas)
    holds each service's share of an area's volunteer time (columns sum to 1 or 0)."""
    return split * (hours / hours_per_place)[None, :]
