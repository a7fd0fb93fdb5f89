"""`sozialraum rerun OUTPUT/manifest.json`: a run and an ensemble repeated bit for bit from their
manifests, differing tables named, and a rerun refused when an input file changed since."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from simulation.cli import app
from simulation.data import DEFAULT_DATA_DIR
from tests.conftest import ROOT

BASE = f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nareas = "sozialrathaus:Bockenheim"\nhorizon = 2\n'
KITA = 'extends = "base.toml"\nname = "kita"\n[[offerings]]\nservice = "kita_u3"\narea = "Bockenheim"\nyear = 2025\naction = "open"\ncapacity = 19\n'


def sozialraum(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def base(tmp_path) -> Path:
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    (tmp_path / "kita.toml").write_text(KITA, encoding="utf-8")
    return tmp_path / "base.toml"


def test_a_run_is_repeated_bit_for_bit_with_its_options_and_a_differing_table_is_named(base, tmp_path):
    out = tmp_path / "run"
    first = sozialraum("run", base, "--out", out, "--format", "csv", "--seed", 4, "--no-figures", "--lang", "en")
    assert first.exit_code == 0, first.output
    call = json.loads((out / "manifest.json").read_text())["invocation"]
    assert call["command"] == "run" and call["format"] == "csv" and call["lang"] == "en" and call["figures"] is False
    assert set(call["scenario_files"]) == {str(base), str(ROOT / "scenarios" / "baseline.toml")}  # the file and what it extends
    assert all(len(digest) == 64 for digest in call["scenario_files"].values())
    assert call["inputs"]["base"] == json.loads((out / "manifest.json").read_text())["input_data_sha256"]

    base.write_text(BASE + "# edited after the run\n", encoding="utf-8")  # the manifest holds the scenario as it was
    again = sozialraum("rerun", out / "manifest.json")
    assert again.exit_code == 0, again.output
    assert "identical" in again.stdout and "all 11 tables" in again.stdout
    assert f"note: {base} has changed since the run" in again.stderr
    rerun = tmp_path / "run-rerun"
    assert sorted(p.name for p in rerun.glob("*.csv")) == sorted(p.name for p in out.glob("*.csv"))
    assert all((rerun / p.name).read_bytes() == p.read_bytes() for p in out.glob("*.csv"))
    assert json.loads((rerun / "manifest.json").read_text())["seed"] == 4

    population = pd.read_csv(out / "population.csv")
    population.loc[0, "persons"] += 1
    population.to_csv(out / "population.csv", index=False)
    differs = sozialraum("rerun", out / "manifest.json", "--out", tmp_path / "second")
    assert differs.exit_code == 1
    assert "1 of 11 tables differ" in differs.stderr and "population.csv" in differs.stderr and "events.csv" not in differs.stderr


def test_an_ensemble_comparison_is_repeated_bit_for_bit(base, tmp_path):
    out = tmp_path / "cmp"
    first = sozialraum("compare", base, base.with_name("kita.toml"), "--replications", 2, "--workers", 1, "--out", out, "--no-figures")
    assert first.exit_code == 0, first.output
    call = json.loads((out / "manifest.json").read_text())["invocation"]
    assert call["command"] == "compare" and call["replications"] == 2 and set(call["inputs"]) == {"base", "kita"}
    again = sozialraum("rerun", out / "manifest.json", "--out", tmp_path / "again", "--workers", 1)
    assert again.exit_code == 0, again.output
    assert "all 10 tables" in again.stdout  # 2 x 2 replications' metrics, 2 summaries and the comparison, each as Parquet and CSV
    for name in ("comparison.parquet", "summary_kita.csv", "replications/kita/rep_0001/metrics.parquet"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()


def test_a_changed_or_missing_input_file_refuses_the_rerun(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    scenario = tmp_path / "own.toml"
    scenario.write_text(BASE + 'data_dir = "data"\n', encoding="utf-8")
    out = tmp_path / "run"
    assert sozialraum("run", scenario, "--out", out, "--no-figures").exit_code == 0
    read = json.loads((out / "manifest.json").read_text())["input_data_sha256"]
    assert "frankfurt_rents.csv" in read

    with (data / "frankfurt_rents.csv").open("a", encoding="utf-8") as f:
        f.write("\n")
    refused = sozialraum("rerun", out / "manifest.json")
    assert refused.exit_code == 2 and "Traceback" not in refused.stderr
    assert f"{data / 'frankfurt_rents.csv'}: changed since the run" in refused.stderr and "SHA-256" in refused.stderr
    assert not (tmp_path / "run-rerun").exists()

    shutil.copy(DEFAULT_DATA_DIR / "frankfurt_rents.csv", data / "frankfurt_rents.csv")
    (data / "frankfurt_households_2022.csv").unlink()
    missing = sozialraum("rerun", out / "manifest.json")
    assert missing.exit_code == 2 and "frankfurt_households_2022.csv: read by the run" in missing.stderr and "missing now" in missing.stderr


def test_what_is_not_a_manifest_of_a_run_is_refused_with_one_message(base, tmp_path):
    out = tmp_path / "run"
    assert sozialraum("run", base, "--out", out, "--no-figures").exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    cases = {
        "garbage.json": ("{not json", "not JSON"),
        "old.json": (json.dumps({k: v for k, v in manifest.items() if k != "invocation"}), "field 'invocation': missing"),
        "escape.json": (json.dumps({**manifest, "scenario": {**manifest["scenario"], "name": "../../elsewhere"}}), "field 'scenario'"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        result = sozialraum("rerun", tmp_path / name)
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr, (name, result.stderr)
    into_itself = sozialraum("rerun", out / "manifest.json", "--out", out)
    assert into_itself.exit_code == 2 and "is the folder of the original run" in into_itself.stderr
