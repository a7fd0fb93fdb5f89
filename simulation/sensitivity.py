"""Global sensitivity analysis: ``sozialraum sensitivity CONFIG``.

Which scenario parameters drive which outputs? A Sobol or Morris design (SALib) varies named
scenario parameters (``fertility.factor``, ...) within ranges; every design point is run with
several replications, and indices are computed for named outputs (``simulation/experiment.py``
defines the names, e.g. ``unmet:kita_u3:Bockenheim@2035``).

- Sobol (variance-based): Saltelli's sampling on a scrambled Sobol' sequence
  (``SALib.sample.sobol``, N (d + 2) points without second-order terms) and Saltelli/Jansen
  estimators (``SALib.analyze.sobol``): first-order ``S1`` (share of output variance due to the
  parameter alone) and total ``ST`` (including all its interactions), with bootstrap confidence
  intervals (Saltelli et al. 2010, Comput. Phys. Commun. 181:259).
- Morris (elementary effects, screening): N trajectories of d + 1 points on a grid of ``levels``
  (``SALib.sample.morris``); an elementary effect is the output change over one step of
  p / (2 (p - 1)) of a parameter's range, divided by that fraction (output units per whole range);
  ``mu_star`` (mean absolute effect, bootstrap CI) ranks influence, ``sigma`` shows interaction
  or non-linearity (Morris 1991; Campolongo, Cariboni and Saltelli 2007).
- Replications and common random numbers: replication j uses the same model seed at every
  design point, and indices are computed on the replication mean per point. Noise that every
  point shares (the seed's own effect) then cancels from the indices. The remaining replication
  noise is estimated with a two-way (point x seed) analysis of variance: the interaction mean
  square s2 estimates the noise variance of one run, s2 / R that of a point mean, and the
  report states ``noise_share`` = (s2 / R) / variance of the point means, the share of the
  analysed variance that is replication noise, with the replications needed to bring it to 5 %.
- Integer parameters (e.g. ``households.leave_home_min_age``) are rounded to the nearest integer
  when set (``experiment.set_parameters``); their indices refer to the rounded values.
- Everything is determined by ``seed``: one child of ``numpy.random.SeedSequence(seed)`` for the
  design, one for the bootstrap, one for the model seeds.

The core (``analyse``) is model-independent: it takes ``evaluate(points) -> (k, R, outputs)``.
The model glue (``load_config``, ``run_config``, ``write_outputs``) uses ``simulation.experiment``.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from simulation.errors import InputError

METHODS = ("sobol", "morris")
MIN_SAMPLES = {"sobol": 8, "morris": 2}  # Sobol: bootstrap CIs need a few base rows; Morris: sigma needs 2 trajectories
MAX_RUNS = 1_000_000
TARGET_NOISE_SHARE = 0.05  # the report says how many replications reach this share
NOISE_ADVICE = 0.10  # above this share the summary advises more replications
WIDE_CI = 0.1  # Sobol: above this half-width the summary advises more samples
INDEX_COLUMNS = ["output", "parameter", "index", "value", "conf_low", "conf_high"]


# ---------------------------------------------------------------- core (model-independent)


def make_problem(parameters: Mapping[str, Sequence[float]]) -> dict:
    """SALib problem from ``{name: (low, high)}`` (uniform ranges, in the given order)."""
    names = list(parameters)
    return {"num_vars": len(names), "names": names, "bounds": [[float(lo), float(hi)] for lo, hi in parameters.values()]}


def design_size(method: str, n: int, d: int) -> int:
    """Design points: Sobol N (d + 2) (A, B and d mixed matrices), Morris N (d + 1) (N trajectories)."""
    if method == "sobol":
        return n * (d + 2)
    if method == "morris":
        return n * (d + 1)
    raise ValueError(f"unknown method '{method}' (allowed: {', '.join(METHODS)})")


def _seeds(seed: int) -> tuple[int, int, np.random.SeedSequence]:
    """Independent streams for the design, the bootstrap and the model seeds. (SALib's Sobol
    bootstrap treats seed 0 as 'unseeded', hence the + 1.)"""
    design, boot, model = np.random.SeedSequence(seed).spawn(3)
    return int(design.generate_state(1)[0]), int(boot.generate_state(1)[0]) + 1, model


def model_seeds(seed: int, replications: int) -> list[int]:
    """Model seed of replication j (the same at every design point: common random numbers)."""
    return [int(s.generate_state(1)[0]) for s in _seeds(seed)[2].spawn(replications)]


def sample(problem: dict, method: str, n: int, seed: int, levels: int = 4) -> np.ndarray:
    """The design: ``(design_size, d)`` points, the same for the same seed."""
    design_seed = _seeds(seed)[0]
    if method == "sobol":
        if n < 1 or n & (n - 1):
            raise ValueError(f"Sobol samples must be a power of 2, got {n}")
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=False, scramble=True, seed=design_seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=levels, seed=design_seed)
    raise ValueError(f"unknown method '{method}' (allowed: {', '.join(METHODS)})")


def replication_noise(values: np.ndarray) -> dict[str, float]:
    """Replication noise of one output from its ``(points, replications)`` values.

    Two-way analysis of variance without replication inside cells: residual
    r_ij = y_ij - mean_i - mean_j + mean, s2 = sum r^2 / ((k - 1)(R - 1)) estimates the noise
    variance of one run not shared by all points (a seed's common effect cancels under common
    random numbers). ``noise_share`` = (s2 / R) / Var_i(mean_i); ``replications_for_5pct`` = the
    R at which the estimated share falls to 5 %."""
    k, r = values.shape
    means = values.mean(axis=1)
    var_means = float(means.var(ddof=1)) if k > 1 else float("nan")
    out = {"mean": float(values.mean()), "sd_of_point_means": math.sqrt(var_means) if var_means >= 0 else float("nan")}
    if r < 2 or k < 2:
        return out | {"noise_sd": float("nan"), "noise_share": float("nan"), "replications_for_5pct": float("nan")}
    resid = values - means[:, None] - values.mean(axis=0)[None, :] + values.mean()
    s2 = float((resid**2).sum() / ((k - 1) * (r - 1)))
    if var_means <= 0:
        share = float("nan") if s2 == 0 else 1.0
    else:
        share = min(1.0, (s2 / r) / var_means)
    signal = max(var_means - s2 / r, 0.0)
    if s2 == 0:
        needed = 1.0
    elif signal > 0:
        needed = float(max(1, math.ceil(s2 * (1 - TARGET_NOISE_SHARE) / TARGET_NOISE_SHARE / signal)))
    else:
        needed = float("inf")
    return out | {"noise_sd": math.sqrt(s2), "noise_share": share, "replications_for_5pct": needed}


@dataclass
class SensitivityResult:
    method: str
    problem: dict
    outputs: list[str]
    points: np.ndarray  # (k, d) design
    values: np.ndarray  # (k, R, outputs) model outputs per point and replication
    indices: pd.DataFrame  # INDEX_COLUMNS
    diagnostics: pd.DataFrame  # per output: mean, spread, replication noise, status
    seed: int
    settings: dict = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return int(self.values.shape[0] * self.values.shape[1])


def _index_rows(output: str, names: list[str], index: str, values, conf) -> list[dict]:
    rows = []
    for i, name in enumerate(names):
        v = float(values[i]) if values is not None else float("nan")
        c = float(conf[i]) if conf is not None else float("nan")
        rows.append({"output": output, "parameter": name, "index": index, "value": v, "conf_low": v - c, "conf_high": v + c})
    return rows


def indices_of(
    problem: dict,
    method: str,
    points: np.ndarray,
    values: np.ndarray,
    outputs: Sequence[str],
    seed: int,
    levels: int = 4,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indices (on the replication mean per point) and per-output diagnostics from evaluated values."""
    if values.ndim != 3 or values.shape[0] != len(points) or values.shape[2] != len(outputs):
        raise ValueError(f"values must have shape ({len(points)}, replications, {len(outputs)}), got {values.shape}")
    boot_seed = _seeds(seed)[1]
    names = list(problem["names"])
    rows, diagnostics = [], []
    for o, output in enumerate(outputs):
        y = values[:, :, o]
        mean_y = y.mean(axis=1)
        missing = int((~np.isfinite(y)).sum())
        if missing:
            status = f"{missing} of {y.size} runs gave no value"
        else:
            status = "constant over the design" if np.ptp(mean_y) == 0 else "ok"
        diagnostics.append({"output": output, "replications": y.shape[1], "status": status} | ({} if missing else replication_noise(y)))
        if method == "sobol":
            if status != "ok":  # no variance to share out (or no values): the indices are undefined
                for index in ("S1", "ST"):
                    rows += _index_rows(output, names, index, None, None)
                continue
            from SALib.analyze import sobol

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = sobol.analyze(
                    problem, mean_y, calc_second_order=False, num_resamples=num_resamples, conf_level=conf_level, seed=boot_seed
                )
            rows += _index_rows(output, names, "S1", res["S1"], res["S1_conf"])
            rows += _index_rows(output, names, "ST", res["ST"], res["ST_conf"])
        else:
            if missing:  # a constant output has effects 0, computed below
                rows += _index_rows(output, names, "mu_star", None, None)
                rows += _index_rows(output, names, "sigma", None, None)
                continue
            from SALib.analyze import morris

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = morris.analyze(
                    problem,
                    np.asarray(points, dtype=float),
                    mean_y,
                    num_resamples=num_resamples,
                    conf_level=conf_level,
                    num_levels=levels,
                    seed=boot_seed,
                )
            rows += _index_rows(output, names, "mu_star", res["mu_star"], res["mu_star_conf"])
            rows += _index_rows(output, names, "sigma", res["sigma"], None)
    columns = ["output", "replications", "status", "mean", "sd_of_point_means", "noise_sd", "noise_share", "replications_for_5pct"]
    return pd.DataFrame(rows, columns=INDEX_COLUMNS), pd.DataFrame(diagnostics).reindex(columns=columns)


