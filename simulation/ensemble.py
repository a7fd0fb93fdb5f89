"""Replications and scenario sets over a ``concurrent.futures.Executor``.

- Seeds: replication i uses child i of ``numpy.random.SeedSequence(seed).spawn(n)``; the model
  derives one stream per event and year from it. Results therefore depend only on the scenario,
  the seed and i, never on the number of workers or the executor, and replication i of every
  scenario shares its random streams with replication i of the others (common random numbers).
- Executors: in-process, a local process pool (default), or a Dask ``distributed`` cluster
  (``scheduler="local"`` starts a LocalCluster, ``"tcp://host:port"`` connects to one).
- Streaming and resume: every finished replication is written at once, atomically, to
  ``DIR/replications/<scenario>/rep_0007/`` (its metrics table and manifest); nothing is kept in
  memory. ``resume=True`` skips replications whose folder is complete, and removes the
  temporaries of replications that a killed worker left unfinished.
- Stopping: Ctrl-C, SIGTERM or an error in one replication cancels the replications not yet
  started and ends the worker processes at once (each removes the temporary folder it was
  writing); finished replications stay for ``--resume``. Workers ignore Ctrl-C themselves (the
  parent stops them) and, on Linux, end when the parent process dies, even by SIGKILL.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sys
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from simulation.errors import InputError
from simulation.metrics import METRIC_COLUMNS
from simulation.outputs import atomic_directory, inside, remove_own_temporaries, remove_stale_temporaries
from simulation.scenario import Scenario
from simulation.tables import summary_metrics

QUANTILES = {"p5": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
DONE = "manifest.json"  # written last: its presence marks a complete replication


class InProcessExecutor(Executor):
    """Runs each task at submission, in this process (for debugging and small runs)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller sees it when reading the result
            future.set_exception(exc)
        return future


@contextmanager
def make_executor(workers: int = 2, scheduler: str | None = None) -> Iterator[Executor]:
    """The executor for an ensemble: Dask if a scheduler is named, else processes or in-process."""
    if scheduler:
        from distributed import Client, LocalCluster

        if scheduler == "local":
            with (
                LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
                Client(cluster) as client,
            ):
                yield client.get_executor()
        elif scheduler.startswith("tcp://"):
            with Client(scheduler) as client:
                yield client.get_executor()
        else:
            raise InputError(None, "--scheduler", f"cannot use '{scheduler}'", "local or tcp://HOST:PORT")
    elif workers <= 1:
        yield InProcessExecutor()
    else:
        env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        os.environ.update({k: os.environ.get(k, v) for k, v in env.items()})
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_worker_setup, initargs=(os.getpid(),)
        )
        try:
            _start_workers(pool, workers)
            yield pool
        except BaseException:
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)


def _ready() -> None:
    """A task that does nothing: submitting it starts a worker process."""


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start the worker processes now, with Ctrl-C blocked from their first instruction on (a Ctrl-C
    in the terminal reaches every process of the terminal, and workers leave it to the parent,
    which stops them). Here Ctrl-C is only held back while they start, not lost."""
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if main else None
    try:
        for _ in range(workers):  # each submission to a pool without an idle worker starts one
            pool.submit(_ready)
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _worker_setup(parent: int) -> None:
    """First thing in a worker process: ignore Ctrl-C, end cleanly on SIGTERM, and (Linux) get
    SIGTERM when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked while it started: a Ctrl-C then is dropped
    signal.signal(signal.SIGTERM, _end_worker)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - without the C library's prctl
            pass
    if os.getppid() != parent:  # the parent ended before this worker was set up
        _end_worker(signal.SIGTERM, None)


def _end_worker(signum, _frame) -> None:
    """SIGTERM in a worker: remove the temporary folder it is writing and end at once."""
    remove_own_temporaries()
    os._exit(128 + signum)


