"""Edge cases of inputs: partial extracts, overrides, projects, malformed scenarios, output folders."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simulation.errors import InputError
from simulation.inputs import load_inputs
from simulation.processes import housing
from simulation.scenario import Scenario, load_scenario
from tests.conftest import ROOT
from tests.helpers import build_model, scenario_error

BASE = f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\n'


def write(tmp_path, text: str, name: str = "s.toml"):
    path = tmp_path / name
    path.write_text(BASE + text)
    return path


def extract(tmp_path, rows) -> str:
    path = tmp_path / "extract.csv"
    pd.DataFrame(rows, columns=["area", "age", "sex", "migration_background", "persons"]).to_csv(path, index=False)
    return str(path)


def test_partial_register_extract_uses_the_city_total_for_shares(tmp_path):
    rows = [("Altstadt", a, s, "none", 20) for a in range(0, 90) for s in ("female", "male")]
    sc = Scenario(
        base_year=2023,
        horizon=1,
        areas=["Altstadt"],
        population={"source": "register_extract", "register_extract": extract(tmp_path, rows)},
    )
    inputs = load_inputs(sc)
    assert inputs.city_base_persons == 770_166  # register total, not the extract's 3,600
    assert inputs.area_share_of_city == pytest.approx(3600 / 770_166)


def test_register_extract_row_order_does_not_matter(tmp_path):
    rows = [("Altstadt", a, s, o, 3) for a in range(0, 80) for s in ("female", "male") for o in ("none", "foreign")]
    a = Scenario(horizon=1, areas=["Altstadt"], population={"source": "register_extract", "register_extract": extract(tmp_path, rows)})
    first = build_model(a).population.persons.age.copy()
    (tmp_path / "b").mkdir()
    b = a.model_copy(update={"population": a.population.model_copy(update={"register_extract": extract(tmp_path / "b", rows[::-1])})})
    assert np.array_equal(first, build_model(b).population.persons.age)


def test_fractional_extract_age_is_rejected(tmp_path):
    sc = Scenario(
        horizon=1,
        areas=["Altstadt"],
        population={"source": "register_extract", "register_extract": extract(tmp_path, [("Altstadt", 30.5, "female", "none", 3)])},
    )
    with pytest.raises(InputError) as err:
        build_model(sc)
    assert err.value.field == "age"


def test_household_take_up_change_uses_members_ages():
    base = Scenario(areas=["Bockenheim"], horizon=1, seed=2)
    more = Scenario.model_validate(
        {**base.model_dump(), "take_up": [{"service": "family_centre", "from_year": 2024, "factor": 3.0, "max_age": 5}]}
    )
    demand = [build_model(s) for s in (base, more)]
    for m in demand:
        m.step()
    d0, d1 = (m.recorder.services[2024][m.service_names.index("family_centre"), :, 1].sum() for m in demand)
    assert d1 > 2 * d0


def test_base_coverage_override_replaces_a_real_city_total():
    a = build_model(Scenario(areas=["Bockenheim"], horizon=1))
    b = build_model(Scenario(areas=["Bockenheim"], horizon=1, services={"kita_u3": {"base_coverage": 0.1}}))
    i = a.service_names.index("kita_u3")
    assert b.capacity[i].sum() < 0.2 * a.capacity[i].sum()


def test_projects_add_whole_dwellings_and_their_own_rent_effects():
    sc = Scenario(
        areas=["Gallus"],
        housing=[
            {"area": "Gallus", "year": 2030, "dwellings": 100, "years": 3},
            {"area": "Gallus", "year": 2030, "dwellings": 10, "years": 1, "rent_effect": 5.0},
        ],
    )
    building = {y: sc.housing_projects_in(y) for y in range(2029, 2034)}
    assert sum(n for y in building for _, n in building[y]) == 110
    assert [n for _, n in building[2030]] == [34, 10] and [n for _, n in building[2032]] == [33]
    added, effect = housing.project_dwellings(building[2030], ["Gallus"], 0.5)
    assert added[0] == 44 and effect[0] == pytest.approx(34 * 0.5 + 10 * 5.0)


@pytest.mark.parametrize(
    "text, field",
    [
        (
            "[in_migration]\nmigration_background_weights = { none = 0.0, german_mb = 0.0, foreign = 0.0 }\n",
            "in_migration.migration_background_weights",
        ),
        ("population = 5\n", "population"),
        ("data_dir = 5\n", "data_dir"),
        ('name = "../up"\n', "name"),
        ("[fertility]\nasfr_year = 1800\n", "fertility.asfr_year"),
        ('[population]\nsource = "profile_2012"\n', "base_year"),
        # the data hold 2018-2021: years outside them, or in the wrong order
        ("[in_migration]\nnet_internal_years = [2017, 2019]\n", "in_migration.net_internal_years"),
        ("[in_migration]\nnet_internal_years = [2021, 2018]\n", "in_migration.net_internal_years"),
    ],
)
def test_malformed_scenarios_give_input_errors(tmp_path, text, field):
    assert scenario_error(tmp_path, text).field == field


def test_partial_origin_dicts_are_completed(tmp_path):
    sc = load_scenario(
        write(tmp_path, "[volunteering]\nrelative_propensity = { none = 2.0 }\n[income]\nrelative_risk = { foreign = 2.5 }\n")
    )
    assert sc.volunteering.relative_propensity == {"none": 2.0, "german_mb": 1.0, "foreign": 1.0}
    assert sc.income.relative_risk == {"none": 1.0, "german_mb": 2.0, "foreign": 2.5}


def cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "simulation", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )


def test_validate_checks_references_and_base_population(tmp_path):
    bad = write(tmp_path, '[[offerings]]\nservice = "spa"\narea = "Bockenheim"\nyear = 2027\naction = "open"\ncapacity = 5\n')
    proc = cli("validate", bad)
    assert proc.returncode == 2 and "offerings[1].service" in proc.stderr
    bad = write(tmp_path, '[population]\nsource = "register_extract"\nregister_extract = "missing.csv"\n', "e.toml")
    proc = cli("validate", bad)
    assert proc.returncode == 2 and "missing.csv" in proc.stderr


def test_run_refuses_to_replace_an_unrelated_folder(tmp_path):
    folder = tmp_path / "important"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    small = write(tmp_path, 'areas = ["Altstadt"]\nhorizon = 1\n')
    proc = cli("run", small, "--out", folder, "--no-figures")
    assert proc.returncode == 2 and "not an output folder" in proc.stderr
    assert (folder / "notes.txt").read_text() == "keep me"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = cli("run", small, "--out", blocker / "sub", "--no-figures")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