def analyse(
    problem: dict,
    evaluate: Callable[[np.ndarray], np.ndarray],
    method: str = "sobol",
    n: int = 64,
    replications: int = 1,
    seed: int = 0,
    outputs: Sequence[str] = ("y",),
    levels: int = 4,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
) -> SensitivityResult:
    """Sample the design, evaluate it once (``evaluate(points) -> (k, replications, len(outputs))``,
    replication j with the same random numbers at every point) and compute the indices."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}' (allowed: {', '.join(METHODS)})")
    if n < MIN_SAMPLES[method]:
        raise ValueError(f"{method} needs at least {MIN_SAMPLES[method]} samples, got {n}")
    points = sample(problem, method, n, seed, levels)
    values = np.asarray(evaluate(points), dtype=float)
    if values.shape != (len(points), replications, len(outputs)):
        raise ValueError(f"evaluate returned shape {values.shape}, expected {(len(points), replications, len(outputs))}")
    indices, diagnostics = indices_of(problem, method, points, values, outputs, seed, levels, num_resamples, conf_level)
    settings = {"samples": n, "replications": replications, "levels": levels, "num_resamples": num_resamples, "conf_level": conf_level}
    return SensitivityResult(method, problem, list(outputs), points, values, indices, diagnostics, seed, settings)


# ---------------------------------------------------------------- configuration file

CONFIG_KEYS = {
    "scenario": "scenario TOML file, relative to this file",
    "method": "sobol or morris",
    "parameters": 'table of "dotted.path" = [low, high]',
    "outputs": "list of output names (see simulation/experiment.py)",
    "samples": "Sobol: base samples N (power of 2); Morris: trajectories",
    "replications": "runs per design point (common random numbers)",
    "seed": "seed of design, bootstrap and model seeds (default: the scenario's)",
    "workers": "parallel worker processes",
    "output": "output folder, relative to the current directory",
    "levels": "Morris grid levels (even)",
    "horizon": "years to project (default: the scenario's horizon)",
}
MAX_REPLICATIONS = 1000


@dataclass
class SensitivityConfig:
    """A validated ``sensitivity_*.toml``: everything a run needs, checked before any model runs."""

    path: Path
    scenario: object  # simulation.scenario.Scenario
    method: str
    parameters: dict[str, tuple[float, float]]
    outputs: list[str]
    samples: int
    replications: int
    seed: int
    workers: int
    output: Path
    levels: int = 4
    inputs: object = field(default=None, repr=False)  # CityInputs of the scenario, loaded while checking

    @property
    def problem(self) -> dict:
        return make_problem(self.parameters)

    @property
    def design_points(self) -> int:
        return design_size(self.method, self.samples, len(self.parameters))

    @property
    def runs(self) -> int:
        return self.design_points * self.replications


def _whole(raw: dict, key: str, path: Path, default: int | None, low: int, high: int, allowed: str | None = None) -> int:
    value = raw.get(key, default)
    if value is None:
        raise InputError(path, key, "missing", allowed or f"a whole number {low}..{high}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(path, key, f"must be a whole number, got {value!r}", allowed or f"{low}..{high}")
    if not low <= value <= high:
        raise InputError(path, key, f"{value} is out of range", allowed or f"{low}..{high}")
    return value


def _read_config_toml(path: Path) -> dict:
    if not path.is_file():
        raise InputError(
            path, None, "sensitivity configuration not found", "a TOML file such as calibration/configs/sensitivity_bockenheim.toml"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"not valid TOML ({exc})") from exc
    for key in raw:
        if key not in CONFIG_KEYS:
            raise InputError(path, key, "unknown key", ", ".join(CONFIG_KEYS))
    return raw


def load_config(path: str | Path, workers: int | None = None, out: str | Path | None = None) -> SensitivityConfig:
    """Read and check a sensitivity configuration: the scenario and its input data, every
    parameter (known, numeric, low < high, both ends allowed by the scenario schema), every output
    name (services and indicators against a one-year probe run), the design size and the output
    folder. ``workers`` and ``out`` override the file. Raises InputError."""
    from simulation import experiment
    from simulation.inputs import load_inputs
    from simulation.scenario import load_scenario

    path = Path(path)
    raw = _read_config_toml(path)
    scenario_file = raw.get("scenario")
    if not isinstance(scenario_file, str) or not scenario_file:
        raise InputError(path, "scenario", "missing or not a file name", "a scenario TOML file, relative to this file")
    horizon = _whole(raw, "horizon", path, 0, 0, 100, "1..100 years") if "horizon" in raw else None
    if horizon == 0:
        raise InputError(path, "horizon", "0 is out of range", "1..100 years")
    scenario = load_scenario(path.parent / scenario_file, horizon=horizon)
    inputs = load_inputs(scenario)  # every data-file and area error before any run

    method = raw.get("method", "sobol")
    if method not in METHODS:
        raise InputError(path, "method", f"unknown method {method!r}", ", ".join(METHODS))

    parameters = _check_parameters(raw.get("parameters"), scenario, path, experiment)
    outputs = _check_outputs(raw.get("outputs"), scenario, path, experiment)

    samples = _whole(raw, "samples", path, None, MIN_SAMPLES[method], 1 << 20, _samples_allowed(method))
    if method == "sobol" and samples & (samples - 1):
        raise InputError(path, "samples", f"{samples} is not a power of 2 (Sobol' sequences balance only then)", _samples_allowed(method))
    replications = _whole(raw, "replications", path, 1, 1, MAX_REPLICATIONS)
    seed = _whole(raw, "seed", path, scenario.seed, 0, 2**63 - 1, "a whole number >= 0")
    workers = workers if workers is not None else _whole(raw, "workers", path, 2, 1, 256)
    levels = _whole(raw, "levels", path, 4, 2, 100, "an even number 2..100")
    if levels % 2:
        raise InputError(path, "levels", f"{levels} is odd (Morris steps need an even number of levels)", "an even number 2..100")
    if out is None:
        output = raw.get("output", f"output/sensitivity_{path.stem.removeprefix('sensitivity_')}")
        if not isinstance(output, str) or not output:
            raise InputError(path, "output", "must be a folder name", "a path, relative to the current directory")
        out = output
    target = Path(out)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / "manifest.json").is_file())):
        # the rule of outputs.atomic_directory, checked before the runs rather than after them
        raise InputError(target, "--out", "exists and is not an output folder of sozialraum", "a new or empty folder, or an earlier output")
    config = SensitivityConfig(path, scenario, method, parameters, outputs, samples, replications, seed, workers, Path(out), levels, inputs)
    if config.runs > MAX_RUNS:
        raise InputError(
            path, "samples", f"the design needs {config.runs:,} model runs", f"at most {MAX_RUNS:,} (fewer samples or replications)"
        )
    _probe_outputs(outputs, scenario, inputs, path, experiment)
    return config


def _samples_allowed(method: str) -> str:
    if method == "sobol":
        return f"a power of 2, at least {MIN_SAMPLES['sobol']} (N (d + 2) design points)"
    return f"at least {MIN_SAMPLES['morris']} trajectories (N (d + 1) design points)"


def _check_parameters(table, scenario, path: Path, experiment) -> dict[str, tuple[float, float]]:
    if not isinstance(table, dict) or not table:
        raise InputError(
            path, "parameters", "missing or empty", 'a table of "dotted.path" = [low, high], e.g. "fertility.factor" = [0.8, 1.1]'
        )
    known = experiment.numeric_parameters(scenario)
    out = {}
    for name, bounds in _flatten(table).items():
        field = f"parameters.{name}"
        if name not in known and name in CONFIG_KEYS:
            raise InputError(
                path,
                field,
                f"'{name}' is a top-level key: TOML puts every key after [parameters] into that table",
                f"'{name}' above [parameters]",
            )
        if name not in known:
            raise InputError(path, field, "unknown parameter", ", ".join(known))
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or any(isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) for b in bounds)
        ):
            raise InputError(path, field, f"must be [low, high], got {bounds!r}", "two numbers, low < high")
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            raise InputError(path, field, f"low {lo:g} is not below high {hi:g}", "two numbers, low < high")
        for value in (lo, hi):
            try:
                experiment.set_parameters(scenario, {name: value})
            except InputError as exc:
                raise InputError(path, field, f"{value:g} is not allowed by the scenario ({exc.problem})", exc.allowed) from None
        out[name] = (lo, hi)
    return out


def _flatten(table: dict, prefix: str = "") -> dict:
    """``"fertility.factor" = [..]`` and ``[parameters.fertility] factor = [..]`` both name fertility.factor."""
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flatten(value, f"{name}.")
        else:
            out[name] = value
    return out


def _check_outputs(outputs, scenario, path: Path, experiment) -> list[str]:
    """Output names, their areas and years against the scenario."""
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) and o for o in outputs):
        raise InputError(
            path, "outputs", "missing, empty or not a list of names", 'e.g. ["unmet:kita_u3:Bockenheim@2035", "dissimilarity@2040"]'
        )
    if len(set(outputs)) != len(outputs):
        raise InputError(path, "outputs", "names an output twice", "distinct output names")
    for i, name in enumerate(outputs):
        try:
            experiment.check_output(scenario, name)
        except InputError as exc:
            raise InputError(path, f"outputs.{i}", f"{name!r}: {exc.problem}", exc.allowed) from None
    return outputs


def _probe_outputs(outputs: list[str], scenario, inputs, path: Path, experiment) -> None:
    """Services and indicators named by the outputs against the tables of a one-year run of the
    scenario (indicators exist per level: segregation indices not for a single Stadtteil)."""
    from simulation.runner import run_scenario

    probe = experiment.RunExtract(run_scenario(scenario, years=1, inputs=inputs).tables)
    for i, name in enumerate(outputs):
        body = name.partition("@")[0]
        try:
            probe.value(f"{body}@{probe.last}")
        except InputError as exc:
            raise InputError(path, f"outputs.{i}", f"{name!r}: {exc.problem}", exc.allowed) from None


# ---------------------------------------------------------------- running on the model


def run_config(config: SensitivityConfig, executor=None, progress: Callable[[int, int], None] | None = None) -> SensitivityResult:
    """Run the design of ``config`` on the model (``experiment.evaluate_many`` on ``executor``) and
    compute the indices. Replication j uses model seed ``model_seeds(seed, R)[j]`` at every point."""
    from simulation import experiment

    names = list(config.parameters)
    seeds = model_seeds(config.seed, config.replications)

    def evaluate(points: np.ndarray) -> np.ndarray:
        rows = [dict(zip(names, map(float, row))) for row in points]
        return experiment.evaluate_many(
            config.scenario, rows, config.outputs, seeds, executor=executor, progress=progress, inputs=config.inputs
        )

    started = time.perf_counter()
    result = analyse(
        config.problem,
        evaluate,
        config.method,
        config.samples,
        config.replications,
        config.seed,
        config.outputs,
        config.levels,
    )
    result.settings |= {"model_seeds": seeds, "run_seconds": round(time.perf_counter() - started, 1)}
    return result


# ---------------------------------------------------------------- outputs


def plot_indices(result: SensitivityResult, path: Path) -> Path:
    """One panel per output: Sobol S1 and ST, or Morris mu_star, per parameter with their
    confidence intervals (Morris: sigma as a hollow bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.problem["names"])
    pairs = [("S1", "first order S1"), ("ST", "total ST")] if result.method == "sobol" else [("mu_star", "mu*"), ("sigma", "sigma")]
    n_out = len(result.outputs)
    fig, axes = plt.subplots(n_out, 1, figsize=(8, 0.9 + (0.45 * len(names) + 0.9) * n_out), squeeze=False)
    y = np.arange(len(names))
    for ax, output in zip(axes[:, 0], result.outputs):
        sub = result.indices[result.indices["output"] == output]
        for k, (index, label) in enumerate(pairs):
            rows = sub[sub["index"] == index].set_index("parameter").reindex(names)
            values = rows["value"].to_numpy(float)
            err = (values - rows["conf_low"].to_numpy(float), rows["conf_high"].to_numpy(float) - values)
            has_ci = np.isfinite(err[0]).any()
            style = {"color": f"C{k}"} if result.method == "sobol" or k == 0 else {"fill": False, "edgecolor": "grey", "hatch": "//"}
            ax.barh(
                y + (k - 0.5) * 0.38,
                np.nan_to_num(values),
                height=0.36,
                xerr=np.nan_to_num(np.vstack(err)) if has_ci else None,
                capsize=3,
                label=label,
                **style,
            )
        diag = result.diagnostics.set_index("output").loc[output]
        note = "" if diag["status"] == "ok" else f"  ({diag['status']})"
        if np.isfinite(diag["noise_share"]):
            note += f"  [replication noise {100 * diag['noise_share']:.0f} %]"
        ax.set_title(output + note, fontsize=9)
        ax.set_yticks(y)
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    conf = int(round(100 * result.settings.get("conf_level", 0.95)))
    what = "Sobol indices (share of output variance)" if result.method == "sobol" else "Morris effects (output units per parameter range)"
    fig.suptitle(f"{what}; error bars: {conf} % bootstrap confidence interval", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:.3g}"


