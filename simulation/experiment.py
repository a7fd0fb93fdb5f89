"""Experiments over scenario parameters: set numeric parameters by name, read named scalar
outputs of a run, and evaluate many (parameter point, seed) pairs, in parallel if wanted.

``sozialraum calibrate``, ``sozialraum hindcast`` and ``sozialraum sensitivity`` are built on it.

Parameters are dotted paths to numeric fields of the scenario: ``fertility.factor``,
``in_migration.persons_per_year``, ``volunteering.relative_propensity.foreign`` (dict entry),
``offerings.0.capacity`` (list entry). ``numeric_parameters(scenario)`` lists them all. Setting a
value validates the whole scenario again, so the scenario's bounds apply; integer fields take
the value rounded to the nearest integer.

Output names (``output_value``), with AREA a Stadtteil, ``A+B`` (sum of Stadtteile),
``sozialrathaus:NAME`` or omitted (= every area of the run), and ``@WHEN`` a year (31 Dec, or
the events of that calendar year), a date ``YYYY-MM-DD`` (stocks only: linear between the two
31 Decembers around it) or omitted (= the last year of the run):

- ``residents[:AREA][@WHEN]`` persons on 31 Dec; ``residents_age:LO-HI[:AREA]`` those aged LO..HI
  (``75+``: 75 and older); ``residents_mb:ORIGIN[:AREA]`` those with migration background ORIGIN
  (``none``, ``german_mb``, ``foreign``)
- ``share_age:LO-HI[:AREA]``, ``share_mb:ORIGIN[:AREA]`` the same as a share of the residents (0..1)
- ``mean_age[:AREA]`` mean age in exact years (completed years + 0.5, as official averages count)
- ``households[:AREA]``, ``dwellings[:AREA]``, ``vacant[:AREA]`` households and dwellings on 31 Dec
- ``births``, ``deaths``, ``immigrants``, ``emigrants``, ``moves_in``, ``moves_out``,
  ``displaced`` (households) ``[:AREA][@YEAR]``: what happened during the year
- ``unmet:SERVICE[:AREA][:DIMENSION=GROUP]``, ``demand:SERVICE[:AREA]``, ``served:…``,
  ``eligible:…``, ``waiting:…`` (persons, by the residents' home area; the group form reads the
  services_unmet table, e.g. ``unmet:kita_u3:migration_background=foreign@2030``)
- ``cohesion:INDICATOR[:AREA]`` an indicator of the cohesion table (AREA a Stadtteil or
  ``sozialrathaus:NAME``; omitted = the city level of the run); ``dissimilarity[:AREA]`` is
  ``cohesion:dissimilarity_migration`` (dissimilarity by migration background)

Seeds: ``evaluate`` runs the model once per seed with ``simulation.runner.run_scenario``; callers
pass the same seeds at every parameter point (common random numbers). A run depends only on the
scenario, the parameter values and the seed, never on the executor or the number of workers.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from simulation.errors import InputError
from simulation.scenario import Scenario
from simulation.vocabulary import MAX_AGE, ORIGINS, UNMET_GROUPS

# Top-level fields that describe the run rather than a rate or a lever: never experiment parameters.
STRUCTURAL = ("base_year", "horizon", "seed")

OUTPUT_FORMS = (
    "residents[:AREA][@WHEN], residents_age:LO-HI[:AREA][@WHEN], residents_mb:ORIGIN[:AREA][@WHEN], "
    "share_age:LO-HI[:AREA][@WHEN], share_mb:ORIGIN[:AREA][@WHEN], mean_age[:AREA][@WHEN], households|dwellings|vacant[:AREA][@WHEN], "
    "births|deaths|immigrants|emigrants|moves_in|moves_out|displaced[:AREA][@YEAR], "
    "unmet|demand|served|eligible|waiting:SERVICE[:AREA][@YEAR], unmet:SERVICE[:AREA]:DIMENSION=GROUP[@YEAR], "
    "cohesion:INDICATOR[:AREA][@YEAR], dissimilarity[:AREA][@YEAR]; AREA = Stadtteil, A+B or sozialrathaus:NAME; "
    "WHEN = YEAR or YYYY-MM-DD; omitted AREA = all areas of the run, omitted year = last year"
)


# ---- parameters ------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _walk(value: Any, prefix: str):
    """(path, value) of every numeric leaf below ``value`` (models, dicts and lists)."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), f"{prefix}{name}.")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}{key}.")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{prefix}{i}.")
    elif _is_number(value):
        yield prefix[:-1], value


