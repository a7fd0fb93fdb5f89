"""City factors of fertility and mortality: the fits written into the baseline scenario are the
fits of the data (life expectancy 81.9 in 2020, TFR 1.42 in 2018), checked against Destatis' own
figures where they exist."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation import data, rates
from simulation.rates import RateTable
from simulation.scenario import load_scenario
from tests.conftest import ROOT

DATA = ROOT / "calibration" / "data"


def frankfurt(indicator_start: str) -> pd.Series:
    frame = pd.read_csv(DATA / "frankfurt_births_deaths_fertility.csv")
    return frame[(frame["area"] == "Frankfurt am Main") | frame["area"].str.startswith("Frankfurt am Main,")].loc[
        lambda f: f["indicator"].str.startswith(indicator_start)
    ]


def test_life_expectancy_of_the_unscaled_table_is_destatis_own_e0():
    life = data.life_tables(DATA)
    for period in life["period"].unique():
        t = life[(life["period"] == period) & (life["age"] == 0)].set_index("sex")
        e0 = (t.loc["female", "Tx"] / t.loc["female", "lx"] + t.loc["male", "Tx"] / t.loc["male", "lx"]) / 2
        assert rates.life_expectancy(life, period, 1.0, 0.5) == pytest.approx(e0, abs=0.1)


def test_lower_mortality_raises_life_expectancy():
    life = data.life_tables(DATA)
    assert (
        rates.life_expectancy(life, "2020/22", 0.8)
        > rates.life_expectancy(life, "2020/22", 1.0)
        > rates.life_expectancy(life, "2020/22", 1.2)
    )


def test_baseline_mortality_factor_is_the_fit_to_frankfurts_life_expectancy_2020():
    life = data.life_tables(DATA)
    e0 = float(frankfurt("life expectancy at birth")["value"].iloc[0])
    assert e0 == 81.9
    male_share = rates.male_birth_share(data.births_by_sex(DATA), 2020)
    period = rates.nearest_life_table_period(life, 2020)
    fitted = rates.mortality_factor_for(life, period, e0, male_share)
    assert rates.life_expectancy(life, period, fitted, male_share) == pytest.approx(e0, abs=1e-4)
    assert load_scenario(ROOT / "scenarios" / "baseline.toml").mortality.factor == pytest.approx(fitted, abs=0.001)


def test_baseline_fertility_factor_is_frankfurts_tfr_over_germanys_2018():
    tfr_frankfurt = float(frankfurt("total fertility rate")["value"].iloc[0])
    german = pd.read_csv(DATA / "germany_tfr_destatis_12612-0009.csv").set_index("year")
    asfr = data.asfr_table(DATA)
    # two Destatis tables agree on Germany's 2018 level: the ASFR sum and the published TFR
    assert rates.total_fertility(asfr, 2018) == pytest.approx(german.loc[2018, "tfr_age_15_49"], abs=0.01)
    factor = load_scenario(ROOT / "scenarios" / "baseline.toml").fertility.factor
    assert factor == pytest.approx(tfr_frankfurt / rates.total_fertility(asfr, 2018), abs=0.001)


def test_mortality_improvement_applies_only_after_the_latest_table():
    life = data.life_tables(DATA)
    table = rates.death_probabilities(life, "2022/24")
    assert rates.improved(table, life, 2024, 0.01) is table
    later = rates.improved(table, life, 2034, 0.01)
    np.testing.assert_allclose(later.values, table.values * 0.99**10)


def test_survivors_by_hand():
    death = RateTable(np.array([[0.1, 0.2, 0.5], [0.0, 0.5, 1.0]]), ("sex", "age"), "probability")
    np.testing.assert_allclose(rates.survivors(death), [[1.0, 0.9, 0.72], [1.0, 1.0, 0.5]])
    # a factor scales every probability (capped at 1)
    assert rates.survivors(death, 2.0)[1].tolist() == pytest.approx([1.0, 1.0, 0.0])