def summary_markdown(result: SensitivityResult, config: SensitivityConfig | None = None) -> str:
    """A short Markdown report: the design, a table of indices per output, replication noise."""
    names = list(result.problem["names"])
    s = result.settings
    lines = [f"# Sensitivity analysis ({result.method})", ""]
    if config is not None:
        lines += [f"Configuration: `{config.path}`, scenario `{config.scenario.name}`.", ""]
    points, reps = result.values.shape[:2]
    lines += [
        f"{points} design points x {reps} replications = {result.runs} model runs; samples {s.get('samples')}, seed {result.seed}"
        + (f", {s['run_seconds']} s" if "run_seconds" in s else "")
        + ".",
        "",
        "| parameter | low | high |",
        "|---|---|---|",
        *[f"| `{n}` | {lo:g} | {hi:g} |" for n, (lo, hi) in zip(names, result.problem["bounds"])],
        "",
    ]
    if result.method == "sobol":
        lines += ["S1: share of the output's variance due to the parameter alone; ST: including its interactions."]
        shown = ["S1", "ST"]
    else:
        lines += [
            "mu*: mean absolute elementary effect, the change of the output (in its units) per change of the parameter over its whole "
            "range, from grid steps of the range; sigma: spread of the effects (interactions or non-linearity)."
        ]
        shown = ["mu_star", "sigma"]
    conf = int(round(100 * s.get("conf_level", 0.95)))
    lines += [f"Brackets: {conf} % bootstrap confidence interval. Indices are computed on the mean of the replications per point.", ""]
    diag = result.diagnostics.set_index("output")
    for output in result.outputs:
        d = diag.loc[output]
        lines += [f"## `{output}`", "", f"mean {_fmt(d['mean'])}, standard deviation over the design {_fmt(d['sd_of_point_means'])}."]
        if d["status"] != "ok":
            lines += [
                f"**{d['status']}**: the indices are not defined."
                if result.method == "sobol" or "no value" in d["status"]
                else f"**{d['status']}**."
            ]
        lines += ["", "| parameter | " + " | ".join(shown) + " |", "|---|" + "---|" * len(shown)]
        sub = result.indices[result.indices["output"] == output].set_index(["parameter", "index"])
        for name in names:
            cells = []
            for index in shown:
                r = sub.loc[(name, index)]
                ci = f" [{_fmt(r['conf_low'])}, {_fmt(r['conf_high'])}]" if np.isfinite(r["conf_low"]) else ""
                cells.append(_fmt(r["value"]) + ci)
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
        lines.append("")
        share = d["noise_share"]
        if reps < 2:
            lines.append(
                "One replication per point: replication noise cannot be told apart from parameter effects (use replications >= 2)."
            )
        elif np.isfinite(share):
            needed = d["replications_for_5pct"]
            advice = ""
            if share > NOISE_ADVICE:
                advice = " More replications are advised" + (f": about {int(needed):,} bring it to 5 %." if np.isfinite(needed) else ".")
            lines.append(
                f"Replication noise: {100 * share:.1f} % of the variance analysed (noise sd of one run {_fmt(d['noise_sd'])}).{advice}"
            )
        widths = (sub["conf_high"] - sub["conf_low"]).to_numpy(float) / 2
        if result.method == "sobol" and np.nanmax(widths, initial=0.0) > WIDE_CI:
            lines.append(
                f"Some intervals are wider than ±{WIDE_CI:g}: more samples narrow them (about as 1 / sqrt(N)) before the ranking is read."
            )
        lines.append("")
    return "\n".join(lines)