def numeric_parameters(scenario: Scenario) -> list[str]:
    """Every dotted path of a numeric field that ``set_parameters`` can set (in schema order),
    apart from the structural ``base_year``, ``horizon`` and ``seed``."""
    return [path for path, _ in _walk(scenario, "") if path.split(".")[0] not in STRUCTURAL]


def parameter_value(scenario: Scenario, path: str) -> float:
    """The current value of a numeric parameter (InputError if the path is not one)."""
    values = dict(_walk(scenario, ""))
    if path not in values or path.split(".")[0] in STRUCTURAL:
        raise _unknown_parameter(scenario, path)
    return float(values[path])


def _unknown_parameter(scenario: Scenario, path: str) -> InputError:
    return InputError(scenario.source, path, "not a numeric parameter of the scenario", ", ".join(numeric_parameters(scenario)))


def set_parameters(scenario: Scenario, values: Mapping[str, float]) -> Scenario:
    """A new, validated scenario with the numeric fields at ``values`` (dotted paths).

    The scenario's own bounds apply (the whole scenario is validated again); integer fields take
    the value rounded to the nearest integer. Raises InputError(scenario file, path, problem,
    allowed) for an unknown or non-numeric path, a non-finite value or a value out of range.
    """
    if not values:
        return scenario
    known = dict(_walk(scenario, ""))
    raw = scenario.model_dump(mode="json")  # tuples become lists, so every leaf can be set
    for path, value in values.items():
        if path not in known or path.split(".")[0] in STRUCTURAL:
            raise _unknown_parameter(scenario, path)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(scenario.source, path, f"value {value!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(scenario.source, path, f"value {value!r} is not a finite number")
        keys = path.split(".")
        node = raw
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = int(keys[-1]) if isinstance(node, list) else keys[-1]
        node[last] = int(round(value)) if isinstance(known[path], int) else value
    try:
        out = Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "constrained-")))
        path = next((p for p in values if field.startswith(p) or p.startswith(field)), field) if field else next(iter(values))
        allowed = err["msg"].replace("Input should be ", "") if err["type"].startswith(("greater", "less")) else None
        problem = f"value {err.get('input')!r} out of range" if allowed else err["msg"].removeprefix("Value error, ")
        raise InputError(scenario.source, path, problem, allowed) from None
    out._source = scenario.source
    return out


def _same(a: Any, b: Any) -> bool:
    """Structural equality of input objects (dataclasses, dicts, sequences, arrays, frames)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, pd.DataFrame | pd.Series):
        return a.equals(b)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a) if not f.name.startswith("_"))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def inputs_shareable(scenario: Scenario, points: Sequence[Mapping[str, float]], inputs) -> bool:
    """Whether the inputs of ``scenario`` serve every point: true when the parameters the points
    change are read only by the model, not while the inputs are built. Checked, not assumed: the
    inputs are built once more with every changed parameter at a value of the points that differs
    from the scenario's, and compared with ``inputs``."""
    from simulation.inputs import load_inputs

    changed: dict[str, float] = {}
    for point in points:
        for path, value in point.items():
            if path not in changed and float(value) != parameter_value(scenario, path):
                changed[path] = value
    if not changed:
        return True
    key = (scenario.model_dump_json(), tuple(sorted(changed)))
    if key not in _SHAREABLE:
        _SHAREABLE[key] = _same(load_inputs(set_parameters(scenario, changed)), inputs)
    return _SHAREABLE[key]


_SHAREABLE: dict[tuple, bool] = {}  # (scenario, changed paths) -> inputs_shareable, per process


# ---- output names ----------------------------------------------------------------------------
STOCKS = ("residents", "households", "dwellings", "vacant", "mean_age")
AGE_KINDS = ("residents_age", "share_age")
ORIGIN_KINDS = ("residents_mb", "share_mb")
FLOWS = {
    "births": "births",
    "deaths": "deaths",
    "immigrants": "immigrants",
    "emigrants": "emigrants",
    "moves_in": "moves_in",
    "moves_out": "moves_out",
    "displaced": "displaced_households",
}
SERVICE_KINDS = ("unmet", "demand", "served", "eligible", "waiting")
COHESION_KINDS = ("cohesion", "dissimilarity")
UNMET_DIMENSIONS = {d: [g for dd, g in UNMET_GROUPS if dd == d] for d, _ in UNMET_GROUPS}


