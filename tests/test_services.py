"""Services: allocation against capacity, hand cases, monotonicity, and the model's service tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import catalogue
from simulation.errors import InputError
from simulation.population import mask_rows
from simulation.processes import services, shared
from simulation.scenario import Scenario
from tests.helpers import paired_runs, scenario_error


def line_distances(n: int) -> np.ndarray:
    """Areas on a line, 1 km apart."""
    x = np.arange(n, dtype=float)
    return np.abs(x[:, None] - x[None, :])


@settings(max_examples=100, deadline=None)  # no deadline: the first call compiles mask_rows
@given(st.lists(st.booleans(), max_size=100))
def test_mask_rows_are_the_true_or_false_positions(mask):
    """mask_rows reads the mask eight at a time: every length and pattern gives np.flatnonzero
    of the mask (value True) or of its negation (value False)."""
    mask = np.array(mask, bool)
    assert mask_rows(mask, True).tolist() == np.flatnonzero(mask).tolist()
    assert mask_rows(mask, False).tolist() == np.flatnonzero(~mask).tolist()


def test_hand_computed_allocation():
    # three areas on a line; area 0 has 1 place, area 1 has 2, area 2 none.
    dist = line_distances(3)
    nearest = services.nearest_areas(dist, max_km=1.5, limit=2)
    home = np.array([0, 0, 0, 2, 2])
    previous = np.array([-1, -1, 1, -1, -1])  # seeker 2 used a place in area 1 last year
    waited = np.array([0, 1, 0, 0, 0])  # seeker 1 has waited a year
    chance = np.zeros((5, 3))  # everyone accepts every reachable offer; ties by row order
    chance[:, 0] = [0.1, 0.2, 0.3, 0.4, 0.5]
    served = services.allocate(home, previous, waited, np.array([1, 2, 0]), dist, nearest, 1.0, chance)
    # seeker 2 keeps area 1; seeker 1 (waited) gets area 0's single place; seeker 0 goes to the
    # nearest other area (1, 1 km) and takes its last place; seekers 3 and 4 (area 2) find nothing
    # within reach: area 1 is full and area 0 is 2 km away (beyond 1.5 km)
    assert served.tolist() == [1, 0, 1, -1, -1]


def test_distance_decay_decides_acceptance():
    dist = line_distances(2) * 3.0  # 3 km apart
    nearest = services.nearest_areas(dist, max_km=5, limit=1)
    chance = np.array([[0.0, 0.2], [0.0, 0.4]])
    # access exp(-3/10) = 0.74 accepts both; exp(-3/3) = 0.37 accepts only the first
    far = services.allocate(np.array([0, 0]), np.array([-1, -1]), np.zeros(2), np.array([0, 5]), dist, nearest, 10.0, chance)
    near = services.allocate(np.array([0, 0]), np.array([-1, -1]), np.zeros(2), np.array([0, 5]), dist, nearest, 3.0, chance)
    assert far.tolist() == [1, 1] and near.tolist() == [1, -1]


instances = st.integers(2, 6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.integers(0, n - 1), min_size=0, max_size=60),
        st.lists(st.integers(0, 12), min_size=n, max_size=n),
        st.integers(0, 2**31 - 1),
    )
)


@settings(max_examples=80, deadline=None)
@given(instances)
def test_allocation_never_exceeds_places_and_more_places_never_hurt(instance):
    n, homes, slots, seed = instance
    rng = np.random.default_rng(seed)
    home = np.array(homes, dtype=np.int64)
    k = len(home)
    dist = rng.random((n, n)) * 5
    dist = (dist + dist.T) / 2
    np.fill_diagonal(dist, 0)
    nearest = services.nearest_areas(dist, 4.0, limit=3)
    previous = np.where(rng.random(k) < 0.3, rng.integers(0, n, k), -1)
    waited = rng.integers(0, 3, k)
    chance = rng.random((k, 4))
    slots = np.array(slots)
    served = services.allocate(home, previous, waited, slots, dist, nearest, 2.0, chance)
    assert (np.bincount(served[served >= 0], minlength=n) <= slots).all()
    # one more place in a random area: nobody unmet before is... everybody served before stays served,
    # so unmet falls in that area and rises nowhere
    more = slots.copy()
    target = int(rng.integers(0, n))
    more[target] += 1
    served_more = services.allocate(home, previous, waited, more, dist, nearest, 2.0, chance)
    assert set(np.flatnonzero(served_more < 0)) <= set(np.flatnonzero(served < 0))
    unmet = np.bincount(home[served < 0], minlength=n)
    unmet_more = np.bincount(home[served_more < 0], minlength=n)
    assert (unmet_more <= unmet).all()


def test_unlimited_capacity_leaves_nobody_unmet():
    dist = line_distances(4)
    home = np.repeat(np.arange(4), 50)
    served = services.allocate(
        home,
        np.full(200, -1),
        np.zeros(200),
        np.full(4, 200),
        dist,
        services.nearest_areas(dist, 2, 2),
        1.0,
        np.random.default_rng(0).random((200, 3)),
    )
    assert (served == home).all()


def test_fixed_uniform_is_uniform_and_reproducible():
    draw = np.random.default_rng(1).integers(0, 2**32, 200_000, dtype=np.uint32)
    u = shared.fixed_uniform(draw, 3, 2030, 1)
    assert np.array_equal(u, shared.fixed_uniform(draw, 3, 2030, 1))
    assert not np.array_equal(u, shared.fixed_uniform(draw, 3, 2031, 1))
    assert abs(u.mean() - 0.5) < 0.005 and u.min() >= 0 and u.max() < 1
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert counts.min() > 19_000


def test_catalogue_has_the_required_types_with_sources(data_dir):
    cat = catalogue.load_catalogue(data_dir)
    assert {
        "kita_u3",
        "kita_3_6",
        "after_school",
        "youth_centre",
        "family_centre",
        "senior_meeting",
        "senior_outreach",
        "integration_course",
        "social_counselling",
        "basic_income_support",
    } <= set(cat)
    assert cat["kita_u3"].base_capacity == 12549 and cat["basic_income_support"].unlimited
    for service in cat.values():
        assert service.source and service.assumption


def test_catalogue_errors_name_field(tmp_path, data_dir):
    import shutil

    shutil.copytree(data_dir, tmp_path / "d")
    path = tmp_path / "d" / catalogue.CATALOGUE
    frame = pd.read_csv(path)
    frame.loc[0, "level"] = "street"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        catalogue.load_catalogue(tmp_path / "d")
    assert err.value.field == "level" and "person, household" in str(err.value)


@pytest.fixture(scope="module")
def district():
    """Sozialrathaus Bockenheim, 6 years, baseline and with a new Kita."""
    return paired_runs(Scenario(areas="sozialrathaus:Bockenheim", horizon=6, seed=5), "new_kita_bockenheim.toml", "offerings")


def test_service_table_accounting(district):
    table = district[0].tables["services"]
    assert ((table["served"] + table["unmet"]) == table["demand"]).all()
    assert (table["demand"] <= table["eligible"]).all()
    assert (table["waiting"] <= table["unmet"]).all()
    basic = table[table["service"] == "basic_income_support"]
    assert (basic["unmet"] == 0).all() and basic["capacity"].isna().all()
    groups = district[0].tables["services_unmet"]
    per_dim = groups.groupby(["year", "area", "service", "dimension"])["unmet"].sum().unstack("dimension")
    total = table.set_index(["year", "area", "service"])["unmet"]
    for dim in ("migration_background", "income_class", "household_type"):
        assert (per_dim[dim].reindex(total.index) == total).all(), dim


def test_model_state_respects_capacity_and_eligibility():
    from tests.helpers import build_model

    model = build_model(Scenario(areas="sozialrathaus:Bockenheim", horizon=3, seed=2))
    model.run(3)
    pop = model.population
    view = services.PersonView.of(pop, model.year)
    for i, (name, service) in enumerate(model.catalogue.items()):
        users = np.flatnonzero(pop.persons.use[:, i] >= 0)
        if not service.unlimited:
            per_area = np.bincount(pop.persons.use[users, i], minlength=len(model.area_names))
            assert (per_area * service.units_per_user <= model.effective_capacity()[i] + 1e-9).all(), name
        assert services.eligible(service, view)[users].all(), f"ineligible person served by {name}"
    agent = model.agent_of(pop.households.hid[pop.persons.hh[np.flatnonzero(pop.persons.use[:, 0] >= 0)[0]]])
    assert "kita_u3" in agent.services_used


def test_new_kita_lowers_unmet_in_bockenheim_and_only_there(district):
    base, kita = (r.tables["services"].set_index(["year", "area", "service"]) for r in district)
    pd.testing.assert_frame_equal(district[0].tables["population"], district[1].tables["population"])
    u3 = (slice(None), "Bockenheim", "kita_u3")
    before = base.loc[u3, "unmet"].loc[:2026]
    assert (before == kita.loc[u3, "unmet"].loc[:2026]).all()  # identical until the opening
    after_base, after_kita = base.loc[u3, "unmet"].loc[2027:], kita.loc[u3, "unmet"].loc[2027:]
    assert (after_base > 0).any(), "the baseline has unmet under-3 demand in Bockenheim to reduce"
    assert (after_kita <= after_base).all()
    assert (after_kita[after_base > 0] < after_base[after_base > 0]).all()
    assert kita.loc[(2027, "Bockenheim", "kita_u3"), "capacity"] == base.loc[(2027, "Bockenheim", "kita_u3"), "capacity"] + 19
    opening_year = kita.xs(2027, level="year")["unmet"] - base.xs(2027, level="year")["unmet"]
    assert (opening_year <= 0).all()  # in the opening year no area and service is worse off


def test_take_up_change_raises_demand_of_the_group_only():
    runs = paired_runs(Scenario(areas="sozialrathaus:Bockenheim", horizon=3, seed=5), "senior_outreach.toml", "take_up")
    a, b = (r.tables["services"].set_index(["year", "area", "service"]) for r in runs)
    meeting = (slice(None), slice(None), "senior_meeting")
    assert (b.loc[meeting, "demand"].loc[2026:] > a.loc[meeting, "demand"].loc[2026:]).all()
    assert (b.loc[meeting, "demand"].loc[:2025] == a.loc[meeting, "demand"].loc[:2025]).all()
    kita = (slice(None), slice(None), "kita_u3")
    assert (b.loc[kita, "demand"] == a.loc[kita, "demand"]).all()


@pytest.mark.parametrize(
    "text, field",
    [
        ('[[offerings]]\nservice = "spa"\narea = "Bockenheim"\nyear = 2027\naction = "open"\ncapacity = 5\n', "offerings[1].service"),
        ('[[offerings]]\nservice = "kita_u3"\narea = "Atlantis"\nyear = 2027\naction = "open"\ncapacity = 5\n', "offerings[1].area"),
        ('[[offerings]]\nservice = "kita_u3"\narea = "Bockenheim"\nyear = 2027\naction = "open"\ncapacity = -5\n', "offerings[1].capacity"),
        ('[[offerings]]\nservice = "kita_u3"\narea = "Bockenheim"\nyear = 2099\naction = "open"\ncapacity = 5\n', "offerings[1].year"),
        ('[[offerings]]\nservice = "kita_u3"\narea = "Bockenheim"\nyear = 2027\naction = "open"\n', "offerings[1].capacity"),
        ('[[take_up]]\nservice = "spa"\nfrom_year = 2027\nfactor = 2\n', "take_up[1].service"),
        ("[services.kita_u3]\ntake_up = { none = 1.5 }\n", "services.kita_u3.take_up.none"),
    ],
)
def test_bad_service_scenarios_name_the_field(tmp_path, text, field):
    assert scenario_error(tmp_path, text).field == field


def test_an_offering_cannot_change_an_entitlement(tmp_path):
    from tests.helpers import scenario_error

    err = scenario_error(tmp_path, '[[offerings]]\nservice = "basic_income_support"\narea = "Gallus"\nyear = 2026\naction = "close"\n')
    assert err.field == "offerings[1].service" and "entitlement" in err.problem