def write_outputs(result: SensitivityResult, out: Path, config: SensitivityConfig | None = None, figures: bool = True) -> Path:
    """Write, atomically into ``out`` (replacing an earlier output): ``indices.csv``,
    ``diagnostics.csv`` (replication noise per output), ``runs.csv`` (design and every run's
    outputs), ``indices.png``, ``summary.md`` and ``manifest.json``."""
    from simulation.outputs import atomic_directory
    from simulation.runner import package_versions

    names = list(result.problem["names"])
    points, reps, _ = result.values.shape
    runs = pd.DataFrame(np.repeat(result.points, reps, axis=0), columns=names)
    runs.insert(0, "replication", np.tile(np.arange(reps), points))
    runs.insert(0, "point", np.repeat(np.arange(points), reps))
    for o, output in enumerate(result.outputs):
        runs[output] = result.values[:, :, o].ravel()
    manifest = {
        "method": result.method,
        "problem": result.problem,
        "outputs": result.outputs,
        "seed": result.seed,
        "settings": result.settings,
        "runs": result.runs,
        "versions": package_versions() | {"SALib": _salib_version()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if config is not None:
        manifest |= {"config": str(config.path.resolve()), "scenario": config.scenario.model_dump(mode="json")}
    with atomic_directory(Path(out)) as tmp:
        result.indices.to_csv(tmp / "indices.csv", index=False)
        result.diagnostics.to_csv(tmp / "diagnostics.csv", index=False)
        runs.to_csv(tmp / "runs.csv", index=False)
        if figures:
            plot_indices(result, tmp / "indices.png")
        (tmp / "summary.md").write_text(summary_markdown(result, config), encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return Path(out)


def _salib_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("SALib")
    except metadata.PackageNotFoundError:
        return "not installed"
