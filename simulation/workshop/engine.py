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

The caps of a request (horizon, replications, district, lever ranges) and of the work (one
queue, ``workers`` replications at once, a session's newer request superseding its older one, at
most ``MAX_WAITING`` replications waiting) are stated and enforced here, not by the page's
widgets: see ``Engine``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import CancelledError, Executor, Future, wait
from dataclasses import dataclass, field
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
from simulation.workshop import levers as L
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


MAX_YEARS = 25  # years one request may look ahead (the page offers the baseline's horizon, at most this)
MAX_RUNS = 8  # replications of each scenario one request may ask for (the page offers up to this)
MAX_WAITING = 320  # replications waiting for a worker, all sessions together: a request beyond is refused


class Busy(RuntimeError):
    """Too many replications are waiting for a worker: the request is refused (the page asks to
    try again in a moment) rather than queued without end."""


@dataclass(eq=False)
class _Cell:
    """One replication that requests are waiting for: queued until a worker is free, then running."""

    key: tuple  # (scenario_key, years, index)
    scenario_json: str
    seq: int  # order of arrival
    future: Future = field(default_factory=Future)  # what the requests wait on
    claims: int = 0  # requests still waiting for it
    started: bool = False


@dataclass(eq=False)
class _Ticket:
    """The replications one request claimed; a newer request of the same session supersedes it."""

    cells: list[_Cell]
    turn: int = 0  # the order of the session's requests
    superseded: bool = False
    released: bool = False


