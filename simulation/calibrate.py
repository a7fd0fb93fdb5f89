"""Calibration: ``sozialraum calibrate CONFIG`` fits scenario parameters to observed series.

The config (TOML; paths relative to it)::

    scenario = "../../scenarios/history_2012.toml"
    method = "optimize"              # or "abc"
    replications = 3                 # runs per evaluated point (the same seeds at every point)
    seed = 1
    max_evaluations = 60             # parameter points evaluated, the start point included
    # horizon = 11                   # optional; default: up to the last observation used
    # observed = "my_series.csv"     # optional: series, area, date, value[, group, source, note]
    # output = "../../output/calibrate/baseline_2012"   # optional; --out overrides

    [parameters]                     # dotted scenario paths with [lower, upper] bounds
    "fertility.factor" = [0.7, 1.3]

    [[targets]]                      # series of simulation/observed.py
    series = "city_total"
    years = "2013-2017"              # optional: a year, "FROM-TO" or a list of years
    area = "Bockenheim"              # optional: Stadtteil, "A+B", "city", "sozialrathaus:NAME" or a list
    group = "0-2"                    # optional (age groups)
    weight = 2.0                     # default 1

    [optimize]                       # method = "optimize"
    optimizer = "nelder-mead"        # or "powell" (scipy.optimize.minimize, bounded)
    initial_design = 6               # Latin hypercube points tried first (default 2 x parameters)
    # start = { "fertility.factor" = 0.9 }   # default: the scenario's value (midpoint if outside)

    [abc]                            # method = "abc"
    particles = 20
    keep = 0.5                       # share of particles kept each generation
    min_acceptance = 0.05            # stop when fewer new particles beat the last threshold

Objective: for every target, the mean over its observations of the squared relative error
(simulated - observed) / observed; the weighted sum over targets; the mean of that over the
replications. Every evaluated point runs with the same seeds (common random numbers), so
differences between points are not seed noise.

- ``optimize``: a Latin hypercube of starting points (in parallel), then Nelder-Mead (or Powell)
  with bounds from the best one, on the parameters scaled to [0, 1]; the budget counts every
  distinct point evaluated. Result: the best point.
- ``abc``: approximate Bayesian computation, adaptive population Monte Carlo (Lenormand, Jabot
  and Deffuant 2013, Comput. Stat. 28:2777): uniform priors on the bounds, the objective as the
  distance; each generation keeps the ``keep`` share of particles nearest the observations and
  refills with draws from a Gaussian kernel (twice the weighted covariance) around them, weighted
  by prior / kernel mixture. Result: the posterior mean (written to calibrated.toml), the
  weighted 5-95 % interval and the accepted particles. With common random numbers the distance
  is a fixed function of the parameters: the interval spans the values whose runs with these
  seeds come as close as the last threshold, not the seed-to-seed noise of the model; more
  replications shrink the shift that the seeds' own noise gives it.

Outputs (written atomically into the output folder): ``calibrated.toml`` (extends the scenario,
sets only the fitted values), ``fit.csv`` (observed against simulated per target and date),
``parameters.csv``, ``evaluations.csv`` (every point; ``particles.csv`` for abc),
``fit_report.html`` with PNG figures, ``manifest.json``.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Callable, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulation import experiment, observed
from simulation.errors import InputError
from simulation.scenario import Scenario, load_scenario
from simulation.vocabulary import CITY

METHODS = ("optimize", "abc")
SIMPLEX_STEP = 0.15  # initial Nelder-Mead simplex: 15 % of each parameter's range


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetConfig(_Strict):
    series: str
    area: str | list[str] | None = None
    group: str | list[str] | None = None
    years: int | str | list[int] | None = None
    weight: Annotated[float, Field(ge=0.0, le=1e6)] = 1.0


class OptimizeConfig(_Strict):
    optimizer: Literal["nelder-mead", "powell"] = "nelder-mead"
    initial_design: Annotated[int, Field(ge=0, le=10_000)] | None = None
    start: dict[str, float] | None = None


class AbcConfig(_Strict):
    particles: Annotated[int, Field(ge=4, le=100_000)] = 20
    keep: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    min_acceptance: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05


class CalibrationConfig(_Strict):
    scenario: str
    parameters: dict[str, list[float]]
    targets: Annotated[list[TargetConfig], Field(min_length=1)]
    method: Literal["optimize", "abc"] = "optimize"
    replications: Annotated[int, Field(ge=1, le=1000)] = 3
    seed: Annotated[int, Field(ge=0)] = 1
    max_evaluations: Annotated[int, Field(ge=1, le=1_000_000)] = 60
    horizon: Annotated[int, Field(ge=1, le=100)] | None = None
    observed: str | None = None
    output: str | None = None
    optimize: OptimizeConfig = OptimizeConfig()
    abc: AbcConfig = AbcConfig()


@dataclass
class Calibration:
    """A loaded, checked calibration: the config, the scenario, bounds and the observations."""

    path: Path
    config: CalibrationConfig
    scenario: Scenario  # of the fitting runs (horizon up to the last observation fitted)
    scenario_path: Path
    base: Scenario  # as read from the scenario file (what calibrated.toml extends)
    bounds: dict[str, tuple[float, float]]
    start: dict[str, float]
    observations: pd.DataFrame  # every observation comparable with the run (observed.COLUMNS)
    fit_rows: pd.DataFrame  # one row per (target, observation) used in the fit
    dropped_targets: list[str] = field(default_factory=list)  # targets without observations (hindcast cut)
    until: int | None = None
    input_files: dict[str, str] = field(default_factory=dict)  # every file read (model and observations) -> SHA-256
    model_files: tuple[str, ...] = ()  # the files the model itself reads (load_inputs)

    @property
    def names(self) -> list[str]:
        return list(self.bounds)

    def seeds(self) -> list[int]:
        return model_seeds(self.config.seed, self.config.replications)

    def values_of(self, u: np.ndarray) -> dict[str, float]:
        """Parameter values of a point in [0, 1]^d."""
        return {n: lo + float(x) * (hi - lo) for (n, (lo, hi)), x in zip(self.bounds.items(), np.clip(u, 0.0, 1.0))}

    def unit_of(self, values: dict[str, float]) -> np.ndarray:
        return np.array([(values[n] - lo) / (hi - lo) for n, (lo, hi) in self.bounds.items()])


def model_seeds(seed: int, replications: int) -> list[int]:
    """The model seeds of the replications: child 0 of ``SeedSequence(seed)`` (child 1 drives the
    algorithm's own draws), the same at every evaluated point."""
    return [int(s) for s in np.random.SeedSequence(seed).spawn(2)[0].generate_state(replications)]


# ---- config ------------------------------------------------------------------------------------
def _flatten(table: dict, prefix: str = "") -> dict:
    """``{"fertility": {"factor": [..]}}`` and ``{"fertility.factor": [..]}`` alike -> dotted keys."""
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= _flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _config_error(path: Path, exc: ValidationError) -> InputError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return InputError(
            path,
            loc,
            "unknown key",
            "scenario, parameters, targets, method, replications, seed, max_evaluations, "
            "horizon, observed, output, [optimize], [abc]; targets: series, area, group, years, weight",
        )
    if err["type"] == "missing":
        return InputError(path, loc, "missing")
    if err["type"] == "literal_error":
        return InputError(path, loc, f"{err.get('input')!r} is not allowed", (err.get("ctx") or {}).get("expected"))
    if err["type"].startswith(("greater", "less", "too_short")):
        return InputError(
            path,
            loc,
            f"value {err.get('input')!r} out of range",
            err["msg"].replace("Input should be ", "").replace("List should have ", ""),
        )
    return InputError(path, loc, err["msg"])


def _years(path: Path, i: int, spec) -> set[int] | None:
    if spec is None:
        return None
    if isinstance(spec, int):
        return {spec}
    if isinstance(spec, list):
        return set(spec)
    m = re.fullmatch(r"\s*(\d{4})\s*-\s*(\d{4})\s*", str(spec))
    if not m or int(m.group(1)) > int(m.group(2)):
        raise InputError(path, f"targets.{i}.years", f"cannot read {spec!r}", 'a year, "FROM-TO" (e.g. "2013-2017") or a list of years')
    return set(range(int(m.group(1)), int(m.group(2)) + 1))


def _areas(path: Path, i: int, spec, area_table) -> set[str] | None:
    if spec is None:
        return None
    items = [spec] if isinstance(spec, str) else list(spec)
    out = set()
    names, districts = area_table.names, area_table.sozialrathaus_of()
    for item in items:
        if item in ("city", CITY):
            out.add(CITY)
        elif item.startswith("sozialrathaus:"):
            chosen = {a for a, d in districts.items() if d == item.split(":", 1)[1]}
            if not chosen:
                raise InputError(
                    path, f"targets.{i}.area", f"unknown Sozialrathaus in '{item}'", ", ".join(sorted(set(districts.values())))
                )
            out |= chosen
        elif all(p in names for p in item.split("+")):
            out.add(item)
        else:
            raise InputError(
                path, f"targets.{i}.area", f"unknown area '{item}'", f"city, sozialrathaus:NAME, A+B or a Stadtteil: {', '.join(names)}"
            )
    return out


def _target_rows(path: Path, config: CalibrationConfig, obs: pd.DataFrame, area_table, until: int | None) -> tuple[pd.DataFrame, list[str]]:
    """Rows (target, observation) of the fit; targets left without observations by ``until``."""
    parts, dropped = [], []
    for i, t in enumerate(config.targets):
        if t.series not in observed.SERIES:
            raise InputError(path, f"targets.{i}.series", f"unknown target series '{t.series}'", ", ".join(observed.SERIES))
        rows = obs[obs["series"] == t.series]
        areas, years = _areas(path, i, t.area, area_table), _years(path, i, t.years)
        groups = None if t.group is None else ({t.group} if isinstance(t.group, str) else set(t.group))
        if areas is not None:
            rows = rows[rows["area"].isin(areas) | rows["area"].map(lambda a, chosen=areas: all(p in chosen for p in a.split("+")))]
        if groups is not None:
            rows = rows[rows["group"].isin(groups)]
        if years is not None:
            rows = rows[rows["year"].isin(years)]
        if rows.empty:
            available = obs[obs["series"] == t.series]
            what = ", ".join(sorted({f"{a} {y}" for a, y in zip(available["area"], available["year"])})[:40]) or "none for this run"
            raise InputError(path, f"targets.{i}", f"no observation of '{t.series}' fits this target and the run's areas and years", what)
        if until is not None:
            rows = rows[rows["year"] <= until]
            if rows.empty:
                dropped.append(f"target {i} ({t.series}): no observation up to {until}")
                continue
        parts.append(rows.assign(target=i, weight=t.weight))
    if not parts:
        raise InputError(
            path, "targets", f"no target has an observation up to {until}", "targets with earlier observations, or a later --fit-until"
        )
    return pd.concat(parts, ignore_index=True), dropped


def load_config(
    path: str | Path,
    until: int | None = None,
    replications: int | None = None,
    max_evaluations: int | None = None,
    method: str | None = None,
) -> Calibration:
    """Read and check a calibration config (InputError naming the file and field on any problem).
    ``until``: fit only observations up to that year (hindcast). The other arguments override the
    config's values."""
    from simulation import data
    from simulation.inputs import load_inputs

    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(path, None, "calibration config not found", "a TOML file such as calibration/configs/baseline_2012.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"not valid TOML ({exc})") from None
    if isinstance(raw.get("parameters"), dict):
        raw["parameters"] = _flatten(raw["parameters"])
    overrides = {"replications": replications, "max_evaluations": max_evaluations, "method": method}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        config = CalibrationConfig.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(path, exc) from None
    if not config.parameters:
        raise InputError(path, "parameters", "no parameter to fit", 'e.g. "fertility.factor" = [0.7, 1.3]')
    scenario_path = (path.parent / config.scenario).resolve()
    scenario = load_scenario(scenario_path)
    bounds = _bounds(path, config, scenario)
    with data.logged_reads() as read:
        data_dir = Path(scenario.data_dir) if scenario.data_dir else data.DEFAULT_DATA_DIR
        area_table = data.load_areas(data_dir)
        if config.observed:
            obs_all = observed.read_observations((path.parent / config.observed).resolve(), area_table.names)
        else:
            obs_all = observed.observations(data_dir)
    from simulation.inputs import select_areas

    run_areas = select_areas(scenario.areas, area_table, str(scenario_path))
    last_year = scenario.base_year + (config.horizon or scenario.horizon)
    obs = obs_all[observed.comparable(obs_all, run_areas, area_table.names, scenario.base_year, last_year)].reset_index(drop=True)
    if until is not None and not scenario.base_year < until < last_year:
        raise InputError(
            path, "--fit-until", f"{until} leaves no years to fit or none to hold out", f"{scenario.base_year + 1}..{last_year - 1}"
        )
    fit_rows, dropped = _target_rows(path, config, obs, area_table, until)
    run = _run_scenario(scenario, config.horizon, int(fit_rows["year"].max()), until)
    start = _start(path, config, scenario, bounds)
    inputs = load_inputs(run)  # every input error before the first run
    files = {**inputs.files, **data.file_hashes(read, data_dir)}
    return Calibration(
        path,
        config,
        run,
        scenario_path,
        scenario,
        bounds,
        start,
        obs,
        fit_rows,
        dropped,
        until,
        dict(sorted(files.items())),
        tuple(inputs.files),
    )


def _bounds(path: Path, config: CalibrationConfig, scenario: Scenario) -> dict[str, tuple[float, float]]:
    known = experiment.numeric_parameters(scenario)
    bounds = {}
    for name, pair in config.parameters.items():
        field_name = f"parameters.{name}"
        if name not in known:
            raise InputError(path, field_name, "not a numeric parameter of the scenario", ", ".join(known))
        if re.search(r"\.\d+(\.|$)", name):
            raise InputError(
                path,
                field_name,
                "list entries cannot be calibrated (calibrated.toml could not override them alone)",
                ", ".join(k for k in known if not re.search(r"\.\d+(\.|$)", k)),
            )
        if len(pair) != 2 or not pair[0] < pair[1]:
            raise InputError(path, field_name, f"bounds {pair} are not [lower, upper] with lower < upper", "[lower, upper]")
        for value in pair:
            try:
                experiment.set_parameters(scenario, {name: value})
            except InputError as exc:
                raise InputError(path, field_name, f"bound {value:g}: {exc.problem}", exc.allowed) from None
        bounds[name] = (float(pair[0]), float(pair[1]))
    return bounds


def _start(path: Path, config: CalibrationConfig, scenario: Scenario, bounds: dict) -> dict[str, float]:
    """Starting values: the config's ``[optimize] start``, else the scenario's own value when it
    lies inside the bounds, else the midpoint."""
    given = config.optimize.start or {}
    unknown = [k for k in given if k not in bounds]
    if unknown:
        raise InputError(path, f"optimize.start.{unknown[0]}", "not among the parameters", ", ".join(bounds))
    out = {}
    for name, (lo, hi) in bounds.items():
        value = given.get(name, experiment.parameter_value(scenario, name))
        if name in given and not lo <= value <= hi:
            raise InputError(path, f"optimize.start.{name}", f"{value:g} is outside the bounds", f"{lo:g}..{hi:g}")
        out[name] = value if lo <= value <= hi else (lo + hi) / 2.0
    return out


def _run_scenario(scenario: Scenario, horizon: int | None, last_needed: int, until: int | None) -> Scenario:
    """The scenario of the fitting runs: the config's horizon, else only up to the last year an
    observation of the fit needs (later years cannot change earlier ones: every year draws from
    its own streams), unless a dated lever beyond it makes the shorter run invalid."""
    wanted = horizon or max(1, last_needed - scenario.base_year)
    if wanted == scenario.horizon:
        return scenario
    try:
        out = Scenario.model_validate({**scenario.model_dump(mode="json"), "horizon": wanted})
    except ValidationError:
        return scenario
    out._source = scenario.source
    return out


# ---- objective ---------------------------------------------------------------------------------
def objective(sim: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """Per replication: sum over targets of weight x mean squared relative error (see module
    docstring). ``sim``: (replications, rows)."""
    obs = rows["value"].to_numpy(float)
    err2 = ((sim - obs) / np.abs(obs)) ** 2
    total = np.zeros(sim.shape[0])
    for idx in rows.groupby("target").indices.values():
        total += rows["weight"].iloc[idx[0]] * err2[:, idx].mean(axis=1)
    return total


@dataclass
class CalibrationResult:
    calibration: Calibration
    values: dict[str, float]  # written to calibrated.toml
    start_objective: float
    fitted_objective: float
    evaluations: pd.DataFrame  # every evaluated point: parameters, objective (mean, sd over replications)
    fit: pd.DataFrame  # fit rows with simulated mean, min, max, error, relative_error
    simulated: np.ndarray  # (replications, fit rows) at the fitted values
    posterior: pd.DataFrame | None = None  # abc: parameter, mean, sd, p5, median, p95
    particles: pd.DataFrame | None = None  # abc: every particle with generation, distance, weight, kept
    seconds: float = 0.0
    message: str = ""


class _Budget(Exception):
    """The evaluation budget is used up."""


class _Evaluator:
    """Evaluates parameter points on the model (all fit rows as outputs), memoised, counting the budget."""

    def __init__(self, cal: Calibration, executor, progress: Callable[[int, int, float], None] | None, inputs):
        self.cal, self.executor, self.progress, self.inputs = cal, executor, progress, inputs
        self.outputs = list(cal.fit_rows["output"])
        self.unique = list(dict.fromkeys(self.outputs))
        self.where = [self.unique.index(o) for o in self.outputs]
        self.seeds = cal.seeds()
        self.memo: dict[tuple, tuple[float, np.ndarray]] = {}
        self.history: list[dict] = []
        self.best = math.inf

    def _key(self, u: np.ndarray) -> tuple:
        return tuple(np.round(np.clip(u, 0.0, 1.0), 10))

    def many(self, points: list[np.ndarray], budget: bool = True, label: str = "") -> list[float]:
        """Objectives of several points, run in parallel; stops at the budget (raises _Budget
        after evaluating what fits)."""
        todo, seen = [], set()
        for u in points:
            k = self._key(u)
            if k not in self.memo and k not in seen:
                todo.append(u)
                seen.add(k)
        left = self.cal.config.max_evaluations - len(self.memo)
        over = budget and len(todo) > left
        if budget:
            todo = todo[: max(left, 0)]
        if todo:
            values = [self.cal.values_of(u) for u in todo]
            sims = experiment.evaluate_many(self.cal.scenario, values, self.unique, self.seeds, executor=self.executor, inputs=self.inputs)
            for u, vals, sim in zip(todo, values, sims):
                sim = sim[:, self.where]
                per_rep = objective(sim, self.cal.fit_rows)
                mean = float(per_rep.mean())
                self.memo[self._key(u)] = (mean, sim)
                self.best = min(self.best, mean)
                sd = float(per_rep.std(ddof=1)) if len(per_rep) > 1 else 0.0
                self.history.append({"evaluation": len(self.memo), "stage": label, **vals, "objective": mean, "objective_sd": sd})
                if self.progress:
                    self.progress(len(self.memo), self.cal.config.max_evaluations, self.best)
        if over:
            raise _Budget
        return [self.memo[self._key(u)][0] for u in points if self._key(u) in self.memo]

    def one(self, u: np.ndarray) -> float:
        return self.many([np.asarray(u, float)])[0]


def calibrate(
    cal: Calibration,
    executor=None,
    progress: Callable[[int, int, float], None] | None = None,
) -> CalibrationResult:
    """Fit the parameters of ``cal`` (method of its config); see the module docstring."""
    from simulation.inputs import load_inputs

    started = time.perf_counter()
    ev = _Evaluator(cal, executor, progress, load_inputs(cal.scenario))
    u0 = cal.unit_of(cal.start)
    start_objective = ev.many([u0], label="start")[0]
    posterior = particles = None
    if cal.config.method == "optimize":
        best_u, message = _optimize(cal, ev, u0)
        values = cal.values_of(best_u)
    else:
        values, posterior, particles, message = _abc(cal, ev)
    u = cal.unit_of(values)
    key = ev._key(u)
    if key not in ev.memo:  # the posterior mean of abc: one more evaluation, outside the budget
        ev.many([u], budget=False, label="posterior mean")
    fitted_objective, sim = ev.memo[key]
    fit = _fit_table(cal, sim)
    return CalibrationResult(
        cal,
        values,
        start_objective,
        fitted_objective,
        pd.DataFrame(ev.history),
        fit,
        sim,
        posterior,
        particles,
        round(time.perf_counter() - started, 1),
        message,
    )


def _optimize(cal: Calibration, ev: _Evaluator, u0: np.ndarray) -> tuple[np.ndarray, str]:
    from scipy.optimize import minimize
    from scipy.stats import qmc

    d = len(cal.bounds)
    n_design = cal.config.optimize.initial_design
    n_design = min(2 * d if n_design is None else n_design, max(cal.config.max_evaluations - 1, 0))
    try:
        if n_design:
            rng = np.random.default_rng(np.random.SeedSequence(cal.config.seed).spawn(2)[1])
            design = qmc.LatinHypercube(d=d, rng=rng).random(n_design)
            ev.many(list(design), label="design")
        best_u = np.array(min(ev.memo, key=lambda k: ev.memo[k][0]))
        method = "Nelder-Mead" if cal.config.optimize.optimizer == "nelder-mead" else "Powell"
        options = {"maxfev": cal.config.max_evaluations * 4, "xatol": 1e-3, "fatol": 1e-12}
        if method == "Nelder-Mead":
            simplex = [best_u]
            for i in range(d):
                step = np.zeros(d)
                step[i] = SIMPLEX_STEP if best_u[i] + SIMPLEX_STEP <= 1.0 else -SIMPLEX_STEP
                simplex.append(best_u + step)
            options["initial_simplex"] = np.array(simplex)
        else:
            options = {"maxfev": cal.config.max_evaluations * 4, "xtol": 1e-3, "ftol": 1e-9}
        result = minimize(lambda u: ev.one(u), best_u, method=method, bounds=[(0.0, 1.0)] * d, options=options)
        message = f"{method}: {result.message}"
    except _Budget:
        message = f"stopped after the budget of {cal.config.max_evaluations} evaluations"
    best = min(ev.memo, key=lambda k: ev.memo[k][0])
    return np.array(best), message


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order]) / w.sum()
    return float(np.interp(q, cw - w[order] / (2 * w.sum()), x[order]))


def _abc(cal: Calibration, ev: _Evaluator):
    """Adaptive population Monte Carlo ABC (Lenormand, Jabot and Deffuant 2013) on [0, 1]^d."""
    from scipy.stats import multivariate_normal

    a = cal.config.abc
    d = len(cal.bounds)
    rng = np.random.default_rng(np.random.SeedSequence(cal.config.seed).spawn(2)[1])
    n_keep = max(2, int(round(a.keep * a.particles)))
    records, message = [], ""
    u = rng.random((a.particles, d))
    try:
        dist = np.array(ev.many(list(u), label="abc generation 0"))
    except _Budget:
        u = u[: len(ev.memo) - 1]
        dist = np.array([ev.memo[ev._key(x)][0] for x in u])
        message = "budget used up in the first generation: the posterior is the best particles of a prior sample"
    records += [{"generation": 0, **cal.values_of(x), "distance": dd} for x, dd in zip(u, dist)]
    order = np.argsort(dist)[: min(n_keep, len(dist))]
    kept_u, kept_d, kept_w = u[order], dist[order], np.ones(len(order))
    eps = float(kept_d.max())
    generation = 0
    while not message:
        generation += 1
        w = kept_w / kept_w.sum()
        cov = 2.0 * np.atleast_2d(np.cov(kept_u.T, aweights=w)) + 1e-10 * np.eye(d)
        n_new = a.particles - len(kept_u)
        new = []
        while len(new) < n_new:
            j = rng.choice(len(kept_u), p=w)
            x = rng.multivariate_normal(kept_u[j], cov)
            if np.all((x >= 0.0) & (x <= 1.0)):
                new.append(x)
        new = np.array(new)
        try:
            new_d = np.array(ev.many(list(new), label=f"abc generation {generation}"))
        except _Budget:
            done = [x for x in new if ev._key(x) in ev.memo]
            new = np.array(done).reshape(-1, d)
            new_d = np.array([ev.memo[ev._key(x)][0] for x in new])
            message = f"stopped after the budget of {cal.config.max_evaluations} evaluations (generation {generation})"
        if len(new):
            kernel = np.array([multivariate_normal.pdf(new, mean=m, cov=cov) for m in kept_u]).reshape(len(kept_u), len(new))
            new_w = 1.0 / (w @ kernel)
            records += [{"generation": generation, **cal.values_of(x), "distance": dd} for x, dd in zip(new, new_d)]
            acceptance = float(np.mean(new_d < eps))
            all_u, all_d = np.vstack([kept_u, new]), np.concatenate([kept_d, new_d])
            all_w = np.concatenate([kept_w / kept_w.sum() * len(kept_w), new_w / new_w.sum() * len(new_w)])
            order = np.argsort(all_d)[:n_keep]
            kept_u, kept_d, kept_w = all_u[order], all_d[order], all_w[order]
            eps = float(kept_d.max())
            if acceptance < a.min_acceptance and not message:
                message = f"converged: acceptance {acceptance:.2f} below {a.min_acceptance} (generation {generation})"
    w = kept_w / kept_w.sum()
    rows = []
    for i, name in enumerate(cal.bounds):
        lo, hi = cal.bounds[name]
        x = lo + kept_u[:, i] * (hi - lo)
        mean = float(np.sum(w * x))
        rows.append(
            {
                "parameter": name,
                "mean": mean,
                "sd": float(np.sqrt(np.sum(w * (x - mean) ** 2))),
                "p5": _weighted_quantile(x, w, 0.05),
                "median": _weighted_quantile(x, w, 0.5),
                "p95": _weighted_quantile(x, w, 0.95),
                "lower": lo,
                "upper": hi,
            }
        )
    posterior = pd.DataFrame(rows)
    particles = pd.DataFrame(records)
    kept_keys = {ev._key(x) for x in kept_u}
    particles["kept"] = [ev._key(cal.unit_of({n: r[n] for n in cal.bounds})) in kept_keys for _, r in particles.iterrows()]
    weights = {ev._key(x): float(wi) for x, wi in zip(kept_u, w)}
    particles["weight"] = [weights.get(ev._key(cal.unit_of({n: r[n] for n in cal.bounds})), 0.0) for _, r in particles.iterrows()]
    values = dict(zip(posterior["parameter"], posterior["mean"]))
    return values, posterior, particles, message


def error_columns(observed_values: np.ndarray, sim: np.ndarray) -> dict[str, np.ndarray]:
    """Observed against simulated, per observation; ``sim``: (replications, observations):
    observed, simulated (the mean over replications), its range, error and relative error."""
    mean = sim.mean(axis=0)
    return {
        "observed": observed_values,
        "simulated": mean,
        "simulated_min": sim.min(axis=0),
        "simulated_max": sim.max(axis=0),
        "error": mean - observed_values,
        "relative_error": (mean - observed_values) / np.abs(observed_values),
    }


def _fit_table(cal: Calibration, sim: np.ndarray) -> pd.DataFrame:
    rows = cal.fit_rows
    out = rows[["target", "series", "area", "group", "date", "year", "weight"]].assign(
        **error_columns(rows["value"].to_numpy(float), sim), source=rows["source"], output=rows["output"]
    )
    return out.reset_index(drop=True)


# ---- outputs -----------------------------------------------------------------------------------
def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: float, integer: bool) -> str:
    if integer:
        return str(int(round(value)))
    return repr(float(f"{value:.6g}"))


