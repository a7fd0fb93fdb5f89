"""Migration by age: the Rogers-Castro schedule, household leave probabilities and newcomer
classes fitted to person targets, and a whole-city check that the simulated net migration by age
reproduces the balances it was built from (federal district migration matrix + INKAR abroad)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import lsq_linear

from simulation.processes import location, migration
from simulation.scenario import load_scenario
from simulation.vocabulary import CHILD, FEMALE, HEAD, MALE, MAX_AGE, NONE, NOT_LOW, OTHER, PARTNER
from tests.conftest import ROOT
from tests.helpers import build_model, make_population, weighted_chooser


def test_rogers_castro_matches_the_formula_by_hand():
    p = dict(a1=0.02, alpha1=0.1, a2=0.06, alpha2=0.1, mu2=20.0, lambda2=0.4, c=0.003)
    # age 20: 0.02 e^-2 + 0.06 e^(0 - e^0) + 0.003
    assert migration.rogers_castro(np.array([20]), **p)[0] == pytest.approx(0.02 * np.exp(-2) + 0.06 * np.exp(-1) + 0.003)
    m = migration.rogers_castro(np.arange(101), **p)
    assert 18 <= int(np.argmax(m[10:])) + 10 <= 26  # the labour-force peak in the early twenties
    assert m[0] > m[10]  # children move with young parents


def test_out_rates_give_the_crude_rate_in_the_base_population():
    people = [(a, MALE, NONE, i, HEAD) for i, a in enumerate([5, 20, 25, 40, 70, 90])]
    pop = make_population(people, [(0, NOT_LOW, 1)] * 6, 1)
    schedule = load_scenario(ROOT / "scenarios" / "baseline.toml").out_migration.schedule.model_dump()
    rates = migration.out_rates(pop, schedule, 0.0716)
    assert rates.take(pop.persons.age).sum() == pytest.approx(0.0716 * 6)


def families_and_singles():
    """Two-parent families (35, 33, child 4), singles aged 22 and 27, and old couples (70, 68)."""
    people, households = [], []
    for _ in range(4):
        people += [
            (35, MALE, NONE, len(households), HEAD),
            (33, FEMALE, NONE, len(households), PARTNER),
            (4, MALE, NONE, len(households), CHILD),
        ]
        households.append((0, NOT_LOW, 3))
    for age in (22, 22, 27, 27, 27):
        people.append((age, FEMALE, NONE, len(households), HEAD))
        households.append((0, NOT_LOW, 1))
    for _ in range(3):
        people += [(70, MALE, NONE, len(households), HEAD), (68, FEMALE, NONE, len(households), PARTNER)]
        households.append((0, NOT_LOW, 20))
    return make_population(people, households, 1)


def test_leave_probabilities_recover_known_class_rates():
    pop = families_and_singles()
    classes = migration.HouseholdClasses.of_population(pop)
    assert classes.of.tolist() == [0] * 4 + [1, 1, 2, 2, 2] + [5] * 3
    truth = np.array([0.10, 0.40, 0.30, 0.0, 0.0, 0.02])  # per class; classes 3, 4 are absent
    # persons per group if each class leaves with its rate, worked out by hand:
    # 0-17: 4 children x 0.1; 18-24: 2 x 0.4; 25-29: 3 x 0.3; 30-49: 8 parents x 0.1; 65+: 6 x 0.02
    target = np.array([0.4, 0.8, 0.9, 0.8, 0.0, 0.12])
    fitted = migration.leave_probabilities(classes, target)
    assert fitted[[0, 1, 2, 5]] == pytest.approx(truth[[0, 1, 2, 5]], abs=1e-6)


def members_by_group(pop, rows):
    """Members per migration age group of the household ``rows`` (a row listed twice counts
    twice), person by person."""
    times = np.bincount(rows, minlength=len(pop.households))
    out = np.zeros(len(migration.AGE_GROUPS), np.int64)
    for age, hh in zip(pop.persons.age, pop.persons.hh):
        out[np.searchsorted([18, 25, 30, 50, 65], age, side="right")] += times[hh]
    return out


def test_newcomer_classes_reproduce_wanted_arrivals_by_age():
    pop = families_and_singles()
    rng = np.random.default_rng(3)
    wanted = np.array([30.0, 40.0, 60.0, 60.0, 0.0, 20.0])
    classes = migration.HouseholdClasses.of_population(pop)
    arrivals = migration.immigrate(pop, classes, wanted, None, np.ones(3), 1.0, weighted_chooser([1.0], rng), np.array([100_000]), rng)
    got = members_by_group(pop, arrivals.templates)
    # a family brings 1 child and 2 adults 30-49: 30 children need 30 families = 60 adults 30-49
    assert got[0] == pytest.approx(30, abs=1) and got[3] == pytest.approx(60, abs=2)
    assert got[1] == pytest.approx(40, abs=1) and got[2] == pytest.approx(60, abs=1) and got[5] == pytest.approx(20, abs=1)


def test_fixed_volume_keeps_the_age_mix():
    pop = families_and_singles()
    rng = np.random.default_rng(3)
    wanted = np.array([30.0, 40.0, 60.0, 60.0, 0.0, 20.0])
    classes = migration.HouseholdClasses.of_population(pop)
    arrivals = migration.immigrate(pop, classes, wanted, 105.0, np.ones(3), 1.0, weighted_chooser([1.0], rng), np.array([100_000]), rng)
    assert members_by_group(pop, arrivals.templates).sum() == pytest.approx(105, abs=3)


def test_city_net_migration_by_age_reproduces_the_balances_it_was_built_from():
    """Four simulated years of the whole city: the mean net migration per age group equals the
    scenario's balance (KWM 2018-2021 mean + INKAR abroad spread by the schedule) within sampling
    noise. The target is computed here from the CSV and the formula, not from the model's code."""
    sc = load_scenario(ROOT / "scenarios" / "baseline.toml")
    # enough new dwellings that no newcomer is turned away (housing limits are not under test)
    sc = sc.model_copy(update={"horizon": 4, "housing_market": sc.housing_market.model_copy(update={"new_dwellings_per_year": 20_000})})
    model = build_model(sc)
    residents, ages = [], []
    for _ in range(4):
        residents.append(len(model.population.persons))
        ages.append(np.bincount(np.minimum(model.population.persons.age, 100), minlength=101))
        model.step()
    table = model.recorder.migration_table()
    # arrivals capped by dwellings would bias the balance: here they are a negligible few
    assert model.recorder.city_table()["unhoused_immigrants"].sum() < 0.002 * table["immigrants"].sum()
    kwm = pd.read_csv(ROOT / "calibration" / "data" / "frankfurt_net_internal_migration_by_age_kwm.csv")
    kwm = kwm[kwm["group"].str.contains("sex=all; citizenship=all; counterpart=all other German Kreise", regex=False)]
    kwm = kwm[~kwm["group"].str.startswith("all ages")]
    internal = kwm.groupby(kwm["group"].str.split(";").str[0], sort=False)["value"].mean().to_numpy()
    p = sc.in_migration.abroad_schedule
    x = np.arange(101)
    m = p.a1 * np.exp(-p.alpha1 * x) + p.a2 * np.exp(-p.alpha2 * (x - p.mu2) - np.exp(-p.lambda2 * (x - p.mu2))) + p.c
    edges = [0, 18, 25, 30, 50, 65, 101]
    targets = []
    for n, by_age in zip(residents, ages):  # abroad: rate x residents, spread by residents x m(x)
        # residents at the start of the year, a close stand-in for those at in-migration time
        w = m * by_age
        shares = np.array([w[lo:hi].sum() for lo, hi in zip(edges[:-1], edges[1:])]) / w.sum()
        targets.append(internal + sc.in_migration.abroad_net_per_1000 / 1000 * n * shares)
    target = np.mean(targets, axis=0)
    net = table.groupby("age_group", sort=False)["net"].mean().to_numpy()
    moved = table.groupby("age_group", sort=False)[["immigrants", "emigrants"]].sum().sum(axis=1).to_numpy()
    # sampling noise of the yearly mean: persons move in households of about 2 (variance x 2)
    sd = np.sqrt(2.0 * moved) / 4
    assert np.all(np.abs(net - target) < 4 * sd + 0.02 * np.abs(target)), (net.round(), target.round(), sd.round())
    assert net[0] < 0 and net[1] > 0 and net[2] > 0  # children leave with their families, young adults arrive
    assert internal[3] < 0  # their parents leave for the rest of Germany (abroad may offset it)