@dataclass(frozen=True)
class OutputSpec:
    """A parsed output name (see the module docstring)."""

    name: str
    kind: str
    arg: str | None  # service, indicator, age range or origin
    area: str | None  # as written; None = the whole run
    group: tuple[str, str] | None  # (dimension, group) for unmet by group
    year: int | None  # None = last year
    fraction: float  # share of the year elapsed at the date (1.0 = 31 Dec)
    ages: tuple[int, int] | None = None

    @property
    def is_flow(self) -> bool:
        return self.kind in FLOWS or self.kind in SERVICE_KINDS or self.kind in COHESION_KINDS


def _bad(name: str, problem: str, allowed: str = OUTPUT_FORMS) -> InputError:
    """An error about output ``name``: its field is the name, so the problem does not repeat it."""
    return InputError(None, name, problem, allowed)


def _parse_when(name: str, when: str | None) -> tuple[int | None, float]:
    if when is None:
        return None, 1.0
    if re.fullmatch(r"\d{4}", when):
        return int(when), 1.0
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", when):
        try:
            d = date.fromisoformat(when)
        except ValueError:
            raise _bad(name, f"'{when}' is not a date") from None
        days = (date(d.year, 12, 31) - date(d.year, 1, 1)).days + 1
        return d.year, (d - date(d.year, 1, 1)).days / (days - 1)
    raise _bad(name, f"'@{when}' is neither a year nor a date", "@YEAR or @YYYY-MM-DD")


def _parse_ages(name: str, text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,3})(?:-(\d{1,3})|(\+))", text)
    if not m:
        raise _bad(name, f"age range '{text}' not understood", "LO-HI (inclusive) or LO+ (LO and older), ages 0..100")
    lo = int(m.group(1))
    hi = MAX_AGE if m.group(3) else int(m.group(2))
    if not 0 <= lo <= hi <= MAX_AGE:
        raise _bad(name, f"age range '{text}' not understood", "LO-HI with 0 <= LO <= HI <= 100, or LO+")
    return lo, hi


def parse_output(name: str) -> OutputSpec:
    """Parse an output name (syntax in the module docstring); InputError if it is not one."""
    if not isinstance(name, str) or not name.strip():
        raise _bad(str(name), "empty output name")
    body, _, when = name.strip().partition("@")
    year, fraction = _parse_when(name, when or None) if "@" in name else (None, 1.0)
    parts = body.split(":")
    kind, rest = parts[0], parts[1:]
    arg = group = ages = None
    if kind in AGE_KINDS + ORIGIN_KINDS + SERVICE_KINDS or kind == "cohesion":
        if not rest or not rest[0]:
            raise _bad(name, f"'{kind}' needs an argument ({kind}:…)")
        arg, rest = rest[0], rest[1:]
        if kind in AGE_KINDS:
            ages = _parse_ages(name, arg)
        elif kind in ORIGIN_KINDS and arg not in ORIGINS:
            raise _bad(name, f"unknown migration background '{arg}'", ", ".join(ORIGINS))
    elif kind == "dissimilarity":
        arg = "dissimilarity_migration"
    elif kind not in STOCKS and kind not in FLOWS:
        raise _bad(name, f"unknown output '{kind}'")
    if kind == "unmet" and rest and "=" in rest[-1]:
        dim, _, grp = rest[-1].partition("=")
        if grp not in UNMET_DIMENSIONS.get(dim, []):
            allowed = "; ".join(f"{d}={'|'.join(g)}" for d, g in UNMET_DIMENSIONS.items())
            raise _bad(name, f"unknown group '{rest[-1]}'", allowed)
        group, rest = (dim, grp), rest[:-1]
    area = ":".join(rest) or None
    if area is not None and any("=" in p for p in rest):
        raise _bad(name, "a group (DIMENSION=GROUP) is only possible for unmet:SERVICE")
    spec = OutputSpec(name, kind, arg, area, group, year, fraction, ages)
    if fraction < 1.0 and spec.is_flow:
        raise _bad(name, "events, services and indicators refer to a whole year: use @YEAR, not a date")
    return spec