def calibrated_toml(result: CalibrationResult, out_dir: Path, command: str) -> str:
    """The text of calibrated.toml: extends the scenario (path relative to ``out_dir``) and sets
    only the fitted values, with a comment naming the config, the date and the fit."""
    cal = result.calibration
    base = cal.base
    extends = os.path.relpath(cal.scenario_path, Path(out_dir).resolve()).replace(os.sep, "/")
    how = "posterior mean (ABC)" if cal.config.method == "abc" else "best point"
    lines = [
        f"# Calibrated by `{command}` on {date.today().isoformat()}",
        f"# config: {cal.path}",
        f"# method {cal.config.method} ({result.message}); {len(result.evaluations)} points x {cal.config.replications} replications, seed {cal.config.seed}",
        f"# objective (weighted mean squared relative error, mean over replications): start {result.start_objective:.6g}, fitted {result.fitted_objective:.6g}",
        f"# values: the {how}; fitted on {len(cal.fit_rows)} observations" + (f" up to {cal.until}" if cal.until else ""),
        f"extends = {json.dumps(extends, ensure_ascii=False)}",
        f"name = {json.dumps((base.name + '_calibrated')[:80])}",
        f"description = {json.dumps('Calibrated: ' + base.name + ' with ' + cal.path.name, ensure_ascii=False)}",
    ]
    tables: dict[str, list[str]] = {}
    for name, value in result.values.items():
        *table, key = name.split(".")
        integer = isinstance(dict(experiment._walk(base, ""))[name], int)
        tables.setdefault(".".join(_toml_key(t) for t in table), []).append(f"{_toml_key(key)} = {_toml_value(value, integer)}")
    for table, entries in tables.items():
        lines.append("")
        if table:
            lines.append(f"[{table}]")
        lines.extend(entries)
    return "\n".join(lines) + "\n"