def stop_pool(pool: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """End a process pool now: queued tasks are cancelled, running ones stopped (SIGTERM: each
    worker removes its temporary folder; SIGKILL after ``grace`` seconds)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
    for process in processes:
        process.join(grace)
        if process.is_alive():
            process.kill()
            process.join()


def replication_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(n)


def replication_dir(out: Path, scenario_name: str, index: int) -> Path:
    return inside(Path(out) / "replications", scenario_name) / f"rep_{index:04d}"


def finished(out: Path, scenario_names: list[str], n: int) -> int:
    """How many of the n replications of each scenario are complete in ``out``."""
    return sum((replication_dir(out, name, i) / DONE).is_file() for name in scenario_names for i in range(n))


def run_replication(scenario_json: str, seed: int, index: int, n: int, years: int | None, target: str, check_more: bool = False) -> str:
    """Run replication ``index`` of ``n`` and write its metrics atomically into ``target``.

    A top-level function with plain arguments, so that any executor can ship it to a worker.
    """
    from simulation.inputs import cached_inputs
    from simulation.runner import run_scenario

    scenario = Scenario.model_validate_json(scenario_json)
    child = replication_seeds(seed, n)[index]
    # inputs are read once per worker process and shared by its replications
    result = run_scenario(scenario, seed=child, years=years, inputs=cached_inputs(scenario_json), check_more=check_more)
    with atomic_directory(Path(target)) as tmp:
        summary_metrics(result.tables).to_parquet(tmp / "metrics.parquet", index=False)
        manifest = {**result.manifest, "replication": index, "replications": n, "ensemble_seed": seed}
        (tmp / DONE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return target


def run_replications(
    jobs: list[tuple[Scenario, int]],
    seed: int,
    n: int,
    years: int | None,
    out: Path,
    executor: Executor,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    check_more: bool = False,
) -> None:
    """Run replications 0..n-1 of every scenario in ``jobs`` (scenario, unused), skipping complete
    ones when resuming. Raises InputError if ``out`` holds replications and resume is off. On an
    error or an interruption the replications not yet started are cancelled."""
    todo = []
    remove_stale_temporaries(out)  # an ensemble's outputs that a killed process left half-written
    for scenario, _ in jobs:
        remove_stale_temporaries(replication_dir(out, scenario.name, 0).parent)
        for i in range(n):
            target = replication_dir(out, scenario.name, i)
            if (target / DONE).is_file():
                if not resume:
                    raise InputError(
                        str(out), "--resume", "the output folder already holds replications", "--resume to continue them, or another --out"
                    )
                _check_same_run(target / DONE, scenario, seed, years)
                continue
            todo.append((scenario, i, target))
    done, total = n * len(jobs) - len(todo), n * len(jobs)
    if progress:
        progress(done, total)
    futures: list[Future] = []
    try:
        for s, i, t in todo:
            futures.append(executor.submit(run_replication, s.model_dump_json(), seed, i, n, years, str(t), check_more))
        for future in as_completed(futures):
            future.result()
            done += 1
            if progress:
                progress(done, total)
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _check_same_run(manifest_path: Path, scenario: Scenario, seed: int, years: int | None) -> None:
    """A finished replication may only be reused for the same scenario, seed and years."""
    done = json.loads(manifest_path.read_text(encoding="utf-8"))
    wanted_years = [scenario.base_year, scenario.base_year + (years if years is not None else scenario.horizon)]
    same = (
        done.get("ensemble_seed") == seed
        and done.get("years") == wanted_years
        and done.get("scenario") == json.loads(scenario.model_dump_json())
    )
    if not same:
        raise InputError(
            str(manifest_path.parent),
            "--resume",
            "finished replications were made with another scenario, seed or number of years",
            "the same scenario files, --seed and --years as the interrupted run, or another --out",
        )


def load_metrics(out: Path, scenario_name: str, n: int) -> Iterator[pd.DataFrame]:
    """The metrics of replications 0..n-1, one at a time (memory does not grow with n)."""
    for i in range(n):
        path = replication_dir(out, scenario_name, i) / "metrics.parquet"
        if not path.is_file():
            raise InputError(str(path), None, "replication missing", "run the ensemble (with --resume) to complete it")
        yield pd.read_parquet(path)


def _stack(frames: Iterator[pd.DataFrame]) -> tuple[pd.DataFrame, np.ndarray]:
    """Cell keys of the first replication and a (cells x replications) value matrix."""
    keys, columns = None, []
    for frame in frames:
        if keys is None:
            keys = frame[METRIC_COLUMNS[:-1]]
        elif len(frame) != len(keys) or not frame[METRIC_COLUMNS[:-1]].equals(keys):
            raise InputError(
                None, "replications", "replications do not have the same cells (different scenarios or years)", "replications of one run"
            )
        columns.append(frame["value"].to_numpy(float))
    return keys.reset_index(drop=True), np.column_stack(columns)


def band_summary(values: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, median and 5/25/75/95 % quantiles across replications (axis 1), NaN-aware."""
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = {"mean": np.nanmean(values, axis=1)}
            qs = np.nanquantile(values, list(QUANTILES.values()), axis=1)
    out.update(dict(zip(QUANTILES, qs)))
    return out


def summarise(out: Path, scenario_name: str, n: int) -> pd.DataFrame:
    """Summary per cell (table, year, level, area, indicator): mean, median and the bands."""
    keys, values = _stack(load_metrics(out, scenario_name, n))
    return pd.concat([keys, pd.DataFrame(band_summary(values))], axis=1).assign(replications=n)


def compare(out: Path, baseline: str, scenario: str, n: int) -> pd.DataFrame:
    """Paired differences scenario - baseline, replication by replication (common random numbers).

    Columns: scenario, year, level, area, table, indicator, baseline, value, difference (means)
    and the bands of the paired differences.
    """
    keys, base = _stack(load_metrics(out, baseline, n))
    keys2, other = _stack(load_metrics(out, scenario, n))
    merged = keys.assign(_b=range(len(keys))).merge(keys2.assign(_s=range(len(keys2))), on=METRIC_COLUMNS[:-1], how="inner")
    b, s = base[merged["_b"].to_numpy()], other[merged["_s"].to_numpy()]
    diff = band_summary(s - b)
    frame = merged[METRIC_COLUMNS[:-1]].assign(
        scenario=scenario,
        baseline=band_summary(b)["mean"],
        value=band_summary(s)["mean"],
        difference=diff["mean"],
        **{f"difference_{k}": v for k, v in diff.items() if k != "mean"},
    )
    first = ["scenario", "year", "level", "area", "table", "indicator", "baseline", "value", "difference"]
    return frame[first + [c for c in frame.columns if c not in first]]
