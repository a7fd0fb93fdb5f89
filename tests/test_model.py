"""The model over time: accounting, determinism, agents, areas."""

from __future__ import annotations

import resource
import sys

import mesa
import numpy as np
import pandas as pd
import pytest

from simulation.model import keep_freed_memory
from simulation.processes import location
from simulation.records import YearEvents
from simulation.runner import run_scenario
from simulation.vocabulary import HOUSEHOLD_TYPES, INCOME_CLASSES, LOW
from tests.helpers import build_model


def test_population_accounting_holds_in_every_year_and_area(small_result):
    pop = small_result.tables["population"].groupby(["year", "area"])["persons"].sum().unstack("area")
    ev = small_result.tables["events"].set_index(["year", "area"])
    for year in pop.index[1:]:
        e = ev.loc[year]
        change = e["births"] - e["deaths"] + e["immigrants"] - e["emigrants"] + e["moves_in"] - e["moves_out"]
        assert ((pop.loc[year] - pop.loc[year - 1]).reindex(change.index) == change).all(), year
    assert (ev["moves_in"].groupby("year").sum() == ev["moves_out"].groupby("year").sum()).all()


def test_every_event_happens(small_result):
    totals = small_result.tables["events"].drop(columns=["year", "area"]).sum()
    assert (totals > 0).all(), totals


def test_same_seed_same_tables_different_seed_different(small_scenario, small_result):
    again = run_scenario(small_scenario)
    for name in ("population", "events", "households", "housing"):
        pd.testing.assert_frame_equal(small_result.tables[name], again.tables[name])
    other = run_scenario(small_scenario, seed=8)
    assert not small_result.tables["events"].equals(other.tables["events"])


def test_results_do_not_depend_on_the_global_numpy_generator(small_scenario, small_result):
    np.random.seed(12345)
    again = run_scenario(small_scenario)
    pd.testing.assert_frame_equal(small_result.tables["population"], again.tables["population"])


def test_seed_zero_is_a_seed(small_scenario):
    a = run_scenario(small_scenario, seed=0, years=1)
    b = run_scenario(small_scenario, seed=0, years=1)
    pd.testing.assert_frame_equal(a.tables["events"], b.tables["events"])


def test_agents_are_materialised_on_demand_and_equal_the_columns(small_scenario):
    model = build_model(small_scenario)
    registered = mesa.Model.agents.fget  # Mesa's own registry, read without materialising
    assert len(registered(model)) == 0  # building and running cost nothing per household
    model.step()
    assert len(registered(model)) == 0
    for year in range(3):
        if year:  # households form and dissolve between looks
            model.step()
        pop = model.population
        h = pop.households
        agents = model.agents  # asking materialises them: one Household per current household
        assert len(agents) == len(h) == len(registered(model))
        assert sorted(a.hid for a in agents) == h.hid.tolist()
        size, kind = pop.size(), pop.household_type()
        for row in np.random.default_rng(year).choice(len(h), 40, replace=False):
            agent = model.agent_of(h.hid[row])
            assert agent.area == model.area_names[h.area[row]]
            assert agent.size == size[row] == len(agent.member_table())
            assert agent.household_type == HOUSEHOLD_TYPES[kind[row]]
            assert agent.income_class == INCOME_CLASSES[h.income[row]]
            assert agent.years_at_address == h.years[row]
        # AgentSet verbs work on them
        low = agents.select(lambda a: a.income_class == "low")
        assert len(low) == int((h.income == LOW).sum())
        assert sum(agents.get("size")) == len(pop.persons)
    # an agent removed through Mesa's own API comes back: agents stay equal to the households
    gone = model.agent_of(model.population.households.hid[0])
    gone.remove()
    assert len(model.agents) == len(model.population.households)
    assert model.agent_of(model.population.households.hid[0]) is not gone


def test_a_finished_runs_model_is_freed_before_the_next_run(small_scenario, monkeypatch):
    # A worker runs replication after replication; each finished model is cyclic garbage holding
    # hundreds of MB, which must not wait for the cyclic collector (paused here, as if it had not
    # come round yet): the next run frees it first.
    import gc
    import weakref

    from simulation import runner

    models = []

    class Recorded(runner.CityModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            models.append(weakref.ref(self))

    monkeypatch.setattr(runner, "CityModel", Recorded)
    scenario = small_scenario.model_copy(update={"horizon": 1})
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        run_scenario(scenario)
        first_alive_after_its_run = models[0]() is not None
        run_scenario(scenario)
    finally:
        if was_enabled:
            gc.enable()
    assert first_alive_after_its_run  # it is cyclic garbage indeed, not freed by reference counting
    assert models[0]() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_memory_is_reused_without_fresh_pages():
    """After keep_freed_memory, an array of a size just freed reuses the freed pages: touching
    its 8 MB (2,048 pages) faults in almost none, where fresh pages fault one by one."""
    assert keep_freed_memory()
    n = 8 * 2**20
    np.ones(n, np.uint8)  # made and freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    again = np.ones(n, np.uint8)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert again.sum() == n
    assert faults < 200


def test_the_composition_handed_from_event_to_event_equals_a_fresh_count(small_scenario):
    """Out-migration, in-migration and the moves each hand on the residents per area and origin
    group as they left them; each equals a count over every person then, and an event run on its
    own (nothing handed on) counts it itself."""
    model = build_model(small_scenario)
    model.year += 1
    model.events = YearEvents(model.year, model.population.persons_per_area())
    for event in (model.ageing, model.construction, model.deaths, model.births, model.household_transitions):
        event()  # the year's events before them (as step runs them)
    n_areas = len(model.area_names)
    for event in (model.out_migration, model.in_migration, model.moves):
        event()
        assert model.residents_by_group.tolist() == location.residents_by_group(model.population, n_areas).tolist()
    model.residents_by_group = None  # housing on its own: the composition is counted
    model.housing()
    assert model.residents_by_group is None