NEAR_BOUND = 0.02  # a fitted value this close to a bound (share of the range) is flagged


def parameters_table(result: CalibrationResult) -> pd.DataFrame:
    """Bounds, start and fitted value per parameter; ``near_bound`` flags a fit within 2 % of the
    range from a bound (the bound, not the data, may then decide the value: widen it or rethink)."""
    cal = result.calibration
    rows = [
        {
            "parameter": n,
            "lower": lo,
            "upper": hi,
            "start": cal.start[n],
            "fitted": result.values[n],
            "near_bound": min(result.values[n] - lo, hi - result.values[n]) <= NEAR_BOUND * (hi - lo),
        }
        for n, (lo, hi) in cal.bounds.items()
    ]
    out = pd.DataFrame(rows)
    if result.posterior is not None:
        out = out.merge(result.posterior[["parameter", "sd", "p5", "median", "p95"]], on="parameter")
    return out


def write_outputs(result: CalibrationResult, out_dir: Path, command: str, figures: bool = True) -> Path:
    """Write every calibration output into ``out_dir`` (replaced atomically)."""
    from simulation.outputs import atomic_directory

    with atomic_directory(Path(out_dir)) as tmp:
        write_calibration_files(result, tmp, Path(out_dir), command, figures)
        (tmp / "manifest.json").write_text(
            json.dumps(manifest(result, command), indent=2, ensure_ascii=False, default=str), encoding="utf-8"
        )
    return Path(out_dir)


