"""Small ensembles for the workshop page: one district, a short horizon, a few replications.

One ``Engine`` per server process. It reads the district's inputs once (``load_inputs``) and
keeps a pool of worker processes, each of which reads them once too (``cached_inputs``) and runs
every lever scenario on them: the levers only add list entries that the model reads while it
runs (offerings, in-migration changes, volunteer programmes, housing projects), never while the
inputs are built (``tests/test_workshop.py`` checks that the inputs come out the same). The
scenario is checked against the inputs the way ``load_inputs`` checks it (areas, services,
offering sizes) before it runs.

Replication i of every scenario uses child i of ``SeedSequence(seed)`` (as ``sozialraum run
--replications`` does), so the baseline and a lever scenario share their random streams
(common random numbers) and a difference shows the levers, not chance. Finished replications
are kept per (scenario, years, i): the baseline runs once per horizon for every session, going
back to an earlier lever position costs nothing, and asking for more replications only runs the
new ones.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from simulation.ensemble import replication_seeds
from simulation.errors import InputError
from simulation.inputs import CityInputs, cached_inputs, check_offering_sizes, load_inputs
from simulation.metrics import METRIC_COLUMNS
from simulation.runner import run_scenario
from simulation.scenario import Scenario, check_references, load_scenario
from simulation.tables import summary_metrics
from simulation.vocabulary import CITY
from simulation.workshop.levers import Context

KEY = METRIC_COLUMNS[:-1]  # table, year, level, area, indicator
DESCRIPTIVE = {"name", "description", "description_de"}  # fields that do not change a run


WORKER_NICENESS = 5  # worker processes yield the CPU to the page's own process, which draws the answers
_YIELDED = False  # this process has lowered its priority (or is the page's own)


def _yield_to_the_page() -> None:
    """In a worker process (not the page's own): lower its priority once, so that the page stays
    quick to draw the first answer while the workers compute the rest."""
    global _YIELDED
    if not _YIELDED and mp.parent_process() is not None:
        os.nice(WORKER_NICENESS)
    _YIELDED = True


def replication(base_json: str, scenario_json: str, seed: int, index: int, years: int) -> pd.Series:
    """Replication ``index`` of a lever scenario of the district, run on the district's inputs
    (read once per worker process): its metrics as a Series indexed by ``KEY``. A top-level
    function with plain arguments, so that a process pool can ship it."""
    _yield_to_the_page()
    scenario = Scenario.model_validate_json(scenario_json)
    child = replication_seeds(seed, index + 1)[index]  # child i does not depend on how many are spawned
    result = run_scenario(scenario, seed=child, years=years, inputs=cached_inputs(base_json))
    metrics = summary_metrics(result.tables)
    return metrics.set_index(KEY)["value"]


@dataclass(frozen=True)
class Runs:
    """Replications of one scenario: one column per replication, rows indexed by ``KEY``."""

    values: pd.DataFrame
    seconds: float  # how long the page waited for them
    key: tuple = ()  # (scenario_key, years, n): the same key, the same values

    @property
    def n(self) -> int:
        return self.values.shape[1]

    @property
    def last_year(self) -> int:
        return int(self.values.index.get_level_values("year").max())


def band(values: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and the range (lowest to highest replication) along axis 1, NaN-aware: with a handful
    of replications the range is what the page can honestly show."""
    out = {k: np.full(len(values), np.nan) for k in ("mean", "low", "high")}
    finite = np.isfinite(values).any(axis=1)  # rows without any value (the base year's index) stay NaN
    if finite.any():
        v = values[finite]
        out["mean"][finite] = np.nanmean(v, axis=1)
        out["low"][finite] = np.nanmin(v, axis=1)
        out["high"][finite] = np.nanmax(v, axis=1)
    return out


def compared(left: Runs, right: Runs, table: str, level: str, area: str | None = None, year: int | None = None) -> pd.DataFrame:
    """Rows of one table and level (optionally one area and year), left against right: the mean
    and range of each, and of the paired differences right - left (replication by replication,
    same random streams). Columns: ``KEY`` and left_*, right_*, diff_* (mean, low, high)."""
    frames = []
    for runs in (left, right):
        v = runs.values
        idx = v.index
        mask = (idx.get_level_values("table") == table) & (idx.get_level_values("level") == level)
        if area is not None:
            mask &= idx.get_level_values("area") == area
        if year is not None:
            mask &= idx.get_level_values("year") == year
        frames.append(v[mask])
    n = min(left.n, right.n)
    a, b = frames[0].iloc[:, :n].align(frames[1].iloc[:, :n], join="outer")
    out = a.index.to_frame(index=False)
    for side, values in (("left", a.to_numpy(float)), ("right", b.to_numpy(float)), ("diff", b.to_numpy(float) - a.to_numpy(float))):
        for k, column in band(values).items():
            out[f"{side}_{k}"] = column
    return out


def unit_of(areas: str | list[str]) -> tuple[str, str]:
    """The level and name of the page's summary rows: a Sozialrathaus district or the city."""
    if isinstance(areas, str) and areas.startswith("sozialrathaus:"):
        return "sozialrathaus", areas.split(":", 1)[1]
    if areas == "city":
        return "city", CITY
    raise InputError(None, "--area", f"{areas!r} is not a district", "sozialrathaus:NAME or city")


def scenario_key(scenario: Scenario) -> str:
    """What makes two scenarios run alike: everything but their names and descriptions."""
    return scenario.model_dump_json(exclude=DESCRIPTIVE)


class Engine:
    """The district's baseline, inputs and a cache of finished replications (thread-safe: every
    browser session of the server asks the same engine)."""

    def __init__(
        self, baseline: Path, area: str, executor: Executor | None, folder: Path = Path("scenarios/workshop"), cache_size: int = 512
    ):
        self.folder = Path(folder).resolve()  # where the page saves scenarios
        self.base = load_scenario(Path(baseline).resolve(), areas=area)
        self.unit = unit_of(self.base.areas)
        self.inputs: CityInputs = load_inputs(self.base)
        self.base_json = self.base.model_dump_json()
        self.executor = executor  # set by server.serve when it starts the worker processes
        self.workers = 1  # worker processes of the executor: replications that run at once
        self._done: OrderedDict[tuple, pd.Series] = OrderedDict()
        self._running: dict[tuple, Future] = {}
        self._lock = threading.Lock()
        self._cache_size = cache_size
        self._context: Context | None = None

    def check(self, scenario: Scenario) -> None:
        """The checks ``load_inputs`` makes of a scenario's references, on the loaded inputs."""
        unlimited = tuple(n for n, s in self.inputs.catalogue.items() if s.unlimited)
        check_references(scenario, self.inputs.service_names, self.inputs.area_names, scenario.source, unlimited)
        check_offering_sizes(scenario, self.inputs.catalogue, self.inputs.cells, scenario.source)

    def _future(self, scenario: Scenario, key: str, years: int, index: int) -> Future:
        cell = (key, years, index)
        with self._lock:
            if cell in self._done:
                self._done.move_to_end(cell)
                future: Future = Future()
                future.set_result(self._done[cell])
                return future
            if cell in self._running:
                return self._running[cell]
            future = self.executor.submit(replication, self.base_json, scenario.model_dump_json(), self.base.seed, index, years)
            self._running[cell] = future

        def keep(done: Future) -> None:
            with self._lock:
                self._running.pop(cell, None)
                if done.exception() is None:
                    self._done[cell] = done.result()
                    while len(self._done) > self._cache_size:
                        self._done.popitem(last=False)

        future.add_done_callback(keep)
        return future

    def pair(
        self,
        left: Scenario,
        right: Scenario,
        years: int,
        n: int,
        wanted: Callable[[], bool] | None = None,
        early: Callable[[Runs, Runs], None] | None = None,
    ) -> tuple[Runs, Runs] | None:
        """Replications 0..n-1 of two scenarios for ``years`` years (cached ones are not run again).

        ``early(left, right)`` gets the first round (as many replications as there are worker
        processes) while the others run, so the page can answer before the bands are complete.
        Returns None as soon as ``wanted()`` says the answer is no longer needed (a newer lever
        position came in); the replications still finish and are cached."""
        for scenario in (left, right):
            self.check(scenario)
        t0 = time.perf_counter()
        keys = (scenario_key(left), scenario_key(right))
        futures: tuple[list[Future], list[Future]] = ([], [])
        for i in range(n):  # in pairs, so that the first round holds replication 0 of both
            for side, scenario in enumerate((left, right)):
                futures[side].append(self._future(scenario, keys[side], years, i))
        first = min(self.workers, n)
        all_done = all(f.done() for side in futures for f in side)
        for stage in [first, n] if early is not None and first < n and not all_done else [n]:
            pending = {f for side in futures for f in side[:stage]}
            while pending:
                _, pending = wait(pending, timeout=0.05)
                if pending and wanted is not None and not wanted():
                    return None
            got = tuple(
                Runs(
                    pd.concat([f.result() for f in futures[side][:stage]], axis=1, keys=range(stage)),
                    time.perf_counter() - t0,
                    (keys[side], years, stage),
                )
                for side in (0, 1)
            )
            if stage < n:
                early(*got)
        return got

    def runs(self, scenario: Scenario, years: int, n: int) -> Runs:
        """Replications 0..n-1 of one scenario (cached)."""
        return self.pair(scenario, scenario, years, n)[0]

    def baseline(self, years: int, n: int) -> Runs:
        return self.runs(self.base, years, n)

    def context(self, years: int, n: int) -> Context:
        """The levers' context: arrivals a year in the baseline (mean over the years and runs)."""
        if self._context is None:
            runs = self.baseline(years, n)
            level, name = self.unit
            v = runs.values
            idx = v.index
            mask = (idx.get_level_values("indicator") == "immigrants") & (idx.get_level_values("level") == level)
            mask &= (idx.get_level_values("area") == name) & (idx.get_level_values("table") == "events")
            arrivals = int(round(float(np.nanmean(v[mask].to_numpy(float))), -2))
            self._context = Context(self.base, tuple(self.inputs.area_names), self.inputs.area_share_of_city, arrivals)
        return self._context


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def install(engine: Engine) -> Engine:
    """Make ``engine`` the server's engine (``sozialraum workshop`` does this before the page starts)."""
    global _ENGINE
    with _ENGINE_LOCK:
        _ENGINE = engine
    return engine


def current() -> Engine:
    """The server's engine; a page started without ``sozialraum workshop`` gets the Bockenheim
    default with an in-process executor."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            from simulation.ensemble import InProcessExecutor

            root = Path(__file__).resolve().parents[2]
            _ENGINE = Engine(
                root / "scenarios" / "baseline.toml", "sozialrathaus:Bockenheim", InProcessExecutor(), root / "scenarios" / "workshop"
            )
        return _ENGINE
