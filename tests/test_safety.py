"""Safe sharing and the model's own checks.

- ``extends`` reaches only scenario files in the extending file's folder tree or in the project,
  unless --allow-any-extends; nothing outside is even read.
- Scenario and data files are data: a pickle or code in them is refused as bad input and never
  run; the package reads no pickle and evaluates no text.
- Output names cannot lead out of their folder.
- Invariants: the yearly checks run after every year of every run; --check-more adds costlier
  ones; a violation names the year, the area and the numbers.
"""

from __future__ import annotations

import ast
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from simulation import ensemble, scenario
from simulation.cli import app
from simulation.errors import AccountingError, InputError
from simulation.inputs import load_inputs
from simulation.model import CityModel
from simulation.outputs import write_table_pair
from simulation.runner import run_scenario
from simulation.scenario import Scenario, load_scenario
from tests.conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.toml"
SMALL = f'extends = "{BASELINE}"\nareas = "sozialrathaus:Bockenheim"\nhorizon = 2\n'


# ---- extends -----------------------------------------------------------------------------------
@pytest.fixture
def apart(tmp_path) -> tuple[Path, Path]:
    """A scenario in tmp/mine that extends one in tmp/elsewhere (outside its folder and the project)."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "elsewhere" / "base.toml").write_text(SMALL, encoding="utf-8")
    child = tmp_path / "mine" / "child.toml"
    child.write_text('extends = "../elsewhere/base.toml"\nseed = 3\n', encoding="utf-8")
    return child, tmp_path / "elsewhere" / "base.toml"


def test_extends_outside_the_folder_tree_and_the_project_is_refused_unless_allowed(apart, monkeypatch):
    child, outside = apart
    read = []
    real = scenario._read_file
    monkeypatch.setattr(scenario, "_read_file", lambda path: read.append(path) or real(path))
    with pytest.raises(InputError) as err:
        load_scenario(child)
    assert err.value.file == str(child) and err.value.field == "extends"
    assert "is outside the folders a scenario may extend" in str(err.value) and "--allow-any-extends" in str(err.value)
    assert read == [child]  # the file outside was not even opened
    assert load_scenario(child, allow_any_extends=True).seed == 3


@pytest.mark.parametrize("where", ["absolute", "symlink", "chain"])
def test_every_way_out_of_the_folder_is_refused(tmp_path, where):
    outside = tmp_path / "outside.toml"
    outside.write_text(SMALL, encoding="utf-8")
    folder = tmp_path / "shared"
    (folder / "sub").mkdir(parents=True)
    if where == "absolute":
        (folder / "s.toml").write_text(f'extends = "{outside}"\n', encoding="utf-8")
    elif where == "symlink":  # a link in the folder that points out of it
        (folder / "link.toml").symlink_to(outside)
        (folder / "s.toml").write_text('extends = "link.toml"\n', encoding="utf-8")
    else:  # allowed first hop, then out
        (folder / "s.toml").write_text('extends = "sub/middle.toml"\n', encoding="utf-8")
        (folder / "sub" / "middle.toml").write_text('extends = "../../outside.toml"\n', encoding="utf-8")
    with pytest.raises(InputError, match="outside the folders a scenario may extend"):
        load_scenario(folder / "s.toml")
    assert load_scenario(folder / "s.toml", allow_any_extends=True).horizon == 2


def test_the_project_scenarios_and_the_own_folder_tree_stay_allowed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.toml").write_text(SMALL, encoding="utf-8")  # extends the project's baseline by absolute path
    (tmp_path / "top.toml").write_text('extends = "sub/base.toml"\nseed = 9\n', encoding="utf-8")
    assert load_scenario(tmp_path / "top.toml").seed == 9


def test_the_commands_refuse_extends_outside_and_accept_it_with_the_flag(apart):
    child, _ = apart
    refused = CliRunner().invoke(app, ["validate", str(child)])
    assert refused.exit_code == 2
    assert f"{child}: field 'extends'" in refused.stderr and "allowed:" in refused.stderr and "--allow-any-extends" in refused.stderr
    allowed = CliRunner().invoke(app, ["validate", str(child), "--allow-any-extends"])
    assert allowed.exit_code == 0, allowed.output


# ---- data only ---------------------------------------------------------------------------------
class Payload:
    """A pickle that would run a command when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_as_scenario_or_register_extract_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps(Payload(marker), protocol=0)  # protocol 0: text-like, the hardest to tell from a CSV
    as_scenario = tmp_path / "scenario.toml"
    as_scenario.write_bytes(payload)
    as_extract = tmp_path / "extract.toml"
    as_extract.write_text(SMALL + '[population]\nsource = "register_extract"\nregister_extract = "extract.csv"\n', encoding="utf-8")
    (tmp_path / "extract.csv").write_bytes(payload)
    for path in (as_scenario, as_extract):
        result = CliRunner().invoke(app, ["validate", str(path)])
        assert result.exit_code == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert not marker.exists()


FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__"}  # text run as code
FORBIDDEN_METHODS = {"read_pickle", "unsafe_load", "full_load"}  # pandas' and PyYAML's readers of code-carrying formats


