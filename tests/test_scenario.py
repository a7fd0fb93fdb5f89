"""Scenario files: extends, defaults, and one clear error per bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.errors import InputError
from simulation.scenario import load_scenario
from tests.conftest import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_are_valid(path):
    sc = load_scenario(path)
    assert sc.name == path.stem


def test_extends_overrides_single_values_and_keeps_the_rest(tmp_path):
    base = load_scenario(ROOT / "scenarios" / "baseline.toml")
    child = tmp_path / "more_migration.toml"
    child.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\n[in_migration]\npersons_per_year = 67680\n')
    sc = load_scenario(child)
    assert sc.in_migration.persons_per_year == 67680
    assert sc.in_migration.migration_background_weights == base.in_migration.migration_background_weights
    assert sc.horizon == base.horizon and sc.seed == base.seed
    assert sc.name == "more_migration"  # a name is never inherited
    assert sc.description == ""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\n' + text)
    return path


@pytest.mark.parametrize(
    "text, field, words",
    [
        ("horizon = 0\n", "horizon", "out of range"),
        ('horizon = "long"\n', "horizon", "whole number"),
        ("colour = 1\n", "colour", "unknown key"),
        ("[mortality]\nfactor = -1\n", "mortality.factor", "out of range"),
        ('[mortality]\nlife_table = "1900"\n', "mortality.life_table", "2016/18"),
        ("[households]\nseparation_rate = 1.5\n", "households.separation_rate", "out of range"),
        ("[in_migration]\npersons_per_year = -5\n", "in_migration.persons_per_year", "out of range"),
        (
            "[[in_migration.changes]]\nfrom_year = 2090\npersons_per_year = 1000\n",
            "in_migration.changes[1].from_year",
            "outside the projection years",
        ),
        ("[in_migration]\nmigration_background_weights = { martian = 1.0 }\n", "in_migration.migration_background_weights.martian", "none"),
        ('[population]\nsource = "guess"\n', "population.source", "anchored"),
    ],
)
def test_bad_values_name_file_field_and_what_is_allowed(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert err.value.file == str(path.resolve())
    assert err.value.field == field
    assert words in str(err.value)


def test_missing_scenario_and_missing_base_are_clear(tmp_path):
    with pytest.raises(InputError, match="scenario file not found"):
        load_scenario(tmp_path / "none.toml")
    path = tmp_path / "child.toml"
    path.write_text('extends = "nowhere.toml"\n')
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert "nowhere.toml" in str(err.value)


def test_invalid_toml_and_cycles(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("horizon = = 3\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_scenario(path)
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('extends = "b.toml"\n')
    b.write_text('extends = "a.toml"\n')
    with pytest.raises(InputError, match="cycle"):
        load_scenario(a)


def test_in_migration_changes_apply_from_their_year(tmp_path):
    path = write(tmp_path, "[[in_migration.changes]]\nfrom_year = 2030\npersons_per_year = 70000\n")
    sc = load_scenario(path)
    assert sc.in_migration_in(2029).persons_per_year is None  # the baseline derives arrivals from the age balances
    assert sc.in_migration_in(2030).persons_per_year == 70000
    assert sc.in_migration_in(2048).persons_per_year == 70000
    assert sc.in_migration_in(2048).abroad_net_per_1000 == sc.in_migration.abroad_net_per_1000


def test_files_with_the_old_key_origin_weights_still_load(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(
        "[in_migration]\norigin_weights = { foreign = 2.0 }\n[[in_migration.changes]]\nfrom_year = 2027\norigin_weights = { none = 0.5 }\n"
    )
    sc = load_scenario(path)
    assert sc.in_migration.migration_background_weights == {"none": 1.0, "german_mb": 1.0, "foreign": 2.0}
    assert sc.in_migration_in(2027).migration_background_weights == {"none": 0.5, "german_mb": 1.0, "foreign": 2.0}