def write_calibration_files(result: CalibrationResult, tmp: Path, final: Path, command: str, figures: bool = True) -> list[Path]:
    """calibrated.toml, the CSV tables, figures and fit_report.html into ``tmp`` (renamed to
    ``final`` by the caller); returns the figures."""
    (tmp / "calibrated.toml").write_text(calibrated_toml(result, final, command), encoding="utf-8")
    result.fit.to_csv(tmp / "fit.csv", index=False)
    parameters_table(result).to_csv(tmp / "parameters.csv", index=False)
    result.evaluations.to_csv(tmp / "evaluations.csv", index=False)
    if result.particles is not None:
        result.particles.to_csv(tmp / "particles.csv", index=False)
    pictures = []
    if figures:
        for target, rows in result.fit.groupby("target"):
            t = result.calibration.config.targets[target]
            pictures.append(plot_observed_simulated(rows, tmp / f"fit_{target:02d}_{t.series}.png", f"Target {target}: {t.series}"))
        pictures.append(plot_convergence(result.evaluations, tmp / "convergence.png"))
        if result.particles is not None:
            pictures.append(plot_posterior(result.particles, list(result.calibration.bounds), tmp / "posterior.png"))
    (tmp / "fit_report.html").write_text(fit_report(result, pictures, command), encoding="utf-8")
    return pictures


