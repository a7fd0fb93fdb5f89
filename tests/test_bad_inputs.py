"""The bad-input corpus (tests/bad_inputs/, see its README.md): `validate` and `run` refuse every
case with exit code 2 and a message of a few lines that names the scenario file, the field (or
column and row) and what the case's expected.txt says; no traceback, no output left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulation.cli import app
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "bad_inputs"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())
CATEGORIES = ("toml", "encoding", "binary", "key", "type", "range", "value", "ref", "extends", "extract")


def entry(case: Path) -> Path:
    """The scenario file of a case: scenario.toml, else the case's only .toml file."""
    if (case / "scenario.toml").is_file():
        return case / "scenario.toml"
    (only,) = case.glob("*.toml")
    return only


def fragments(case: Path) -> list[str]:
    return [line for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines() if line.strip()]


def files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_refused(code: int, stderr: str, case: Path) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr
    assert 1 <= len(lines) <= 5, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    assert f"{case.name}/{entry(case).name}" in stderr  # the scenario file, by the path the user gave
    for fragment in fragments(case):
        assert fragment in stderr, f"{fragment!r} not in {stderr!r}"


def test_the_corpus_covers_every_kind_of_bad_input():
    assert len(CASES) >= 60
    by_category = {c: [p for p in CASES if p.name.split("_")[0] == c] for c in CATEGORIES}
    assert all(len(cases) >= 3 for cases in by_category.values()), {c: len(v) for c, v in by_category.items()}
    assert sum(map(len, by_category.values())) == len(CASES)  # every case in one documented category
    for case in CASES:
        assert fragments(case), case.name
        assert entry(case).is_file()
    extract_columns = {f.split("'")[1] for case in by_category["extract"] for f in fragments(case) if f.startswith("column '")}
    assert extract_columns >= {"area", "age", "sex", "migration_background", "persons"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_refuses_the_case(case):
    before = files_of(case)
    result = CliRunner().invoke(app, ["validate", str(entry(case))])
    assert_refused(result.exit_code, result.stderr, case)
    assert result.stdout == ""
    assert files_of(case) == before


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_run_refuses_the_case_and_leaves_nothing(case, tmp_path):
    before = files_of(case)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(entry(case)), "--out", str(out), "--no-figures"])
    assert_refused(result.exit_code, result.stderr, case)
    assert list(tmp_path.iterdir()) == []  # no output folder, no temporary folder beside it
    assert files_of(case) == before


SUBPROCESS_CASES = ["binary_junk", "toml_nested_arrays_deep", "extends_base_bad_value", "extract_negative_count"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_the_installed_command_refuses_the_case(name, tmp_path):
    """The same through a real process (console encoding, exit code, nothing written in the working folder)."""
    case = CORPUS / name
    proc = subprocess.run(
        [sys.executable, "-m", "simulation", "run", str(entry(case)), "--no-figures"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert_refused(proc.returncode, proc.stderr, case)
    assert list(tmp_path.iterdir()) == []  # not even output/<name>


def test_an_unexpected_error_while_reading_is_a_message_and_debug_shows_the_traceback(monkeypatch, tmp_path):
    import simulation.inputs

    def broken(scenario, where=None):
        raise RuntimeError("table exploded\nsecond line")

    monkeypatch.setattr(simulation.inputs, "load_inputs", broken)
    scenario = str(CORPUS / "_base.toml")
    runs = (
        ["validate", scenario],
        ["run", scenario, "--out", str(tmp_path / "out")],
        ["compare", scenario, scenario, "--out", str(tmp_path / "c")],
    )
    for command in runs:
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2
        assert "Traceback" not in result.stderr and "second line" not in result.stderr
        assert "_base.toml" in result.stderr and "unexpected RuntimeError (table exploded)" in result.stderr
        assert "--debug" in result.stderr
        shown = CliRunner().invoke(app, [*command, "--debug"])
        assert shown.exit_code == 2
        assert "Traceback" in shown.stderr and "broken" in shown.stderr  # where it failed
        assert "unexpected RuntimeError (table exploded)" in shown.stderr
    assert list(tmp_path.iterdir()) == []


def test_debug_shows_where_an_input_error_was_raised():
    case = CORPUS / "extract_negative_count"
    result = CliRunner().invoke(app, ["validate", str(entry(case)), "--debug"])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "register_extract" in result.stderr
    assert "negative count -3" in result.stderr.splitlines()[-1]