def _resolve_area(spec: OutputSpec, area_names: list[str], sozialrathaus_of: Mapping[str, str]) -> list[str] | None:
    """The run's areas an AREA spec means (None = all areas of the run)."""
    if spec.area is None:
        return None
    if spec.area.startswith("sozialrathaus:"):
        district = spec.area.split(":", 1)[1]
        chosen = [a for a in area_names if sozialrathaus_of.get(a) == district]
        if not chosen:
            districts = sorted({sozialrathaus_of[a] for a in area_names})
            raise _bad(
                spec.name, f"no area of this run lies in Sozialrathaus '{district}'", "sozialrathaus:" + ", sozialrathaus:".join(districts)
            )
        return chosen
    parts = spec.area.split("+")
    missing = [p for p in parts if p not in area_names]
    if missing:
        raise _bad(spec.name, f"area '{missing[0]}' is not among this run's areas", ", ".join(area_names))
    if spec.kind in COHESION_KINDS and len(parts) > 1:
        raise _bad(
            spec.name, "indicators exist per Stadtteil or Sozialrathaus, not for sums of areas", "one Stadtteil or sozialrathaus:NAME"
        )
    return parts


def _check_year(spec: OutputSpec, first: int, last: int) -> int:
    """The year a spec reads (last year if omitted); InputError outside the run."""
    year = last if spec.year is None else spec.year
    lo = first + 1 if spec.kind in FLOWS else first
    if spec.fraction < 1.0:
        lo = first + 1  # a date inside year Y needs 31 Dec of Y-1 and Y
    if not lo <= year <= last:
        what = "events of" if spec.kind in FLOWS else "values for"
        raise _bad(spec.name, f"the run has no {what} {spec.year}", f"{lo}..{last}")
    return year


def check_outputs(
    scenario: Scenario, outputs: Sequence[str], area_names: list[str] | None = None, sozialrathaus_of: Mapping[str, str] | None = None
) -> None:
    """Check output names against the run's areas and years before running (InputError if wrong).
    Areas default to those the scenario selects. Service and indicator names are checked when the
    run's tables are read."""
    if area_names is None or sozialrathaus_of is None:
        from simulation import data
        from simulation.inputs import select_areas

        table = data.load_areas(Path(scenario.data_dir) if scenario.data_dir else data.DEFAULT_DATA_DIR)
        area_names = select_areas(scenario.areas, table, scenario.source)
        sozialrathaus_of = table.sozialrathaus_of()
    first, last = scenario.base_year, scenario.base_year + scenario.horizon
    for name in outputs:
        spec = parse_output(name)
        _resolve_area(spec, area_names, sozialrathaus_of)
        _check_year(spec, first, last)


def check_output(scenario: Scenario, name: str) -> None:
    """Check one output name against the scenario's areas and years (InputError if wrong)."""
    check_outputs(scenario, [name])