def manifest(result: CalibrationResult, command: str) -> dict:
    from simulation.runner import package_versions

    cal = result.calibration
    return {
        "command": command,
        "config_file": str(cal.path),
        "config": cal.config.model_dump(mode="json"),
        "scenario_file": str(cal.scenario_path),
        "scenario": cal.scenario.model_dump(mode="json"),
        "model_seeds": cal.seeds(),
        "fit_until": cal.until,
        "values": result.values,
        "objective": {"start": result.start_objective, "fitted": result.fitted_objective},
        "evaluations": len(result.evaluations),
        "message": result.message,
        "dropped_targets": cal.dropped_targets,
        "versions": package_versions(),
        "input_data_sha256": cal.input_files,
        "run_seconds": result.seconds,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# ---- report ------------------------------------------------------------------------------------
CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,th{text-align:left}img{max-width:100%}"
    ".bad{color:#a33}.good{color:#262}figure{margin:1em 0}"
)


def html_table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row):
            if isinstance(value, float):
                default = ",.0f" if abs(value) >= 1000 else ".4g"
                text = "–" if math.isnan(value) else format(value, formats.get(col, default))
            else:
                text = html.escape(str(value))
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_figure(path: Path) -> str:
    import base64

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}"><figcaption>{html.escape(Path(path).name)}</figcaption></figure>'


