"""Hand-made populations for process tests."""

from __future__ import annotations

import numpy as np

from simulation import population
from simulation.vocabulary import HEAD, NONE, NOT_LOW


def make_population(people: list[tuple], households: list[tuple], n_areas: int = 2) -> population.Population:
    """people: (age, sex, origin, household row, role); households: (area, income, years)."""
    persons = population.empty_persons(len(people))
    for i, (age, sex, origin, hh, role) in enumerate(people):
        persons.age[i], persons.sex[i], persons.origin[i], persons.hh[i], persons.role[i] = age, sex, origin, hh, role
    persons.pid[:] = np.arange(len(people))
    persons.draw[:] = (np.arange(len(people), dtype=np.uint64) * 2654435761) % 2**32
    hh = population.empty_households(len(households))
    for i, (area, income, years) in enumerate(households):
        hh.area[i], hh.income[i], hh.years[i] = area, income, years
    hh.hid[:] = np.arange(len(households))
    return population.Population(persons=persons, households=hh, n_areas=n_areas, next_pid=len(people), next_hid=len(households))


def uniform_population(n: int, age: int, sex: int, origin: int = NONE, n_areas: int = 1) -> population.Population:
    """n one-person households of the same age, sex and origin, spread over areas."""
    people = [(age, sex, origin, i, HEAD) for i in range(n)]
    households = [(i % n_areas, NOT_LOW, 0) for i in range(n)]
    return make_population(people, households, n_areas)


def assert_capacity_rule(dest: np.ndarray, capacity: np.ndarray, own: np.ndarray) -> None:
    """The rule of every dwelling search (processes/shared.admit_in_rounds): no area takes more
    households than its free dwellings, and nobody is placed in their own area (-1: not placed)."""
    placed = dest >= 0
    assert (np.bincount(dest[placed], minlength=len(capacity)) <= capacity).all()
    assert (dest[placed] != own[placed]).all()


def scenario_error(tmp_path, text: str):
    """Build a model from the baseline extended by ``text``; return the InputError it raises."""
    import pytest

    from simulation.errors import InputError
    from simulation.inputs import load_inputs
    from simulation.scenario import load_scenario
    from tests.conftest import ROOT

    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\n' + text)
    with pytest.raises(InputError) as err:
        load_inputs(load_scenario(path))
    assert err.value.file == str(path.resolve()) or str(path) in str(err.value)
    return err.value


def with_intervention(base, scenario_file: str, field: str):
    """``base`` with one field (offerings, housing, ...) taken from a shipped scenario file."""
    from simulation.scenario import load_scenario
    from tests.conftest import ROOT

    return base.model_copy(update={field: getattr(load_scenario(ROOT / "scenarios" / scenario_file), field)})


def paired_runs(base, scenario_file: str, field: str):
    """Results of ``base`` and of ``base`` with the intervention of a shipped scenario (same seed)."""
    from simulation.runner import run_scenario

    return run_scenario(base), run_scenario(with_intervention(base, scenario_file, field))


def build_model(scenario, seed=None):
    """A CityModel of the scenario with freshly loaded inputs."""
    from simulation.inputs import load_inputs
    from simulation.model import CityModel

    return CityModel(scenario, load_inputs(scenario), seed)


def weighted_chooser(weights, rng):
    """A location choice for tests: areas in proportion to ``weights``, capped by the free dwellings."""
    from simulation.processes.shared import allocate_dwellings

    return lambda free, rows: allocate_dwellings(np.asarray(weights, float), free, len(rows), rng)