def test_single_newcomers_without_a_dwelling_move_into_flat_shares():
    """Hand case: homeless templates are a 25-year-old living alone, a 70-year-old living alone and
    a family; residents living alone aged 18-34 are hosts (one newcomer each). Only the young
    single newcomer finds a flat share; the old one and the family do not come."""
    people = [(25, FEMALE, NONE, 0, HEAD), (70, MALE, NONE, 1, HEAD)]
    people += [(35, MALE, NONE, 2, HEAD), (33, FEMALE, NONE, 2, PARTNER), (4, MALE, NONE, 2, CHILD)]
    people += [(30, MALE, NONE, 3, HEAD), (80, FEMALE, NONE, 4, HEAD)]
    pop = make_population(people, [(0, NOT_LOW, 1)] * 5, 1)
    classes = migration.HouseholdClasses.of_population(pop)
    assert classes.alone.tolist() == [True, False, False, True, False]
    lodgers, hosts = migration.flat_shares(pop, classes, np.array([0, 1, 2]), np.random.default_rng(0))
    assert pop.persons.age[lodgers].tolist() == [25]
    assert len(hosts) == 1 and hosts[0] in (0, 3)  # a resident aged 18-34 living alone
    # no host left: nobody moves in
    lodgers, hosts = migration.flat_shares(pop, classes, np.array([1, 2]), np.random.default_rng(0))
    assert len(lodgers) == len(hosts) == 0