def test_the_package_reads_no_pickle_and_evaluates_no_text():
    found = []
    for path in sorted((ROOT / "simulation").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path.name, a.name) for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                found.append((path.name, node.module))
            elif isinstance(node, ast.Call):
                builtin = isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_BUILTINS
                method = isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_METHODS
                pickled = any(k.arg == "allow_pickle" and getattr(k.value, "value", False) for k in node.keywords)
                if builtin or method or pickled or ast.unparse(node.func) == "yaml.load":
                    found.append((path.name, ast.unparse(node.func)))
    assert found == []


# ---- output names ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../escape", "a/b", "/tmp/x", "a\\b", ".."])
def test_output_names_cannot_leave_their_folder(tmp_path, name):
    with pytest.raises(ValidationError):
        Scenario(name=name)  # scenario names become folder and file names
    with pytest.raises(InputError, match="would lead out of the output folder"):
        ensemble.replication_dir(tmp_path, name, 0)
    folder = tmp_path / "out"
    folder.mkdir()
    try:
        write_table_pair(pd.DataFrame({"a": [1]}), folder, name)  # '..' gives '...parquet': a name inside
        assert sorted(p.name for p in folder.iterdir()) == [f"{name}.csv", f"{name}.parquet"]
    except InputError as exc:
        assert "would lead out of the output folder" in str(exc) and list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---- invariants --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> tuple[Scenario, object]:
    sc = Scenario(name="small", areas=["Bockenheim", "Westend-Süd"], horizon=2, seed=5)
    return sc, load_inputs(sc)


def counting(monkeypatch, name: str) -> list[int]:
    """Count the calls of a CityModel method (by the model's year)."""
    calls, real = [], getattr(CityModel, name)

    def counted(self):
        calls.append(self.year)
        return real(self)

    monkeypatch.setattr(CityModel, name, counted)
    return calls


def test_the_yearly_checks_run_after_every_year_of_every_run(small, monkeypatch, tmp_path):
    sc, inputs = small
    checks, more = counting(monkeypatch, "check"), counting(monkeypatch, "more_checks")
    run_scenario(sc, inputs=inputs)
    assert checks == [2023, 2024, 2025] and more == []
    run_scenario(sc, inputs=inputs, check_more=True)
    assert more == [2023, 2024, 2025]
    checks.clear()
    with ensemble.make_executor(workers=1) as executor:  # every replication of an ensemble too
        ensemble.run_replications([(sc, 0)], sc.seed, 2, None, tmp_path, executor)
    assert checks == [2023, 2024, 2025] * 2


def test_a_broken_balance_names_the_year_the_area_and_the_numbers(small, monkeypatch, tmp_path):
    real = CityModel.moves

    def moves_losing_a_person(self):
        real(self)
        if self.year == 2025:  # one person of the second area vanishes without an event
            gone = np.zeros(len(self.population.persons), bool)
            gone[np.flatnonzero(self.population.person_area() == 1)[0]] = True
            self.population.remove_persons(gone)

    monkeypatch.setattr(CityModel, "moves", moves_losing_a_person)
    with pytest.raises(AccountingError) as err:
        run_scenario(small[0], inputs=small[1])
    second = small[1].area_names[1]
    found = re.fullmatch(rf"2025, {second}: population (\d+) but the balancing equation gives (\d+)", str(err.value))
    assert found and int(found[2]) - int(found[1]) == 1
    path = tmp_path / "small.toml"
    path.write_text(f'extends = "{BASELINE}"\nareas = ["Bockenheim", "Westend-Süd"]\nhorizon = 2\nseed = 5\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--no-figures"])
    assert result.exit_code == 3 and f"error: 2025, {second}: population" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "tamper, message",  # {0}, {1}: the first and second area
    [
        ("arrival", r"2025, {0}: arrival after the year: 1 persons, the first person \d+ \(age \d+, arrival 2030"),
        ("served", r"2025, {1}, kita_3_6: eligible \d+, demand \d+, served \d+, unmet \d+, waiting \d+"),
        ("places", r"2025, {0}, kita_u3: \d+ used at its offering, capacity \d+"),
    ],
)
def test_check_more_finds_what_the_yearly_check_does_not(small, monkeypatch, tamper, message):
    sc, inputs = small
    real = CityModel.service_use

    def tampered(self):
        real(self)
        if self.year != 2025:
            return
        p, kita_u3, kita_3_6 = self.population.persons, self.service_names.index("kita_u3"), self.service_names.index("kita_3_6")
        if tamper == "arrival":
            p.arrival[np.flatnonzero(self.population.person_area() == 0)[0]] = 2030
        elif tamper == "served":
            self.served.counts[kita_3_6, 1, 2] += 1
        else:  # every child under 3 given a place in the first area's Kitas
            p.use[(p.age < 3), kita_u3] = 0

    monkeypatch.setattr(CityModel, "service_use", tampered)
    run_scenario(sc, inputs=inputs)  # the yearly check does not see it
    with pytest.raises(AccountingError, match=message.format(*inputs.area_names)):
        run_scenario(sc, inputs=inputs, check_more=True)
