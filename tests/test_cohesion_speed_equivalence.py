"""The vectorised cohesion table against direct per-unit definitions on small random cities."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import cohesion
from simulation import indicators as ind


def random_state(seed: int) -> tuple[cohesion.YearState, np.ndarray]:
    """A random year and its service use as a (persons, services) table of offering areas (-1 none)."""
    r = np.random.default_rng(seed)
    n, persons, households, services = int(r.integers(1, 7)), int(r.integers(0, 300)), int(r.integers(0, 120)), int(r.integers(0, 4))
    use = np.where(r.random((persons, services)) < 0.2, r.integers(0, n, (persons, services)), -1).astype(np.int8)
    person, service = np.nonzero(use >= 0)
    state = cohesion.YearState(
        year=2030,
        area_names=[f"A{i}" for i in range(n)],
        sozialrathaus=[f"D{int(r.integers(0, 3))}" for _ in range(n)],
        person_area=r.integers(0, n, persons).astype(np.int16),
        age=r.integers(0, 101, persons).astype(np.int16),
        migrant=r.random(persons) < 0.4,
        low_income=r.random(persons) < 0.3,
        alone=r.random(persons) < 0.4,
        uses=(person, service, use[person, service]),
        limited=r.random(services) < 0.7,
        volunteer=r.random(persons) < 0.2,
        household_area=r.integers(0, n, households).astype(np.int16),
        household_years=r.integers(0, 12, households).astype(np.int16),
        start_population=r.integers(0, 60, n),
        moved_in=r.integers(0, 9, n),
        moved_out=r.integers(0, 9, n),
        displaced=r.integers(0, 3, n),
        volunteer_hours=r.random(n) * 50,
        volunteer_demand=r.integers(0, 9, n),
        served=r.integers(0, 9, n),
        demand=r.integers(0, 12, n),
        weights={"mixing": 1.0, "stability": 1.0, "service_reach": 1.0, "volunteering": 1.0, "no_isolation": 1.0},
        small_area_threshold=40,
        flows_known=bool(r.random() < 0.7),
    )
    return state, use


@pytest.mark.parametrize("seed", range(40))
def test_indicators_equal_their_definitions_per_unit(seed):
    s, use = random_state(seed)
    table = cohesion.indicator_table([cohesion.yearly_indicators(s)])
    value = table[table["indicator"] != "small_area"].set_index(["level", "area", "indicator"])["value"].sort_index()
    districts = sorted(set(s.sozialrathaus))
    units = [("area", a, [i]) for i, a in enumerate(s.area_names)]
    units += [("sozialrathaus", d, [i for i, x in enumerate(s.sozialrathaus) if x == d]) for d in districts]
    units += [("city", cohesion.CITY, list(range(len(s.area_names))))]
    assert list(dict.fromkeys(zip(table["level"], table["area"]))) == [(level, name) for level, name, _ in units]
    population = np.bincount(s.person_area, minlength=len(s.area_names))
    no_contact = (use < 0).all(axis=1)
    for level, name, areas in units:
        persons = np.isin(s.person_area, areas)
        homes = np.isin(s.household_area, areas)
        got = value.loc[(level, name)]
        expected_median = np.median(s.household_years[homes]) if homes.any() else np.nan
        assert got["median_years_at_address"] == pytest.approx(expected_median, nan_ok=True)
        assert got["alone_75plus_no_contact"] == (persons & (s.age >= 75) & s.alone & no_contact).sum()
        assert got["dependency_old"] == pytest.approx(
            ind.dependency((persons & (s.age >= 65)).sum(), (persons & (s.age >= 18) & (s.age < 65)).sum()), nan_ok=True
        )
        offers = [(use[:, k] == a) for k in np.flatnonzero(s.limited) for a in areas]
        for suffix, flag in (("migration", s.migrant), ("income", s.low_income)):
            mixing = ind.mixing(np.array([(o & flag).sum() for o in offers]), np.array([(o & ~flag).sum() for o in offers]))
            assert got[f"service_mixing_{suffix}"] == pytest.approx(mixing)
            if level != "area":
                x = np.bincount(s.person_area[flag], minlength=len(s.area_names))[areas]
                for indicator, between in cohesion.SEGREGATION.items():
                    assert got[f"{indicator}_{suffix}"] == pytest.approx(between(x, population[areas]), rel=1e-12, abs=1e-15, nan_ok=True)
    small = table[table["indicator"] == "small_area"]
    assert list(small["area"]) == s.area_names and list(small["value"]) == list((population < s.small_area_threshold).astype(float))
