"""Sensitivity analysis: Sobol indices of the Ishigami function against their analytic values,
dummy parameters, replication noise under common random numbers, config checks, and a tiny
Morris run of the model through the command line."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import sensitivity as sa
from simulation.errors import InputError
from tests.conftest import ROOT

A, B = 7.0, 0.1
PI = math.pi


def ishigami(x: np.ndarray) -> np.ndarray:
    """f = sin x1 + a sin^2 x2 + b x3^4 sin x1 on [-pi, pi]^3 (Ishigami and Homma 1990)."""
    return np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices() -> tuple[dict[str, float], dict[str, float], float]:
    """Analytic partial variances (Sobol' and Levitan 1999): V1 = (1 + b pi^4 / 5)^2 / 2,
    V2 = a^2 / 8, V3 = 0, V13 = b^2 pi^8 (1/18 - 1/50); V = V1 + V2 + V13."""
    v1 = 0.5 * (1 + B * PI**4 / 5) ** 2
    v2 = A**2 / 8
    v13 = B**2 * PI**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    assert math.isclose(v, A**2 / 8 + B * PI**4 / 5 + B**2 * PI**8 / 18 + 0.5)  # the closed form of Var f
    first = {"x1": v1 / v, "x2": v2 / v, "x3": 0.0, "dummy": 0.0}
    total = {"x1": (v1 + v13) / v, "x2": v2 / v, "x3": v13 / v, "dummy": 0.0}
    return first, total, v


PROBLEM = sa.make_problem({"x1": (-PI, PI), "x2": (-PI, PI), "x3": (-PI, PI), "dummy": (0.0, 1.0)})


def deterministic(points: np.ndarray) -> np.ndarray:
    return ishigami(points)[:, None, None]


def by_index(result: sa.SensitivityResult, index: str) -> pd.DataFrame:
    return result.indices[result.indices["index"] == index].set_index("parameter")


@pytest.fixture(scope="module")
def sobol_result() -> sa.SensitivityResult:
    return sa.analyse(PROBLEM, deterministic, "sobol", n=2048, seed=5)


def test_sobol_matches_analytic_ishigami_indices(sobol_result):
    first, total, _ = ishigami_indices()
    assert first["x1"] == pytest.approx(0.314, abs=1e-3) and total["x3"] == pytest.approx(0.244, abs=1e-3)
    for index, truth in (("S1", first), ("ST", total)):
        rows = by_index(sobol_result, index)
        for name, expected in truth.items():
            value, low, high = rows.loc[name, ["value", "conf_low", "conf_high"]]
            half = (high - low) / 2
            assert abs(value - expected) <= 1.5 * half + 0.01, (index, name, value, expected, half)


def test_dummy_parameter_has_no_effect(sobol_result):
    assert abs(by_index(sobol_result, "S1").loc["dummy", "value"]) < 0.01
    assert abs(by_index(sobol_result, "ST").loc["dummy", "value"]) < 0.01
    morris = sa.analyse(PROBLEM, deterministic, "morris", n=30, seed=5)
    mu_star = by_index(morris, "mu_star")["value"]
    assert mu_star["dummy"] == pytest.approx(0.0, abs=1e-12)
    assert (mu_star[["x1", "x2", "x3"]] > 1.0).all()


def test_design_size_and_determinism():
    for method, n in (("sobol", 16), ("morris", 5)):
        points = sa.sample(PROBLEM, method, n, seed=1)
        assert points.shape == (sa.design_size(method, n, 4), 4)
        assert ((points >= [-PI, -PI, -PI, 0]) & (points <= [PI, PI, PI, 1])).all()
        np.testing.assert_array_equal(points, sa.sample(PROBLEM, method, n, seed=1))
        assert not np.array_equal(points, sa.sample(PROBLEM, method, n, seed=2))
    a = sa.analyse(PROBLEM, deterministic, "sobol", n=64, seed=9).indices
    pd.testing.assert_frame_equal(a, sa.analyse(PROBLEM, deterministic, "sobol", n=64, seed=9).indices)


def noisy(replications: int, sd: float, shared_sd: float = 0.0):
    """Ishigami plus noise: ``sd`` differs by point and replication; ``shared_sd`` is replication
    j's common shift at every point (what common random numbers cancel)."""
    seeds = sa.model_seeds(0, replications)

    def evaluate(points: np.ndarray) -> np.ndarray:
        out = np.empty((len(points), replications, 1))
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            shift = shared_sd * rng.standard_normal()
            out[:, j, 0] = ishigami(points) + shift + sd * rng.standard_normal(len(points))
        return out

    return evaluate


def test_replication_noise_share_is_estimated():
    _, _, var = ishigami_indices()
    sd, reps = 3.0, 4
    result = sa.analyse(PROBLEM, noisy(reps, sd, shared_sd=5.0), "sobol", n=512, replications=reps, seed=2)
    diag = result.diagnostics.iloc[0]
    expected = (sd**2 / reps) / (var + sd**2 / reps)  # noise variance of a point mean over the variance analysed
    assert diag["noise_share"] == pytest.approx(expected, rel=0.2)
    assert diag["noise_sd"] == pytest.approx(sd, rel=0.1)
    assert diag["replications_for_5pct"] == pytest.approx(19 * sd**2 / var, rel=0.25)
    assert "more replications are advised" in sa.summary_markdown(result).lower()


def test_noise_shared_by_all_points_cancels_under_common_random_numbers():
    plain = sa.analyse(PROBLEM, deterministic, "sobol", n=64, seed=4)
    shared = sa.analyse(PROBLEM, noisy(3, 0.0, shared_sd=5.0), "sobol", n=64, replications=3, seed=4)
    np.testing.assert_allclose(shared.indices["value"], plain.indices["value"], atol=1e-9)
    assert shared.diagnostics.iloc[0]["noise_share"] == pytest.approx(0.0, abs=1e-9)


def test_more_replications_remove_noise_from_the_indices():
    """Independent noise inflates every total index (the dummy's too); averaging replications shrinks it."""
    st = {
        reps: by_index(sa.analyse(PROBLEM, noisy(reps, 4.0), "sobol", n=256, replications=reps, seed=3), "ST").loc["dummy", "value"]
        for reps in (1, 16)
    }
    assert st[1] > 0.2
    assert abs(st[16]) < st[1] / 4


def test_constant_output_and_bad_shapes():
    result = sa.analyse(PROBLEM, lambda p: np.ones((len(p), 2, 1)), "sobol", n=8, replications=2, seed=0)
    assert result.indices["value"].isna().all()
    assert result.diagnostics.iloc[0]["status"] == "constant over the design"
    morris = sa.analyse(PROBLEM, lambda p: np.ones((len(p), 1, 1)), "morris", n=4, seed=0)
    assert (by_index(morris, "mu_star")["value"] == 0).all()
    gaps = sa.analyse(PROBLEM, lambda p: np.where(p[:, :1, None] > 0, np.nan, 1.0), "morris", n=4, seed=0)
    assert gaps.indices["value"].isna().all() and "gave no value" in gaps.diagnostics.iloc[0]["status"]
    with pytest.raises(ValueError, match="shape"):
        sa.analyse(PROBLEM, lambda p: np.ones((len(p), 1, 1)), "sobol", n=8, replications=2, seed=0)
    with pytest.raises(ValueError, match="power of 2"):
        sa.analyse(PROBLEM, deterministic, "sobol", n=12, seed=0)


def test_morris_effect_is_the_change_over_the_whole_range():
    """SALib divides a step's change by the step as a fraction of the range: y = 3 a on [0, 10] gives 30."""
    problem = sa.make_problem({"a": (0.0, 10.0), "b": (0.0, 1.0)})
    result = sa.analyse(problem, lambda p: 3 * p[:, :1, None], "morris", n=4, seed=1)
    mu_star = by_index(result, "mu_star")["value"]
    assert mu_star["a"] == pytest.approx(30.0) and mu_star["b"] == 0.0


# ---------------------------------------------------------------- configuration and the model

BOCKENHEIM = ROOT / "scenarios" / "bockenheim.toml"
GOOD = {
    "scenario": f'"{BOCKENHEIM}"',
    "horizon": "2",
    "method": '"morris"',
    "samples": "2",
    "replications": "2",
    "seed": "3",
    "workers": "1",
    "outputs": '["births:sozialrathaus:Bockenheim@2025", "unmet:kita_u3:Bockenheim@2025", "dissimilarity@2025"]',
}
GOOD_PARAMETERS = {"fertility.factor": "[0.7, 1.3]", "volunteering.share": "[0.2, 0.5]"}


def write_config(folder: Path, parameters: dict | None = None, **changes) -> Path:
    keys = {**GOOD, **changes}
    lines = [f"{k} = {v}" for k, v in keys.items() if v is not None]
    lines += ["[parameters]"] + [f'"{k}" = {v}' for k, v in (GOOD_PARAMETERS if parameters is None else parameters).items()]
    path = folder / "sensitivity_test.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_good_config_is_read(tmp_path):
    config = sa.load_config(write_config(tmp_path), out=tmp_path / "out")
    assert config.parameters == {"fertility.factor": (0.7, 1.3), "volunteering.share": (0.2, 0.5)}
    assert config.runs == 2 * (2 + 1) * 2
    assert config.scenario.horizon == 2


def test_the_shipped_example_is_valid(tmp_path):
    config = sa.load_config(ROOT / "calibration" / "configs" / "sensitivity_bockenheim.toml", out=tmp_path / "out")
    assert config.method == "sobol" and "unmet:kita_u3:Bockenheim@2035" in config.outputs and "dissimilarity@2040" in config.outputs
    assert config.runs == 16 * (len(config.parameters) + 2) * 3


@pytest.mark.parametrize(
    "changes, parameters, field, words",
    [
        ({"colour": '"red"'}, None, "colour", "unknown key"),
        ({"method": '"fast"'}, None, "method", "unknown method"),
        ({}, {"fertility.speed": "[0.5, 1]"}, "parameters.fertility.speed", "unknown parameter"),
        ({}, {"fertility.factor": "[1.2, 0.8]"}, "parameters.fertility.factor", "not below"),
        ({}, {"fertility.factor": "[0.5, 20]"}, "parameters.fertility.factor", "not allowed by the scenario"),
        ({}, {"fertility.factor": "[0.5]"}, "parameters.fertility.factor", "[low, high]"),
        ({"outputs": '["births@2025", "happiness@2025"]'}, None, "outputs.1", "unknown output"),
        ({"outputs": '["births@2030"]'}, None, "outputs.0", "no events of 2030"),
        ({"outputs": '["unmet:kita_u4:Bockenheim@2025"]'}, None, "outputs.0", "unknown service"),
        ({"outputs": '["dissimilarity:Bockenheim@2025"]'}, None, "outputs.0", "no indicator"),
        ({"method": '"sobol"', "samples": "4"}, None, "samples", "out of range"),
        ({"method": '"sobol"', "samples": "12"}, None, "samples", "power of 2"),
        ({"samples": "1"}, None, "samples", "out of range"),
        ({"levels": "5"}, None, "levels", "odd"),
        ({"replications": "0"}, None, "replications", "out of range"),
        ({"scenario": '"missing.toml"'}, None, None, "scenario file not found"),
    ],
)
def test_bad_configs_are_refused_with_the_field_named(tmp_path, changes, parameters, field, words):
    with pytest.raises(InputError) as err:
        sa.load_config(write_config(tmp_path, parameters, **changes), out=tmp_path / "out")
    assert err.value.field == field
    assert words in err.value.message


def test_a_folder_that_is_not_an_output_is_refused_before_the_runs(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    with pytest.raises(InputError) as err:
        sa.load_config(write_config(tmp_path), out=tmp_path / "notes")
    assert err.value.field == "--out"
    assert (tmp_path / "notes" / "mine.txt").read_text() == "keep me"


def test_a_top_level_key_under_parameters_is_explained(tmp_path):
    path = write_config(tmp_path, {**GOOD_PARAMETERS, "replications": "[1, 2]"}, replications=None)
    with pytest.raises(InputError, match="above \\[parameters\\]"):
        sa.load_config(path, out=tmp_path / "out")


def sozialraum(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "simulation", *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_refuses_a_bad_config_without_output(tmp_path):
    proc = sozialraum("sensitivity", write_config(tmp_path, {"fertility.factor": "[1.2, 0.8]"}), "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert "parameters.fertility.factor" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_morris_run_on_the_model(tmp_path):
    """Two years of the Bockenheim district, 2 trajectories x 2 replications: the files are
    written, and volunteering, which no demographic event reads, has no effect on births."""
    out = tmp_path / "out"
    proc = sozialraum("sensitivity", write_config(tmp_path), "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "12 model runs" in proc.stdout
    assert "12/12" in proc.stderr  # progress: runs done / total
    for name in ("indices.csv", "diagnostics.csv", "runs.csv", "indices.png", "summary.md", "manifest.json"):
        assert (out / name).is_file(), name
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices.columns) == ["output", "parameter", "index", "value", "conf_low", "conf_high"]
    mu = indices[indices["index"] == "mu_star"].set_index(["output", "parameter"])["value"]
    births = "births:sozialrathaus:Bockenheim@2025"
    assert mu[(births, "volunteering.share")] == pytest.approx(0.0, abs=1e-9)
    assert mu[(births, "fertility.factor")] > 100  # 0.7 -> 1.3 x fertility: hundreds of births a year
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 12 and runs.groupby("point")["fertility.factor"].nunique().eq(1).all()
    assert "Replication noise" in (out / "summary.md").read_text(encoding="utf-8")
