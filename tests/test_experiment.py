"""simulation/experiment.py: parameters by dotted path, named outputs, evaluation over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation import experiment as ex
from simulation.errors import InputError
from simulation.scenario import Scenario
from tests.conftest import SMALL_AREAS


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return Scenario(name="tiny", areas=SMALL_AREAS, horizon=2, seed=7)


@pytest.fixture(scope="module")
def tiny_inputs(tiny):
    from simulation.inputs import load_inputs

    return load_inputs(tiny)


# ---- parameters ------------------------------------------------------------------------------
def test_numeric_parameters_lists_levers_but_not_structure(tiny):
    names = ex.numeric_parameters(tiny)
    for path in ("fertility.factor", "mortality.factor", "households.separation_rate", "housing_market.rent_growth"):
        assert path in names
    assert "volunteering.relative_propensity.foreign" in names
    assert not {"seed", "horizon", "base_year"} & set(names)
    assert "name" not in names and "areas" not in names


def test_set_parameters_sets_values_and_keeps_the_original(tiny):
    out = ex.set_parameters(
        tiny, {"fertility.factor": 1.25, "volunteering.relative_propensity.foreign": 0.5, "households.couple_max_age": 60.4}
    )
    assert out.fertility.factor == 1.25
    assert out.volunteering.relative_propensity == {"none": 1.0, "german_mb": 1.0, "foreign": 0.5}
    assert out.households.couple_max_age == 60  # integer field: rounded
    assert tiny.fertility.factor != 1.25 and tiny.households.couple_max_age != 60
    assert ex.parameter_value(out, "fertility.factor") == 1.25


def test_set_parameters_applies_the_scenario_bounds(tiny):
    with pytest.raises(InputError) as err:
        ex.set_parameters(tiny, {"households.separation_rate": 1.5})  # a rate: at most 1
    assert err.value.field == "households.separation_rate"
    assert "out of range" in err.value.problem and "1" in err.value.allowed


@pytest.mark.parametrize("path", ["fertility.nonsense", "seed", "name", "areas"])
def test_unknown_or_non_numeric_path_lists_the_numeric_ones(tiny, path):
    with pytest.raises(InputError) as err:
        ex.set_parameters(tiny, {path: 1.0})
    assert err.value.field == path
    assert "fertility.factor" in err.value.allowed


def test_non_finite_value_is_refused(tiny):
    with pytest.raises(InputError, match="finite"):
        ex.set_parameters(tiny, {"fertility.factor": float("nan")})


# ---- outputs ---------------------------------------------------------------------------------
def test_outputs_equal_sums_of_the_run_tables(small_result):
    """Each output against an independent computation on the tables (small run 2023-2028)."""
    t = small_result.tables
    pop, events, services = t["population"], t["events"], t["services"]
    last = int(pop["year"].max())

    def residents(year, areas=None):
        sub = pop[pop["year"] == year]
        return float(sub[sub["area"].isin(areas)]["persons"].sum()) if areas else float(sub["persons"].sum())

    assert ex.output_value(small_result, "residents") == residents(last)
    assert ex.output_value(small_result, "residents:Altstadt@2025") == residents(2025, ["Altstadt"])
    assert ex.output_value(small_result, "residents:Altstadt+Innenstadt@2024") == residents(2024, ["Altstadt", "Innenstadt"])
    # 30 June: 180 of 364 days after 1 Jan -> the value between the two 31 Decembers
    f = 180 / 364
    assert ex.output_value(small_result, "residents@2025-06-30") == pytest.approx((1 - f) * residents(2024) + f * residents(2025))
    ev = events[(events["year"] == 2026) & (events["area"] == "Innenstadt")]
    assert ex.output_value(small_result, "births:Innenstadt@2026") == float(ev["births"].iloc[0])
    assert ex.output_value(small_result, "deaths@2027") == float(events.loc[events["year"] == 2027, "deaths"].sum())
    sub = pop[pop["year"] == last]
    assert ex.output_value(small_result, "share_age:75+") == pytest.approx(
        sub.loc[sub["age"] >= 75, "persons"].sum() / sub["persons"].sum()
    )
    assert ex.output_value(small_result, "residents_age:0-2") == float(sub.loc[sub["age"] <= 2, "persons"].sum())
    assert ex.output_value(small_result, "mean_age") == pytest.approx(np.average(sub["age"] + 0.5, weights=sub["persons"]))
    foreign = sub[sub["migration_background"] == "foreign"]["persons"].sum()
    assert ex.output_value(small_result, "share_mb:foreign") == pytest.approx(foreign / sub["persons"].sum())
    kita = services[(services["year"] == 2025) & (services["service"] == "kita_u3")]
    assert ex.output_value(small_result, "unmet:kita_u3@2025") == float(kita["unmet"].sum())
    groups = t["services_unmet"]
    g = groups[(groups["year"] == 2025) & (groups["service"] == "kita_u3") & (groups["group"] == "foreign")]
    assert ex.output_value(small_result, "unmet:kita_u3:migration_background=foreign@2025") == float(g["unmet"].sum())
    coh = t["cohesion"]
    city = coh[(coh["year"] == 2026) & (coh["level"] == "city") & (coh["indicator"] == "dissimilarity_migration")]
    assert ex.output_value(small_result, "dissimilarity@2026") == pytest.approx(float(city["value"].iloc[0]))
    area = coh[(coh["year"] == 2026) & (coh["area"] == "Altstadt") & (coh["level"] == "area") & (coh["indicator"] == "turnover_rate")]
    assert ex.output_value(small_result, "cohesion:turnover_rate:Altstadt@2026") == pytest.approx(float(area["value"].iloc[0]))


@pytest.mark.parametrize(
    "name, words",
    [
        ("population@2025", "unknown output"),
        ("residents:Bockenheim", "not among this run's areas"),
        ("births@2023", "no events of 2023"),
        ("residents@2040", "no values for 2040"),
        ("births@2025-06-30", "whole year"),
        ("unmet:no_such_service@2025", "unknown service"),
        ("share_age:90-80", "age range"),
        ("residents@20x5", "neither a year nor a date"),
        ("cohesion:no_indicator", "no indicator"),
    ],
)
def test_bad_output_names_say_what_is_allowed(small_result, name, words):
    with pytest.raises(InputError) as err:
        ex.output_value(small_result, name)
    assert words in err.value.problem
    assert err.value.field == name and err.value.allowed


def test_check_output_needs_no_run(tiny):
    ex.check_output(tiny, "residents:Altstadt@2025")
    with pytest.raises(InputError, match="not among this run's areas"):
        ex.check_output(tiny, "residents:Gallus@2025")


# ---- evaluation ------------------------------------------------------------------------------
def test_evaluate_equals_direct_runs_seed_by_seed(tiny, tiny_inputs):
    from simulation.runner import run_scenario

    outputs = ["residents", "births:Altstadt@2025", "deaths@2024"]
    got = ex.evaluate(tiny, {"fertility.factor": 1.3}, outputs, [11, 12], inputs=tiny_inputs)
    assert got.shape == (2, 3)
    for row, seed in zip(got, [11, 12]):
        direct = run_scenario(tiny.model_copy(update={"fertility": tiny.fertility.model_copy(update={"factor": 1.3})}), seed=seed)
        ev = direct.tables["events"]
        assert row[0] == direct.tables["population"].query("year == 2025")["persons"].sum()
        assert row[1] == ev[(ev["year"] == 2025) & (ev["area"] == "Altstadt")]["births"].sum()
        assert row[2] == ev[ev["year"] == 2024]["deaths"].sum()
    assert not np.array_equal(got[0], got[1])  # different seeds, different runs


def test_evaluate_many_uses_common_seeds_and_reports_progress(tiny, tiny_inputs):
    calls = []
    points = [{"fertility.factor": 0.5}, {"fertility.factor": 2.0}, {"fertility.factor": 0.5}]
    out = ex.evaluate_many(
        tiny, points, ["births@2025", "births@2024"], [3, 4], progress=lambda d, t: calls.append((d, t)), inputs=tiny_inputs
    )
    assert out.shape == (3, 2, 2)
    assert np.array_equal(out[0], out[2])  # same point, same seeds: the same numbers
    assert (out[1] > out[0]).all()  # four times the fertility: more births with every seed
    assert calls[-1] == (6, 6) and len(calls) == 7


def test_parameters_read_by_the_inputs_get_inputs_of_their_own(tiny, tiny_inputs):
    """leave_home_rate shapes the synthesised households (read in load_inputs): reusing the
    base inputs would silently ignore it. fertility.factor is read only by the model."""
    from simulation.runner import run_scenario

    assert ex.inputs_shareable(tiny, [{"fertility.factor": 1.4}], tiny_inputs)
    assert not ex.inputs_shareable(tiny, [{"households.leave_home_rate": 0.3}], tiny_inputs)
    assert ex.inputs_shareable(tiny, [{"households.leave_home_rate": tiny.households.leave_home_rate}], tiny_inputs)
    changed = ex.set_parameters(tiny, {"households.leave_home_rate": 0.3})
    got = ex.evaluate(tiny, {"households.leave_home_rate": 0.3}, ["households@2024"], [5], inputs=tiny_inputs)
    direct = run_scenario(changed, seed=5).tables["households"]
    assert got[0, 0] == direct[direct["year"] == 2024]["households"].sum()


def test_results_do_not_depend_on_the_executor(tiny, tiny_inputs):
    from simulation.ensemble import make_executor

    points = [{"fertility.factor": 1.1}, {"mortality.factor": 0.7}]
    outputs = ["residents", "deaths@2025", "mean_age@2024-06-30"]
    local = ex.evaluate_many(tiny, points, outputs, [1, 2], inputs=tiny_inputs)
    with make_executor(2) as pool:
        parallel = ex.evaluate_many(tiny, points, outputs, [1, 2], executor=pool)
    assert np.array_equal(local, parallel)


def test_bad_output_or_seed_fails_before_any_run(tiny, tiny_inputs, monkeypatch):
    import simulation.runner

    monkeypatch.setattr(simulation.runner, "run_scenario", lambda *a, **k: pytest.fail("a run started"))
    with pytest.raises(InputError):
        ex.evaluate(tiny, {}, ["residents:Gallus"], [1], inputs=tiny_inputs)
    with pytest.raises(InputError, match="seed"):
        ex.evaluate(tiny, {}, ["residents"], [-1], inputs=tiny_inputs)
    with pytest.raises(InputError):
        ex.evaluate_many(tiny, [{"fertility.factor": 1.0}, {"fertility.factor": 99.0}], ["residents"], [1], inputs=tiny_inputs)


def test_output_values_accepts_tables(small_result):
    names = ["residents@2024", "births@2025"]
    assert np.array_equal(ex.output_values(small_result.tables, names), ex.output_values(small_result, names))
    assert isinstance(small_result.tables["population"], pd.DataFrame)