class Engine:
    """The district's baseline, inputs and a cache of finished replications (thread-safe: every
    browser session of the server asks the same engine).

    Every request is held to the caps here, whatever a browser sent: at most ``max_years`` years
    and ``max_runs`` replications (more is clamped), scenarios of this district only, lever values
    within their ranges (``lever_scenario``), saved scenarios from the page's folder only
    (``saved_scenario``). The work is bounded too: replications wait in one queue and at most
    ``workers`` run at once (the first replications of every request before the later ones); a
    newer request of a session supersedes its older one, whose replications that have not
    started are dropped; a request that would leave more than ``max_waiting`` waiting is refused
    (``Busy``)."""

    def __init__(
        self,
        baseline: Path,
        area: str,
        executor: Executor | None,
        folder: Path = Path("scenarios/workshop"),
        cache_size: int = 512,
        max_waiting: int = MAX_WAITING,
    ):
        self.folder = Path(folder).resolve()  # where the page saves scenarios
        self.base = load_scenario(Path(baseline).resolve(), areas=area)
        self.unit = unit_of(self.base.areas)
        self.inputs: CityInputs = load_inputs(self.base)
        self.base_json = self.base.model_dump_json()
        self.executor = executor  # set by server.serve when it starts the worker processes
        self.workers = 1  # worker processes of the executor: replications that run at once
        self.max_years = min(MAX_YEARS, self.base.horizon)
        self.max_runs = MAX_RUNS
        self.max_waiting = max_waiting
        self._done: OrderedDict[tuple, pd.Series] = OrderedDict()
        self._cells: dict[tuple, _Cell] = {}  # queued or running
        self._queue: set[_Cell] = set()  # not started yet
        self._running = 0
        self._sessions: dict[object, _Ticket] = {}  # each session's newest request
        self._seq = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._cache_size = cache_size
        self._context: Context | None = None
        threading.Thread(target=self._dispatch, daemon=True, name="workshop-dispatch").start()

    def bounded(self, years, n) -> tuple[int, int]:
        """A request's horizon and replications, clamped to the caps (at least one of each)."""
        return int(min(max(years, 1), self.max_years)), int(min(max(n, 1), self.max_runs))

    def lever_scenario(self, state: dict) -> Scenario:
        """The scenario of a lever state sent by a browser, its values held to the levers' ranges
        and the district's Stadtteile (``levers.bounded``)."""
        if self._context is None:
            raise RuntimeError("the baseline is not computed yet (Engine.context)")
        return L.scenario_of(L.bounded(state, self._context), self._context)

    def saved_scenario(self, path: str | Path) -> Scenario:
        """A scenario saved in the page's folder (no other file is opened)."""
        path = Path(path).resolve()
        if path.parent != self.folder or path.suffix != ".toml":
            raise InputError(str(path)[:200], None, "not a scenario saved on this page", f"*.toml in {self.folder}")
        return load_scenario(path)

    def check(self, scenario: Scenario) -> None:
        """The checks ``load_inputs`` makes of a scenario's references, on the loaded inputs, and
        that it is a scenario of this page's district."""
        if scenario.areas != self.base.areas:
            raise InputError(scenario.source, "areas", f"{str(scenario.areas)[:100]!r} is not this page's district", repr(self.base.areas))
        unlimited = tuple(n for n, s in self.inputs.catalogue.items() if s.unlimited)
        check_references(scenario, self.inputs.service_names, self.inputs.area_names, scenario.source, unlimited)
        check_offering_sizes(scenario, self.inputs.catalogue, self.inputs.cells, scenario.source)

    def waiting(self) -> tuple[int, int]:
        """(replications waiting for a worker, replications running)."""
        with self._lock:
            return len(self._queue), self._running

    def _claim(self, cells: list[tuple[tuple, str]], session: object, turn: int) -> tuple[_Ticket, list[Future]]:
        """Futures for the replications ``cells`` ((key, scenario_json) each): finished ones from
        the cache, the others claimed (queued if nobody else waits for them). The session's
        previous request is superseded first, unless it is the later one (its ``turn`` is
        higher): then this one is, at once, and claims nothing."""
        with self._changed:
            if session is not None and session in self._sessions:
                if turn < self._sessions[session].turn:
                    return _Ticket([], turn, superseded=True, released=True), []
                self._release(self._sessions.pop(session))
            new = {key for key, _ in cells if key not in self._done and key not in self._cells}
            if new and len(self._queue) + len(new) > self.max_waiting:
                raise Busy(f"{len(self._queue)} replications are waiting already (at most {self.max_waiting})")
            ticket, futures = _Ticket([], turn), []
            for key, scenario_json in cells:
                if key in self._done:
                    self._done.move_to_end(key)
                    future: Future = Future()
                    future.set_result(self._done[key])
                    futures.append(future)
                    continue
                cell = self._cells.get(key)
                if cell is None:
                    self._seq += 1
                    cell = self._cells[key] = _Cell(key, scenario_json, self._seq)
                    self._queue.add(cell)
                cell.claims += 1
                ticket.cells.append(cell)
                futures.append(cell.future)
            if session is not None:
                self._sessions[session] = ticket
            self._changed.notify_all()
        return ticket, futures

    def _release(self, ticket: _Ticket) -> None:
        """The request of ``ticket`` waits no longer: replications nobody else waits for and that
        have not started are dropped (call with the lock held)."""
        if ticket.released:
            return
        ticket.released = ticket.superseded = True
        for cell in ticket.cells:
            cell.claims -= 1
            if cell.claims == 0 and not cell.started:
                self._queue.discard(cell)
                self._cells.pop(cell.key, None)
                cell.future.cancel()

    def _dispatch(self) -> None:
        """Hand queued replications to the executor, at most ``workers`` at a time, the lowest
        replication index first (every request's first round before anyone's later ones)."""
        while True:
            with self._changed:
                while not self._queue or self._running >= max(1, self.workers) or self.executor is None:
                    self._changed.wait()
                cell = min(self._queue, key=lambda c: (c.key[2], c.seq))
                self._queue.discard(cell)
                cell.started = True
                self._running += 1
            try:
                inner = self.executor.submit(replication, self.base_json, cell.scenario_json, self.base.seed, cell.key[2], cell.key[1])
            except BaseException as exc:  # a pool that is shutting down: the requests see why
                inner = Future()
                inner.set_exception(exc)
            inner.add_done_callback(lambda done, cell=cell: self._finished(cell, done))

    def _finished(self, cell: _Cell, done: Future) -> None:
        error = CancelledError() if done.cancelled() else done.exception()
        with self._changed:
            self._running -= 1
            self._cells.pop(cell.key, None)
            if error is None:
                self._done[cell.key] = done.result()
                while len(self._done) > self._cache_size:
                    self._done.popitem(last=False)
            self._changed.notify_all()
        if error is None:
            cell.future.set_result(done.result())
        else:
            cell.future.set_exception(error)

    def pair(
        self,
        left: Scenario,
        right: Scenario,
        years: int,
        n: int,
        wanted: Callable[[], bool] | None = None,
        early: Callable[[Runs, Runs], None] | None = None,
        session: object = None,
        turn: int = 0,
    ) -> tuple[Runs, Runs] | None:
        """Replications 0..n-1 of two scenarios for ``years`` years (cached ones are not run
        again), ``years`` and ``n`` clamped to the caps.

        ``early(left, right)`` gets the first round (as many replications as there are worker
        processes) while the others run, so the page can answer before the bands are complete.
        Returns None as soon as ``wanted()`` says the answer is no longer needed or a newer
        request of the same ``session`` came in (one with a higher ``turn``, whichever thread asks
        first): replications that have started finish and are cached, the others are dropped
        unless another request waits for them."""
        years, n = self.bounded(years, n)
        for scenario in (left, right):
            self.check(scenario)
        t0 = time.perf_counter()
        keys = (scenario_key(left), scenario_key(right))
        jsons = (left.model_dump_json(), right.model_dump_json())
        # in pairs, so that the first round holds replication 0 of both
        ticket, claimed = self._claim([((keys[side], years, i), jsons[side]) for i in range(n) for side in (0, 1)], session, turn)
        futures = (claimed[0::2], claimed[1::2])
        try:
            if ticket.superseded:
                return None
            first = min(self.workers, n)
            all_done = all(f.done() for f in claimed)
            for stage in [first, n] if early is not None and first < n and not all_done else [n]:
                pending = {f for side in futures for f in side[:stage]}
                while pending:
                    _, pending = wait(pending, timeout=0.05)
                    if ticket.superseded or (pending and wanted is not None and not wanted()):
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
        finally:
            with self._changed:
                self._release(ticket)
                if self._sessions.get(session) is ticket:
                    del self._sessions[session]

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
