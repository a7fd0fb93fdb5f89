"""sozialraum hindcast: fit up to a year, judge every later observation (simulation/hindcast.py)."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from simulation import hindcast as hc
from simulation import observed
from simulation.cli import app
from simulation.errors import InputError
from simulation.scenario import load_scenario
from tests.conftest import ROOT

# small Stadtteile with published totals both before and after 2017
AREAS = ["Altstadt", "Bahnhofsviertel", "Berkersheim"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hindcast")
    (tmp / "scen.toml").write_text(f'extends = "{ROOT / "scenarios" / "history_2012.toml"}"\nareas = {json.dumps(AREAS)}\n')
    config = (
        'scenario = "scen.toml"\nreplications = 1\nseed = 4\nmax_evaluations = 3\n'
        '[parameters]\n"in_migration.abroad_net_per_1000" = [0.0, 20.0]\n'
        '[optimize]\ninitial_design = 1\n[[targets]]\nseries = "stadtteil_total"\n'
    )
    (tmp / "cal.toml").write_text(config)
    # a partial run has no city figure to fit
    (tmp / "cal_city.toml").write_text(config + '[[targets]]\nseries = "city_total"\nweight = 2\n')
    return tmp


def test_small_config_needs_whole_city_targets_to_exist(small):
    """A target with no observation for the run's areas is an input error, named in the config."""
    with pytest.raises(InputError) as err:
        hc.hindcast(small / "cal_city.toml", 2017)
    assert err.value.field == "targets.1"


@pytest.fixture(scope="module")
def result(small):
    res = hc.hindcast(small / "cal.toml", 2017)
    out = hc.write_outputs(res, small / "out", "sozialraum hindcast --config cal.toml")
    return res, out


def test_every_held_out_observation_is_reported(result):
    res, out = result
    obs = observed.observations()
    expected = obs[observed.comparable(obs, AREAS, AREAS + ["somewhere else"], 2012, 2023) & (obs["date"] > "2017-12-31")]
    assert len(expected) >= 5  # Altstadt 2023-06, Bahnhofsviertel 2023-06 and 2023, Berkersheim 2022, 2023-06, 2023
    table = pd.read_csv(out / "hindcast.csv")
    held = table[table["status"] == "held out"]
    keys = lambda f: set(zip(f["series"], f["area"], f["group"], f["date"]))  # noqa: E731
    assert keys(held) == keys(expected)
    report = (out / "hindcast_report.html").read_text()
    section = report.split('<section id="held-out">')[1].split("</section>")[0]
    for s, a, g, d in keys(expected):
        assert f'data-key="{html.escape(f"{s}|{a}|{g}|{d}", quote=True)}"' in section
    # the comparison is the run's: simulated residents of Berkersheim on 31 Dec 2023 from the table
    row = held[(held["area"] == "Berkersheim") & (held["date"] == "2023-12-31")].iloc[0]
    assert row["observed"] == 3856
    assert row["relative_error"] == pytest.approx((row["simulated"] - 3856) / 3856)


def test_fitted_and_held_out_are_stated(result):
    res, out = result
    table = res.table
    fitted = table[table["status"] == "fitted"]
    assert (fitted["year"] <= 2017).all() and (table.loc[table["status"] == "held out", "year"] > 2017).all()
    assert set(fitted["series"]) == {"stadtteil_total"}
    report = (out / "hindcast_report.html").read_text()
    assert "Which figures were fitted and which held out" in report
    assert f"Fitted ({len(fitted)} observations)" in report
    assert f"Held out ({(table['status'] == 'held out').sum()} observations)" in report


def test_criteria_on_the_held_out_figures(result):
    res, out = result
    crit = pd.read_csv(out / "criteria.csv").set_index("criterion")
    held = res.table[(res.table["status"] == "held out") & (res.table["series"] == "stadtteil_total")]
    mape = 100 * np.mean(np.abs(held["simulated"] - held["observed"]) / held["observed"])
    assert crit.loc["stadtteil_total", "value"] == pytest.approx(mape)
    assert crit.loc["stadtteil_total", "result"] == ("met" if mape <= 3 else "not met")
    for name in ("city_total", "births", "deaths", "mean_age", "age_share_broad"):  # city figures: not in a partial run
        assert crit.loc[name, "result"] == "no held-out observation"
    fitted = load_scenario(out / "calibrated.toml", allow_any_extends=True)  # extends ../scen.toml, outside its folder
    assert 0.0 <= fitted.in_migration.abroad_net_per_1000 <= 20.0
    assert fitted.areas == AREAS and fitted.horizon == 11


def test_judge_applies_each_limit():
    rows = [
        ("city_total", "Frankfurt am Main", "all", 0.009, 1.0),
        ("city_total", "Frankfurt am Main", "all", -0.011, 1.0),
        ("stadtteil_total", "A", "all", 0.02, 1.0),
        ("stadtteil_total", "B", "all", -0.035, 1.0),
        ("deaths", "Frankfurt am Main", "all", 0.049, 1.0),
        ("mean_age", "Frankfurt am Main", "all", 0.01, 0.4),
        ("age_share_broad", "Frankfurt am Main", "65+", 0.1, 0.006),
    ]
    table = pd.DataFrame(rows, columns=["series", "area", "group", "relative_error", "error"]).assign(status="held out")
    crit = hc.judge(table).set_index("criterion")
    assert crit.loc["city_total", "result"] == "not met" and crit.loc["city_total", "value"] == pytest.approx(1.1)
    assert crit.loc["stadtteil_total", "result"] == "met" and crit.loc["stadtteil_total", "value"] == pytest.approx(2.75)
    assert crit.loc["deaths", "result"] == "met"
    assert crit.loc["births", "result"] == "no held-out observation"
    assert crit.loc["mean_age", "result"] == "met"
    assert crit.loc["age_share_broad", "result"] == "not met" and crit.loc["age_share_broad", "value"] == pytest.approx(0.6)
    fitted = table.assign(status="fitted")
    assert (hc.judge(fitted)["result"] == "no held-out observation").all()  # fitted figures never count


def test_observations_from_model_inputs_are_flagged():
    obs = pd.DataFrame(
        {
            "series": ["city_total", "births"],
            "area": ["Frankfurt am Main"] * 2,
            "group": ["all"] * 2,
            "date": ["2019-12-31"] * 2,
            "year": [2019, 2019],
            "unit": ["persons", "births"],
            "value": [100.0, 10.0],
            "source": ["frankfurt_city_population_register.csv", "frankfurt_births_deaths_fertility.csv"],
            "note": ["", ""],
            "output": ["residents@2019", "births@2019"],
        }
    )
    table = hc.compare(obs, np.array([[110.0, 9.0]]), np.array(["held out"] * 2), ["frankfurt_city_population_register.csv"])
    assert table["read_by_model"].tolist() == [True, False]
    assert table["relative_error"].tolist() == pytest.approx([0.1, -0.1])


def test_cli_hindcast_bad_cut_exits_2_without_output(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["hindcast", "--fit-until", "2030", "--out", str(out), "--workers", "1"])
    assert result.exit_code == 2
    assert "--fit-until" in result.output and "2013..2022" in result.output
    assert not out.exists()