def html_document(title: str, sections: list[tuple[str, str, str]]) -> str:
    body = "\n".join(f'<section id="{sid}"><h2>{html.escape(h)}</h2>{inner}</section>' for sid, h, inner in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>\n'
        f"<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def sources_html(obs: pd.DataFrame, files: dict[str, str]) -> str:
    items = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in sorted(set(obs["source"])))
    notes = (
        "<p>City totals, Stadtteil totals and foreigners are register figures (main residence). Births are live births to "
        "mothers resident in Frankfurt, deaths those of residents (never the registry offices' registrations, which include "
        "non-residents). The age structure of 31 Dec 2023 is the official population on the census-2022 basis (749,596), "
        "while the register counted 770,166: only shares are compared. Half-year figures are compared with the simulated "
        "value between the two 31 Decembers around them.</p>"
    )
    inputs = "".join(f"<li><code>{html.escape(f)}</code></li>" for f in files)
    return f"{notes}<h3>Observed series from</h3><ul>{items}</ul><h3>Every input file read (SHA-256 in manifest.json)</h3><ul>{inputs}</ul>"


def fit_report(result: CalibrationResult, pictures: list[Path], command: str) -> str:
    cal = result.calibration
    c = cal.config
    setup = (
        f"<p>Command <code>{html.escape(command)}</code>; config <code>{html.escape(str(cal.path))}</code>; scenario "
        f"<code>{html.escape(str(cal.scenario_path))}</code> ({cal.scenario.base_year}–{cal.scenario.base_year + cal.scenario.horizon}, "
        f"areas {html.escape(str(cal.scenario.areas))}). Method <b>{c.method}</b>: {html.escape(result.message)}. "
        f"{len(result.evaluations)} parameter points, each run with the same {c.replications} model seeds (common random numbers; "
        f"seed {c.seed}), {result.seconds} s.</p>"
        f"<p>Objective (sum over targets of weight × mean squared relative error, mean over replications): "
        f"<b>{result.start_objective:.4g}</b> at the start, <b>{result.fitted_objective:.4g}</b> fitted.</p>"
    )
    if cal.until:
        setup += f"<p>Only observations up to {cal.until} were fitted.</p>"
    if cal.dropped_targets:
        setup += "<p>Targets without observations in the fitting period: " + html.escape("; ".join(cal.dropped_targets)) + "</p>"
    targets = pd.DataFrame(
        [
            {
                "target": i,
                "series": t.series,
                "area": str(t.area or "all"),
                "group": str(t.group or "all"),
                "years": str(t.years or "all"),
                "weight": t.weight,
                "observations": int((result.fit["target"] == i).sum()),
                "MAPE %": float(100 * result.fit.loc[result.fit["target"] == i, "relative_error"].abs().mean()),
            }
            for i, t in enumerate(c.targets)
        ]
    )
    fit = result.fit.assign(relative_error=100 * result.fit["relative_error"]).rename(columns={"relative_error": "error %"})
    fit = fit[["target", "series", "area", "group", "date", "observed", "simulated", "simulated_min", "simulated_max", "error %"]]
    sections = [
        ("setup", "What was fitted", setup),
        ("parameters", "Parameters", html_table(parameters_table(result))),
        ("targets", "Targets", html_table(targets)),
        ("fit", "Observed and simulated", html_table(fit, {"error %": "+.2f"})),
        ("figures", "Figures", "".join(html_figure(p) for p in pictures)),
        ("sources", "Data sources", sources_html(cal.fit_rows, cal.input_files)),
    ]
    return html_document("Calibration report", sections)