class RunExtract:
    """Compact arrays of a run's tables, built once, from which any output name is read."""

    def __init__(self, tables: Mapping[str, pd.DataFrame]):
        self.tables = tables
        areas = tables["areas"]
        first = areas[areas["year"] == areas["year"].min()]
        self.area_names = list(first["area"])
        self.sozialrathaus_of = dict(zip(first["area"], first["sozialrathaus"]))
        self.index = {a: i for i, a in enumerate(self.area_names)}
        self.years = sorted(int(y) for y in areas["year"].unique())
        self.first, self.last = self.years[0], self.years[-1]

    def _cube(self, frame: pd.DataFrame, columns: Sequence[str], years: Sequence[int]) -> np.ndarray:
        """(years, areas, columns) sums of ``columns`` by year and area."""
        out = np.zeros((len(years), len(self.area_names), len(columns)))
        if len(frame):
            yi = frame["year"].to_numpy(int) - years[0]
            ai = frame["area"].map(self.index).to_numpy(int)
            for j, c in enumerate(columns):
                np.add.at(out[:, :, j], (yi, ai), frame[c].to_numpy(float))
        return out

    @cached_property
    def population(self) -> np.ndarray:
        """persons by (year, area, age, origin)."""
        pop = self.tables["population"]
        out = np.zeros((len(self.years), len(self.area_names), MAX_AGE + 1, len(ORIGINS)))
        origin = pd.Categorical(pop["migration_background"], categories=list(ORIGINS)).codes
        cells = (pop["year"].to_numpy(int) - self.first, pop["area"].map(self.index).to_numpy(int), pop["age"].to_numpy(int), origin)
        np.add.at(out, cells, pop["persons"].to_numpy(float))
        return out

    @cached_property
    def events(self) -> np.ndarray:
        cols = [c for c in FLOWS.values() if c != "displaced_households"]
        return self._cube(self.tables["events"], cols, self.years)

    @cached_property
    def housing(self) -> np.ndarray:
        return self._cube(self.tables["housing"], ["households", "dwellings", "vacant", "displaced_households"], self.years)

    @cached_property
    def households(self) -> np.ndarray:
        return self._cube(self.tables["households"], ["households"], self.years)[..., 0]

    # ---- values ----
    def _stock(self, spec: OutputSpec, rows: np.ndarray | slice, y: int) -> float:
        i = y - self.first
        if spec.kind in ("residents", "mean_age") or spec.kind in AGE_KINDS + ORIGIN_KINDS:
            pop = self.population[i, rows].sum(axis=0)  # (age, origin)
            total = pop.sum()
            if spec.kind == "residents":
                return float(total)
            if spec.kind == "mean_age":
                by_age = pop.sum(axis=1)
                return float((by_age * (np.arange(MAX_AGE + 1) + 0.5)).sum() / total) if total else math.nan
            if spec.kind in AGE_KINDS:
                part = pop[spec.ages[0] : spec.ages[1] + 1].sum()
            else:
                part = pop[:, ORIGINS.index(spec.arg)].sum()
            if spec.kind.startswith("share"):
                return float(part / total) if total else math.nan
            return float(part)
        if spec.kind == "households":
            return float(self.households[i, rows].sum())
        column = {"dwellings": 1, "vacant": 2}[spec.kind]
        return float(self.housing[i, rows, column].sum())

    def _service(self, spec: OutputSpec, areas: list[str] | None, year: int) -> float:
        table = "services_unmet" if spec.group else "services"
        frame = self.tables[table]
        services = list(frame["service"].unique())
        if spec.arg not in services:
            raise _bad(spec.name, f"unknown service '{spec.arg}'", ", ".join(services))
        mask = (frame["year"] == year) & (frame["service"] == spec.arg)
        if areas is not None:
            mask &= frame["area"].isin(areas)
        if spec.group:
            mask &= (frame["dimension"] == spec.group[0]) & (frame["group"] == spec.group[1])
            return float(frame.loc[mask, "unmet"].sum())
        return float(frame.loc[mask, spec.kind].sum())

    def _cohesion(self, spec: OutputSpec, year: int) -> float:
        frame = self.tables["cohesion"]
        if spec.area is None:
            level, area_mask = "city", frame["level"] == "city"
        elif spec.area.startswith("sozialrathaus:"):
            level = "sozialrathaus"
            area_mask = (frame["level"] == level) & (frame["sozialrathaus"] == spec.area.split(":", 1)[1])
        else:
            level, area_mask = "area", (frame["level"] == "area") & (frame["area"] == spec.area)
        at_level = frame[(frame["level"] == level) & (frame["year"] == year)]
        indicators = list(at_level["indicator"].unique())
        if spec.arg not in indicators:
            raise _bad(spec.name, f"no indicator '{spec.arg}' at the {level} level", ", ".join(indicators))
        rows = frame.loc[area_mask & (frame["year"] == year) & (frame["indicator"] == spec.arg), "value"]
        return float(rows.iloc[0]) if len(rows) else math.nan

    def value(self, name: str) -> float:
        spec = parse_output(name)
        areas = _resolve_area(spec, self.area_names, self.sozialrathaus_of)
        year = _check_year(spec, self.first, self.last)
        rows = slice(None) if areas is None else np.array([self.index[a] for a in areas])
        if spec.kind in COHESION_KINDS:
            return self._cohesion(spec, year)
        if spec.kind in SERVICE_KINDS:
            return self._service(spec, areas, year)
        if spec.kind in FLOWS:
            column = FLOWS[spec.kind]
            if column == "displaced_households":
                return float(self.housing[year - self.first, rows, 3].sum())
            return float(self.events[year - self.first, rows, list(FLOWS).index(spec.kind)].sum())
        value = self._stock(spec, rows, year)
        if spec.fraction < 1.0:  # a date inside the year: between 31 Dec of the year before and of the year
            value = (1.0 - spec.fraction) * self._stock(spec, rows, year - 1) + spec.fraction * value
        return value


def output_values(result, names: Sequence[str]) -> np.ndarray:
    """Named scalar outputs of one run (``RunResult`` or its ``tables`` dict), in order."""
    extract = RunExtract(getattr(result, "tables", result))
    return np.array([extract.value(n) for n in names], dtype=float)