def test_flat_mates_keep_the_accounting_and_join_as_other_members():
    """A district with no new dwellings: newcomers who find none share flats; model.check (the
    balancing equation per area) runs every year, and every flat mate is an 'other' member."""
    sc = load_scenario(ROOT / "scenarios" / "bockenheim.toml")
    sc = sc.model_copy(update={"horizon": 3, "housing_market": sc.housing_market.model_copy(update={"new_dwellings_per_year": 0})})
    model = build_model(sc)
    for _ in range(3):
        model.step()
    city = model.recorder.city_table()
    assert city["flat_mates"].sum() > 0
    p = model.population.persons
    newcomers_other = ((p.arrival >= sc.base_year + 1) & (p.role == OTHER) & (p.age >= 18)).sum()
    assert newcomers_other >= city["flat_mates"].iloc[-1]


def test_emigrants_by_age_group_count_every_member_of_the_leaving_households():
    pop = families_and_singles()
    rates = np.full(MAX_AGE + 1, 0.3)
    classes = migration.HouseholdClasses.of_population(pop)
    emigrants = migration.draw_emigrants(pop, classes, migration.expected_leavers(classes, rates), np.random.default_rng(5))
    assert emigrants.leave.any() and not emigrants.leave.all()
    assert emigrants.by_group.tolist() == members_by_group(pop, np.flatnonzero(emigrants.leave)).tolist()
    # the classes handed on to in-migration are those of the households that stay
    pop.remove_households(emigrants.leave)
    fresh = migration.HouseholdClasses.of_population(pop)
    assert emigrants.stayers.of.tolist() == fresh.of.tolist()
    assert emigrants.stayers.by_age.tolist() == fresh.by_age.tolist()
    assert emigrants.stayers.households.tolist() == fresh.households.tolist()
    assert emigrants.stayers.alone.tolist() == fresh.alone.tolist()
    # and so are the residents per area and origin group
    assert emigrants.residents.tolist() == location.residents_by_group(pop, pop.n_areas).tolist()


def test_relative_fit_keeps_to_the_bounds():
    """Within the bounds the fit is the least-squares solution; outside, the bounded one."""
    matrix = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    inside = migration._relative_fit(matrix, np.array([0.5, 1.0, 1.0]), 1.0)
    assert inside == pytest.approx([0.5, 0.5])
    outside = migration._relative_fit(matrix, np.array([3.0, -2.0, 1.0]), 1.0)
    assert ((outside >= 0.0) & (outside <= 1.0)).all()
    assert outside == pytest.approx(lsq_linear(matrix / np.array([3.0, 2.0, 1.0])[:, None], [1.0, -1.0, 1.0], bounds=(0, 1)).x)
