"""End to end: the console command on a small area set, outputs and errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulation.tables import TABLES
from tests.conftest import ROOT


def sozialraum(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "simulation", *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sc") / "two_areas.toml"
    path.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nareas = ["Altstadt", "Bahnhofsviertel"]\nhorizon = 3\n')
    return path


@pytest.fixture(scope="module")
def run_dir(small_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "out"
    proc = sozialraum("run", small_file, "--out", out, "--seed", 3, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "Altstadt" not in proc.stderr
    assert "Ost" in proc.stdout and "Gallus" in proc.stdout  # summary table by Sozialrathaus
    return out


def test_run_writes_every_table_with_its_columns(run_dir):
    # the published contract, written out independently of simulation/tables.py
    contract = {
        "population": ["year", "area", "sozialrathaus", "age", "sex", "migration_background", "persons"],
        "events": ["year", "area", "births", "deaths", "immigrants", "emigrants", "moves_in", "moves_out"],
        "households": ["year", "area", "household_type", "households", "persons"],
        "housing": ["year", "area", "dwellings", "households", "vacant", "rent_index", "displaced_households"],
        "services": [
            "year",
            "area",
            "sozialrathaus",
            "service",
            "eligible",
            "demand",
            "capacity",
            "served",
            "unmet",
            "waiting",
            "coverage",
        ],
        "services_unmet": ["year", "area", "sozialrathaus", "service", "dimension", "group", "unmet"],
        "cohesion": ["year", "level", "area", "sozialrathaus", "indicator", "value"],
        "areas": ["year", "area", "sozialrathaus", "residents", "small_area"],
        "migration": ["year", "age_group", "immigrants", "emigrants", "net"],
        "city_events": ["year", "widowed", "left_home", "couples_formed", "separations", "flat_mates", "unhoused_immigrants"],
    }
    assert [t.name for t in TABLES] == list(contract)
    for name, columns in contract.items():
        frame = pd.read_parquet(run_dir / f"{name}.parquet")
        assert list(frame.columns) == columns, name
        assert sorted(frame["year"].unique().tolist())[0] in (2023, 2024)
    pop = pd.read_parquet(run_dir / "population.parquet")
    assert sorted(pop["year"].unique()) == [2023, 2024, 2025, 2026]
    assert set(pop["sex"]) == {"female", "male"}
    assert set(pop["migration_background"]) == {"none", "german_mb", "foreign"}
    assert set(pop["area"]) == {"Altstadt", "Bahnhofsviertel"}
    assert pop["age"].between(0, 100).all()
    assert pop.loc[pop["year"] == 2023].groupby("area")["persons"].sum()["Bahnhofsviertel"] == 3679
    services = pd.read_parquet(run_dir / "services.parquet")
    assert set(services["service"]) >= {"kita_u3", "senior_outreach", "basic_income_support"}
    assert ((services["served"] + services["unmet"]) == services["demand"]).all()
    for png in ("population_by_sozialrathaus.png", "age_pyramid.png", "service_demand_capacity.png", "service_coverage_grid.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_writes_a_self_contained_report(run_dir):
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 4
    for section in ("compared", "results", "affected", "areas", "assumptions"):
        assert f'<section id="{section}">' in page
    assert '<html lang="de">' in page and "Bahnhofsviertel" in page
    assert "kleiner Stadtteil" in page  # Bahnhofsviertel (3,679 residents) is flagged


def test_manifest_records_scenario_seed_versions_and_data(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 3
    assert manifest["scenario"]["areas"] == ["Altstadt", "Bahnhofsviertel"]
    assert manifest["scenario"]["name"] == "two_areas"
    assert {"mesa", "numpy", "pandas", "python"} <= set(manifest["versions"])
    hashes = manifest["input_data_sha256"]
    # exactly the files the run read, each with the hash of its content
    read = {
        "frankfurt_stadtteil_bevoelkerungsstruktur_2011_2012.csv",
        "service_catalogue.csv",
        "service_capacity_by_area.csv",
        "frankfurt_stadtteile_boundaries_codeforfrankfurt.geojson",
        "germany_life_table_destatis_12621-0001.csv",
    }
    assert read <= set(hashes)
    assert "frankfurt_childcare_indicators.csv" not in hashes  # in the data folder, but no run reads it
    for name, digest in hashes.items():
        assert hashlib.sha256((ROOT / "calibration" / "data" / name).read_bytes()).hexdigest() == digest
    assert manifest["population_method"]["source"] == "anchored"
    assert manifest["run_time"]["years"] == 3
    assert any("life table" in a for a in manifest["assumptions"])


def test_csv_format_writes_the_same_tables(small_file, run_dir, tmp_path):
    out = tmp_path / "csv"
    proc = sozialraum("run", small_file, "--out", out, "--seed", 3, "--format", "csv", "--no-figures", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    a = pd.read_csv(out / "events.csv")
    b = pd.read_parquet(run_dir / "events.parquet")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert not list(out.glob("*.png"))


def test_validate_accepts_good_and_rejects_bad(small_file, tmp_path):
    ok = sozialraum("validate", small_file, cwd=ROOT)
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nareas = ["Altstadt", "Atlantis"]\n')
    proc = sozialraum("validate", bad, cwd=ROOT)
    assert proc.returncode == 2
    assert "bad.toml" in proc.stderr and "areas" in proc.stderr and "Atlantis" in proc.stderr


@pytest.mark.parametrize("text", ["horizon = -1\n", 'areas = "sozialrathaus:Mitte"\n', "[fertility]\nfactor = 99\n"])
def test_bad_scenario_exits_2_and_writes_nothing(tmp_path, text):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\n' + text)
    out = tmp_path / "out"
    proc = sozialraum("run", bad, "--out", out, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "bad.toml" in proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_missing_data_file_exits_2_and_names_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    bad = tmp_path / "nodata.toml"
    bad.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\ndata_dir = "{data}"\n')
    proc = sozialraum("run", bad, "--out", tmp_path / "out", cwd=ROOT)
    assert proc.returncode == 2
    assert "not found" in proc.stderr and ".csv" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_help_and_areas_listing():
    proc = sozialraum("--help", cwd=ROOT)
    assert proc.returncode == 0 and "run" in proc.stdout and "validate" in proc.stdout
    proc = sozialraum("areas", cwd=ROOT)
    assert proc.returncode == 0 and "Praunheim" in proc.stdout and "Nordend-West" in proc.stdout