def output_value(result, name: str) -> float:
    """A named scalar output of a run (syntax in the module docstring). Unknown name, area,
    service, indicator or a year outside the run -> InputError with the allowed forms."""
    return float(output_values(result, [name])[0])


# ---- evaluation ------------------------------------------------------------------------------
def _run_outputs(scenario_json: str, inputs_json: str, seed, outputs: tuple[str, ...]) -> np.ndarray:
    """One run's outputs. A top-level function with plain arguments, so any executor can ship it;
    each worker process reads the inputs once per distinct ``inputs_json`` (``cached_inputs``)."""
    from simulation.inputs import cached_inputs
    from simulation.runner import run_scenario

    scenario = Scenario.model_validate_json(scenario_json)
    result = run_scenario(scenario, seed=seed, inputs=cached_inputs(inputs_json))
    return output_values(result, outputs)


def _run_local(scenario: Scenario, inputs, seed, outputs: Sequence[str]) -> np.ndarray:
    from simulation.runner import run_scenario

    return output_values(run_scenario(scenario, seed=seed, inputs=inputs), outputs)


def _is_local(executor: Executor | None) -> bool:
    from simulation.ensemble import InProcessExecutor

    return executor is None or isinstance(executor, InProcessExecutor)


def _seed(seed):
    """Seeds are integers or ``numpy.random.SeedSequence`` objects (passed on unchanged)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(None, "seeds", f"seed {seed!r} is not a non-negative integer", "integers >= 0 or SeedSequence objects")
    return int(seed)


def evaluate_many(
    scenario: Scenario,
    points: Sequence[Mapping[str, float]],
    outputs: Sequence[str],
    seeds: Sequence[int],
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    inputs=None,
) -> np.ndarray:
    """Outputs at every parameter point and seed: array (len(points), len(seeds), len(outputs)).

    Every point runs with the same ``seeds`` (common random numbers). All points and output names
    are checked before the first run. With an executor the (point, seed) pairs run in parallel;
    the numbers do not depend on it. ``inputs`` (of ``scenario``; loaded here if not given) serve
    every point when the changed parameters are read only by the model (``inputs_shareable``);
    otherwise each point that changes a parameter gets inputs of its own.
    ``progress(done, total)`` is called after every run.
    """
    from simulation.inputs import load_inputs

    outputs = tuple(outputs)
    seeds = [_seed(s) for s in seeds]
    scenarios = [set_parameters(scenario, p) for p in points]
    base_inputs = inputs if inputs is not None else load_inputs(scenario)
    check_outputs(scenario, outputs, base_inputs.area_names, dict(zip(base_inputs.area_names, base_inputs.area_sozialrathaus)))
    shared = inputs_shareable(scenario, points, base_inputs)
    own = [not shared and any(float(v) != parameter_value(scenario, k) for k, v in p.items()) for p in points]
    out = np.full((len(points), len(seeds), len(outputs)), np.nan)
    total, done = len(points) * len(seeds), 0
    if progress:
        progress(0, total)
    if _is_local(executor):
        for i, (sc, separate) in enumerate(zip(scenarios, own)):
            point_inputs = load_inputs(sc) if separate else base_inputs
            for j, seed in enumerate(seeds):
                out[i, j] = _run_local(sc, point_inputs, seed, outputs)
                done += 1
                if progress:
                    progress(done, total)
        return out
    base_json = scenario.model_dump_json()
    futures = {}
    for i, (sc, separate) in enumerate(zip(scenarios, own)):
        sc_json = sc.model_dump_json()
        if separate:
            load_inputs(sc)  # input errors of this point here, before any worker starts
        for j, seed in enumerate(seeds):
            futures[executor.submit(_run_outputs, sc_json, sc_json if separate else base_json, seed, outputs)] = (i, j)
    for future in as_completed(futures):
        i, j = futures[future]
        out[i, j] = future.result()
        done += 1
        if progress:
            progress(done, total)
    return out


def evaluate(
    scenario: Scenario,
    values: Mapping[str, float],
    outputs: Sequence[str],
    seeds: Sequence[int],
    inputs=None,
    executor: Executor | None = None,
) -> np.ndarray:
    """Outputs of the scenario with parameters ``values``, once per seed: array
    (len(seeds), len(outputs)). See ``evaluate_many``."""
    return evaluate_many(scenario, [values], outputs, seeds, executor=executor, inputs=inputs)[0]
