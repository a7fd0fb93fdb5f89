"""Housing change: new dwellings, rents and displacement of low-income households.

Rules (parameters in the scenario's ``[housing_market]``; assumptions, since no rent or
displacement data per Stadtteil is in calibration/data):

- new dwellings: the city's yearly completions spread over the areas by their stock, plus the
  scenario's densification projects (``[[housing]]``: dwellings spread evenly over their years);
- rents are an index per area, 1 in the base year (no rent levels per Stadtteil in the data).
  Each year: index x (1 + rent_growth + rent_vacancy_elasticity x max(0, reserve - vacancy rate)
  + rent_effect x project dwellings / stock): a tight market and expensive new building push
  rents up;
- displacement: a low-income household leaves its area with probability displacement_rate x the
  area's rent rise above the general rent growth. A share of the displaced leave the city; the
  others move to another area with free dwellings, preferring cheaper ones; who finds none stays.
"""

from __future__ import annotations

import numpy as np

from simulation.base_population import split_integer
from simulation.population import Population
from simulation.processes.shared import allocate_dwellings, free_dwellings
from simulation.vocabulary import LOW


def project_dwellings(projects, area_names: list[str], default_effect: float) -> tuple[np.ndarray, np.ndarray]:
    """Dwellings added per area by the projects building this year (``Scenario.housing_projects_in``:
    pairs of project and its dwellings of the year), and those dwellings x their rent effect."""
    added = np.zeros(len(area_names), np.int64)
    effect = np.zeros(len(area_names))
    for project, n in projects:
        a = area_names.index(project.area)
        added[a] += n
        effect[a] += n * (project.rent_effect if project.rent_effect is not None else default_effect)
    return added, effect


def spread_completions(completions: float, dwellings: np.ndarray) -> np.ndarray:
    """The year's completions (rounded to whole dwellings) spread over the areas by their stock."""
    return split_integer(np.array([int(round(completions))]), dwellings[None, :].astype(float))[0]


def update_rents(
    rent: np.ndarray,
    dwellings: np.ndarray,
    households: np.ndarray,
    added: np.ndarray,
    effect: np.ndarray,
    growth: float,
    elasticity: float,
    reserve: float,
) -> np.ndarray:
    """New rent index per area (see module rules); ``dwellings`` already include ``added``, and
    ``effect`` holds the added dwellings x their rent effect."""
    vacancy = np.where(dwellings > 0, (dwellings - households) / np.maximum(dwellings, 1), 0.0)
    tight = elasticity * np.maximum(0.0, reserve - vacancy)
    newbuild = effect / np.maximum(dwellings - added, 1)
    return rent * (1.0 + growth + tight + newbuild)


def draw_displaced(
    pop: Population, excess_rise: np.ndarray, rate: float, leave_city_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of low-income households pushed out of their area this year, split into those who
    leave the city and those who stay and look for a dwelling elsewhere: (leaving, staying)."""
    h = pop.households
    p = np.where(h.income == LOW, np.minimum(1.0, rate * excess_rise[h.area]), 0.0)
    displaced = np.flatnonzero(rng.random(len(h)) < p)
    leaving = displaced[rng.random(len(displaced)) < leave_city_share]
    return leaving, np.setdiff1d(displaced, leaving)


def affordable_weights(free: np.ndarray, rent: np.ndarray, sensitivity: float) -> np.ndarray:
    """Destination weights of low-income movers: free dwellings, fewer in dearer areas."""
    relative = rent / max(float(np.mean(rent)), 1e-12)
    return np.maximum(free, 0) * np.exp(-sensitivity * (relative - 1.0))


def relocate_displaced(
    pop: Population, rows: np.ndarray, dwellings: np.ndarray, rent: np.ndarray, sensitivity: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Where displaced households go: (rows that found a dwelling, destination areas)."""
    area = pop.households.area
    free = free_dwellings(dwellings, pop)
    dest = allocate_dwellings(affordable_weights(free, rent, sensitivity), free, len(rows), rng, own=area[rows].astype(np.int64))
    moved = dest >= 0
    return rows[moved], dest[moved]