# ---- figures (matplotlib, Agg backend; imported only when figures are drawn) -------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _decimal_year(dates: pd.Series) -> np.ndarray:
    d = pd.to_datetime(dates)
    return (d.dt.year + (d.dt.day_of_year - 1) / 365.0).to_numpy(float)


def plot_observed_simulated(rows: pd.DataFrame, path: Path, title: str, cut: int | None = None) -> Path:
    """Observed (dots) against simulated (line, range over replications) for the rows of one
    series: over time for a few areas or groups; as bars for age groups; as a scatter with the
    diagonal for many areas. ``cut``: the last fitted year (a dashed line; later = held out)."""
    plt = _pyplot()
    rows = rows.sort_values("date")
    combos = list(dict.fromkeys(zip(rows["area"], rows["group"])))
    share = rows["series"].iloc[0].startswith("age_share")
    scale = 100.0 if share else 1.0
    unit = "%" if share else ""
    if share:
        fig, ax = plt.subplots(figsize=(9, 4.8))
        x = np.arange(len(rows))
        ax.bar(x - 0.2, rows["observed"] * scale, width=0.4, label="observed", color="0.6")
        ax.bar(x + 0.2, rows["simulated"] * scale, width=0.4, label="simulated (mean)", color="tab:blue")
        ax.errorbar(
            x + 0.2,
            rows["simulated"] * scale,
            yerr=[(rows["simulated"] - rows["simulated_min"]) * scale, (rows["simulated_max"] - rows["simulated"]) * scale],
            fmt="none",
            ecolor="k",
            capsize=2,
        )
        ax.set_xticks(x)
        ax.set_xticklabels([f"{g}\n{d[:4]}" for g, d in zip(rows["group"], rows["date"])], fontsize=7)
        ax.set_ylabel(f"share of residents ({unit})")
    elif len(combos) <= 8:
        fig, ax = plt.subplots(figsize=(9, 4.8))
        for i, (area, group) in enumerate(combos):
            sub = rows[(rows["area"] == area) & (rows["group"] == group)]
            # events are counted over the calendar year: plotted at the year; stocks at their date
            flow = observed.SERIES[sub["series"].iloc[0]].flow
            t = sub["year"].to_numpy(float) if flow else _decimal_year(sub["date"])
            color = f"C{i}"
            label = area if group == "all" else f"{area} {group}"
            ax.plot(t, sub["observed"], "o", color=color, label=f"{label}: observed")
            ax.plot(t, sub["simulated"], "-x", color=color, alpha=0.8, label=f"{label}: simulated")
            ax.fill_between(t, sub["simulated_min"], sub["simulated_max"], color=color, alpha=0.15)
        ax.set_xlabel("calendar year" if observed.SERIES[rows["series"].iloc[0]].flow else "date (31 Dec = end of the year)")
        ax.set_ylabel(f"{rows['series'].iloc[0]} ({observed.SERIES[rows['series'].iloc[0]].unit})")
    else:
        fig, ax = plt.subplots(figsize=(7, 6.5))
        held = rows["year"] > cut if cut is not None else pd.Series(False, index=rows.index)
        for mask, label, color in ((~held, "fitted" if cut is not None else "observations", "tab:blue"), (held, "held out", "tab:red")):
            if mask.any():
                sub = rows[mask]
                ax.errorbar(
                    sub["observed"],
                    sub["simulated"],
                    yerr=[sub["simulated"] - sub["simulated_min"], sub["simulated_max"] - sub["simulated"]],
                    fmt="o",
                    color=color,
                    ms=4,
                    capsize=2,
                    label=label,
                )
        lo, hi = float(rows[["observed", "simulated_min"]].min().min()), float(rows[["observed", "simulated_max"]].max().max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="simulated = observed")
        if len(rows) <= 40:
            for r in rows.itertuples():
                ax.annotate(f"{r.area} {r.date[:4]}", (r.observed, r.simulated), fontsize=6, alpha=0.7)
        ax.set_xlabel("observed")
        ax.set_ylabel("simulated (mean over replications)")
    if cut is not None and not share and len(combos) <= 8:
        x_cut = cut + 0.5 if observed.SERIES[rows["series"].iloc[0]].flow else cut + 1
        ax.axvline(x_cut, color="k", ls=":", lw=1)
        ax.text(x_cut, ax.get_ylim()[1], " held out →", va="top", fontsize=8)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_convergence(evaluations: pd.DataFrame, path: Path) -> Path:
    """Objective of every evaluated point and the best so far (log scale)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    y = evaluations["objective"].to_numpy(float)
    ax.semilogy(evaluations["evaluation"], np.maximum(y, 1e-12), ".", color="0.5", label="evaluated point")
    ax.semilogy(evaluations["evaluation"], np.maximum(np.minimum.accumulate(y), 1e-12), "-", color="tab:red", label="best so far")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("objective")
    ax.set_title("Objective by evaluation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_posterior(particles: pd.DataFrame, names: list[str], path: Path) -> Path:
    """ABC: weighted histogram of the kept particles per parameter, over the prior's range."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.4), squeeze=False)
    kept = particles[particles["kept"]]
    for ax, name in zip(axes[0], names):
        ax.hist(particles[name], bins=15, color="0.8", label="all particles")
        ax.hist(kept[name], bins=15, weights=kept["weight"] * len(kept), color="tab:blue", alpha=0.7, label="posterior (kept, weighted)")
        ax.set_title(name, fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
