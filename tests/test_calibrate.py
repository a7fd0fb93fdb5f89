"""Observed series (simulation/observed.py) and calibration (simulation/calibrate.py).

The twin experiment: the model run with known parameter values makes synthetic "observed"
series; calibrating from a start and bounds that do not centre on the truth must recover it.
The optimisation twin uses the fit's own model seeds for the synthetic series (an identical
twin): the objective is then exactly zero at the truth and the test checks the fitting
machinery, not the seed noise (with other seeds, area-level births differ by a few per cent
from seed to seed, which moves the optimum by about as much). The ABC test uses other seeds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from simulation import calibrate, experiment, observed
from simulation.cli import app
from simulation.errors import InputError
from simulation.scenario import load_scenario
from simulation.vocabulary import CITY
from tests.conftest import ROOT

TRUTH = {"fertility.factor": 1.2, "mortality.factor": 0.8}
TWIN_AREAS = ["Bockenheim", "Westend-Süd"]


# ---- observed series -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def obs() -> pd.DataFrame:
    return observed.observations()


def _value(obs, series, area, date, group="all"):
    rows = obs[(obs["series"] == series) & (obs["area"] == area) & (obs["date"] == date) & (obs["group"] == group)]
    assert len(rows) == 1, (series, area, date, group)
    return float(rows["value"].iloc[0])


def test_observations_hold_the_published_figures(obs):
    assert _value(obs, "city_total", CITY, "2017-12-31") == 741093
    assert _value(obs, "city_total", CITY, "2013-06-30") == 685172
    assert _value(obs, "stadtteil_total", "Gallus", "2023-12-31") == 44123
    assert _value(obs, "stadtteil_total", "Sachsenhausen-Nord+Sachsenhausen-Süd", "2022-12-31") == 62399
    assert _value(obs, "births", CITY, "2017-12-31") == 9003
    assert _value(obs, "deaths", CITY, "2019-12-31") == 5899
    assert _value(obs, "mean_age", CITY, "2015-12-31") == 40.42
    assert _value(obs, "foreigners", CITY, "2023-12-31") == 244401
    # a printed change on a derived level: Niederrad 27,994 (2021) + 1,190 (2022) + 1,038 (2023)
    assert _value(obs, "stadtteil_total", "Niederrad", "2023-12-31") == 27994 + 1190 + 1038
    assert not obs.duplicated(["series", "area", "group", "date"]).any()
    assert not obs["area"].str.startswith("Frankfurt Stadtteil").any()


def test_registry_office_counts_are_never_used(obs):
    """Registrations include mothers and deceased from outside the city (10,064 births in 2006)."""
    vital = obs[obs["series"].isin(["births", "deaths"])]
    assert not vital["value"].isin([10064, 10582, 11074, 13207, 7032]).any()
    assert set(vital.loc[vital["series"] == "births", "year"]) == {2000, 2006, 2007, 2008, 2009, 2010, 2011, 2017}


def test_age_structure_is_compared_as_shares(obs):
    shares = obs[obs["series"] == "age_share"]
    assert len(shares) == 17 and shares["value"].sum() == pytest.approx(1.0)
    assert shares["group"].iloc[0] == "0-2" and shares["group"].iloc[-1] == "75+"
    broad = obs[obs["series"] == "age_share_broad"].set_index("group")["value"]
    assert broad.sum() == pytest.approx(1.0)
    assert broad["65+"] == pytest.approx((60973 + 58160) / 749596)
    assert (shares["output"] == "share_age:" + shares["group"] + "@2023").all()


def test_comparable_keeps_the_run_years_and_areas(obs):
    from simulation import data

    all_areas = data.load_areas(data.DEFAULT_DATA_DIR).names
    city = obs[observed.comparable(obs, all_areas, all_areas, 2012, 2023)]
    assert city["date"].min() > "2012-12-31" and city["date"].max() <= "2023-12-31"
    assert (city["series"] == "city_total").any()
    part = obs[observed.comparable(obs, ["Sachsenhausen-Nord", "Gallus"], all_areas, 2012, 2023)]
    assert set(part["area"]) == {"Sachsenhausen-Nord", "Gallus"}  # no city rows, no sum with Süd
    both = obs[observed.comparable(obs, ["Sachsenhausen-Nord", "Sachsenhausen-Süd"], all_areas, 2012, 2023)]
    assert "Sachsenhausen-Nord+Sachsenhausen-Süd" in set(both["area"])


def test_simulated_counterparts_and_own_series(tmp_path, small_result):
    path = tmp_path / "own.csv"
    path.write_text("series,area,date,value\nstadtteil_total,Altstadt,2025,4000\nbirths,Innenstadt+Altstadt,2026,99\n")
    own = observed.read_observations(path, list(small_result.tables["areas"]["area"].unique()))
    sim = observed.simulated(small_result, own)
    areas, events = small_result.tables["areas"], small_result.tables["events"]
    assert sim[0] == areas[(areas["year"] == 2025) & (areas["area"] == "Altstadt")]["residents"].sum()
    assert sim[1] == events[(events["year"] == 2026) & events["area"].isin(["Innenstadt", "Altstadt"])]["births"].sum()
    path.write_text("series,area,date,value\npopulation,Altstadt,2025,4000\n")
    with pytest.raises(InputError, match="unknown series"):
        observed.read_observations(path, ["Altstadt"])


# ---- config errors ---------------------------------------------------------------------------
def _config(tmp_path: Path, body: str, scenario_areas: str = '["Altstadt", "Bahnhofsviertel"]') -> Path:
    (tmp_path / "scen.toml").write_text(f'extends = "{ROOT / "scenarios" / "history_2012.toml"}"\nareas = {scenario_areas}\n')
    path = tmp_path / "cal.toml"
    path.write_text('scenario = "scen.toml"\n' + body)
    return path


GOOD_PARAMETERS = '[parameters]\n"fertility.factor" = [0.8, 1.4]\n'
GOOD_TARGET = '[[targets]]\nseries = "stadtteil_total"\n'


@pytest.mark.parametrize(
    "body, field, words",
    [
        ('[parameters]\n"fertility.nonsense" = [0.8, 1.4]\n' + GOOD_TARGET, "parameters.fertility.nonsense", "not a numeric parameter"),
        ('[parameters]\n"fertility.factor" = [0.8, 20.0]\n' + GOOD_TARGET, "parameters.fertility.factor", "bound 20"),
        ('[parameters]\n"fertility.factor" = [1.4, 0.8]\n' + GOOD_TARGET, "parameters.fertility.factor", "lower < upper"),
        (GOOD_PARAMETERS + '[[targets]]\nseries = "population"\n', "targets.0.series", "unknown target series"),
        (GOOD_PARAMETERS + '[[targets]]\nseries = "city_total"\n', "targets.0", "no observation"),
        (GOOD_PARAMETERS + GOOD_TARGET + 'years = "2017/2019"\n', "targets.0.years", "cannot read"),
        (GOOD_PARAMETERS + GOOD_TARGET + 'area = "Atlantis"\n', "targets.0.area", "unknown area"),
        (GOOD_PARAMETERS + GOOD_TARGET + 'method = "magic"\n', "targets.0.method", "unknown key"),
        ('method = "magic"\n' + GOOD_PARAMETERS + GOOD_TARGET, "method", "not allowed"),
        ("replications = 0\n" + GOOD_PARAMETERS + GOOD_TARGET, "replications", "out of range"),
        ('observed = "missing.csv"\n' + GOOD_PARAMETERS + GOOD_TARGET, None, "not found"),
        (GOOD_PARAMETERS, "targets", "missing"),
    ],
)
def test_config_errors_name_the_field(tmp_path, body, field, words):
    with pytest.raises(InputError) as err:
        calibrate.load_config(_config(tmp_path, body))
    if field:
        assert err.value.field == field
    assert words in err.value.problem


def test_missing_config_and_scenario(tmp_path):
    with pytest.raises(InputError, match="not found"):
        calibrate.load_config(tmp_path / "nothing.toml")
    path = tmp_path / "cal.toml"
    path.write_text('scenario = "nothing.toml"\n' + GOOD_PARAMETERS + GOOD_TARGET)
    with pytest.raises(InputError, match="scenario file not found"):
        calibrate.load_config(path)


def test_cli_bad_config_exits_2_without_output(tmp_path):
    cfg = _config(tmp_path, '[parameters]\n"fertility.factor" = [0.8, 20.0]\n' + GOOD_TARGET)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["calibrate", str(cfg), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 2
    assert "parameters.fertility.factor" in result.output and "Traceback" not in result.output
    assert not out.exists()


# ---- twin experiment -------------------------------------------------------------------------
def _synthetic(tmp_path: Path, seeds) -> Path:
    """Births and deaths per area and year at TRUTH, the mean over runs with ``seeds``, read
    straight from the events tables."""
    from simulation.runner import run_scenario

    scenario = load_scenario(tmp_path / "scen.toml")
    truth = experiment.set_parameters(scenario, TRUTH)
    events = pd.concat([run_scenario(truth, seed=s).tables["events"] for s in seeds])
    mean = events.groupby(["year", "area"])[["births", "deaths"]].mean().reset_index()
    rows = [
        pd.DataFrame({"series": s, "area": mean["area"], "date": mean["year"].astype(str), "value": mean[s]}) for s in ("births", "deaths")
    ]
    path = tmp_path / "synthetic.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("twin")
    (tmp / "scen.toml").write_text(
        f'extends = "{ROOT / "scenarios" / "history_2012.toml"}"\nareas = {json.dumps(TWIN_AREAS)}\nhorizon = 6\n'
    )
    _synthetic(tmp, calibrate.model_seeds(3, 2))  # the seeds of the fit below (seed 3, 2 replications)
    (tmp / "cal.toml").write_text(
        'scenario = "scen.toml"\nobserved = "synthetic.csv"\nmethod = "optimize"\nreplications = 2\nseed = 3\nmax_evaluations = 40\n'
        '[parameters]\n"fertility.factor" = [0.9, 1.6]\n"mortality.factor" = [0.5, 1.3]\n'
        '[[targets]]\nseries = "births"\n[[targets]]\nseries = "deaths"\n'
        "[optimize]\ninitial_design = 4\n"
    )
    started = time.perf_counter()
    cal = calibrate.load_config(tmp / "cal.toml")
    result = calibrate.calibrate(cal)
    out = calibrate.write_outputs(result, tmp / "out", "sozialraum calibrate cal.toml")
    return cal, result, out, time.perf_counter() - started


def test_twin_experiment_recovers_the_known_values(twin):
    cal, result, _, seconds = twin
    # the fit starts from the scenario's own values, off the truth
    assert cal.start == {k: experiment.parameter_value(cal.scenario, k) for k in TRUTH}
    assert all(abs(cal.start[k] - TRUTH[k]) > 0.05 for k in TRUTH)
    assert result.values["fertility.factor"] == pytest.approx(TRUTH["fertility.factor"], rel=0.05)
    assert result.values["mortality.factor"] == pytest.approx(TRUTH["mortality.factor"], rel=0.075)
    # at the truth each replication differs from the synthetic mean only by its own seed's share:
    # births and deaths per area and year of replication r against the mean of both
    names = list(cal.fit_rows["output"])
    at_truth = experiment.evaluate(cal.scenario, TRUTH, names, cal.seeds())
    mean = at_truth.mean(axis=0)
    births = cal.fit_rows["series"].to_numpy() == "births"
    by_hand = [np.mean(((r - mean) / mean)[births] ** 2) + np.mean(((r - mean) / mean)[~births] ** 2) for r in at_truth]
    truth_objective = calibrate.objective(at_truth, cal.fit_rows)
    assert truth_objective == pytest.approx(by_hand)
    assert np.allclose(mean, cal.fit_rows["value"])  # the synthetic series are these runs' mean
    assert truth_objective.mean() < result.start_objective / 5
    # Nelder-Mead on a common-random-numbers objective is rugged (a parameter change reshuffles later
    # draws), so the fit may stop on a nearby point: within twice the objective at the truth, and
    # the recovered values above are the main check
    assert result.fitted_objective < 2.0 * truth_objective.mean()
    assert len(result.evaluations) <= cal.config.max_evaluations
    print(f"twin calibration: {seconds:.1f} s, {result.values}")


def test_calibration_outputs(twin):
    cal, result, out, _ = twin
    names = {p.name for p in out.iterdir()}
    assert {"calibrated.toml", "fit.csv", "fit_report.html", "manifest.json", "parameters.csv", "evaluations.csv"} <= names
    assert {"fit_00_births.png", "fit_01_deaths.png", "convergence.png"} <= names
    fitted = load_scenario(out / "calibrated.toml", allow_any_extends=True)  # extends ../scen.toml, outside its folder
    assert fitted.fertility.factor == pytest.approx(result.values["fertility.factor"], rel=1e-5)
    assert fitted.mortality.factor == pytest.approx(result.values["mortality.factor"], rel=1e-5)
    assert fitted.areas == TWIN_AREAS and fitted.horizon == 6  # everything else from the extended scenario
    text = (out / "calibrated.toml").read_text()
    assert 'extends = "../scen.toml"' in text and "cal.toml" in text
    assert "[households]" not in text  # only the fitted values are set
    fit = pd.read_csv(out / "fit.csv")
    assert len(fit) == len(cal.fit_rows) == 2 * 2 * 6  # two series, two areas, six years
    assert np.allclose(fit["relative_error"], (fit["simulated"] - fit["observed"]) / fit["observed"])
    report = (out / "fit_report.html").read_text()
    assert "births" in report and "deaths" in report and "data:image/png;base64" in report
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_seeds"] == cal.seeds() and manifest["values"] == result.values


def test_abc_posterior_concentrates_near_the_truth(tmp_path):
    (tmp_path / "scen.toml").write_text(f'extends = "{ROOT / "scenarios" / "history_2012.toml"}"\nareas = ["Bockenheim"]\nhorizon = 4\n')
    _synthetic(tmp_path, [101, 102])  # not the fit's seeds
    (tmp_path / "cal.toml").write_text(
        'scenario = "scen.toml"\nobserved = "synthetic.csv"\nmethod = "abc"\nreplications = 1\nseed = 5\nmax_evaluations = 24\n'
        '[parameters]\n"fertility.factor" = [0.6, 1.8]\n[[targets]]\nseries = "births"\n[abc]\nparticles = 8\nkeep = 0.5\n'
    )
    cal = calibrate.load_config(tmp_path / "cal.toml")
    result = calibrate.calibrate(cal)
    post = result.posterior.set_index("parameter").loc["fertility.factor"]
    # with one replication the distance is a fixed function of the parameter (common random
    # numbers): the posterior concentrates near the truth, shifted by that seed's noise
    assert post["mean"] == pytest.approx(TRUTH["fertility.factor"], rel=0.05)
    assert post["p5"] < post["mean"] < post["p95"] and post["p95"] - post["p5"] < 0.25 * (1.8 - 0.6)  # far narrower than the prior
    assert result.values["fertility.factor"] == pytest.approx(post["mean"])
    kept = result.particles[result.particles["kept"]]
    assert len(kept) == 4 and kept["weight"].sum() == pytest.approx(1.0)
    assert len(result.evaluations) <= 24 + 2  # the budget, the start and the posterior mean


def test_cli_calibrate_small(tmp_path):
    cfg = _config(tmp_path, "replications = 1\nmax_evaluations = 2\n" + GOOD_PARAMETERS + GOOD_TARGET, '["Bahnhofsviertel"]')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["calibrate", str(cfg), "--out", str(out), "--workers", "1", "--no-figures"])
    assert result.exit_code == 0, result.output
    assert "fertility.factor" in result.output and (out / "calibrated.toml").is_file()
    assert load_scenario(out / "calibrated.toml", allow_any_extends=True).areas == ["Bahnhofsviertel"]
