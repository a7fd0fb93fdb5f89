"""Command-line interface: ``sozialraum run|validate|areas``."""

from __future__ import annotations

import errno
import functools
import signal
import sys
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulation.errors import AccountingError, InputError

app = typer.Typer(
    help="Project households, service demand and cohesion in Frankfurt am Main's social areas.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# piped output (make, CI, logs) gets a width that fits the summary table instead of 80 columns
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)


class Format(str, Enum):
    parquet = "parquet"
    csv = "csv"


def _fail(exc: Exception, code: int) -> None:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a stop by either cleans up the same way."""


_STOPS: list[KeyboardInterrupt] = []  # the stop signals this command received


def _stop_signal(signum, _frame) -> None:
    """Ctrl-C raises KeyboardInterrupt, SIGTERM Terminated; both are kept in ``_STOPS``."""
    _STOPS.append(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())
    raise _STOPS[-1]


def _stopped(exc: KeyboardInterrupt, note: str) -> None:
    """End a command stopped by Ctrl-C (exit code 130) or SIGTERM (143), saying what is left."""
    how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
    err_console.print(f"[bold yellow]stopped[/] ({how}): {escape(note)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(143 if isinstance(exc, Terminated) else 130)


def _stopped_if_signalled(note: str) -> None:
    """In an ``except Exception`` block: after a stop signal the error is the stop, ended as
    ``_stopped`` does (a library may turn the interruption into an error of its own: matplotlib
    drawing a figure raises 'Invalid bounding box'); without one the error is raised again, and
    so is an exit already decided (``typer.Exit`` is a RuntimeError: the stop message of
    ``_reported_errors`` must not be followed by a second one)."""
    if not _STOPS or isinstance(sys.exc_info()[1], typer.Exit):
        raise
    _stopped(_STOPS[-1], note)


def _stoppable(command):
    """A command that Ctrl-C (SIGINT) and SIGTERM stop in order: temporaries removed, workers
    ended, a message saying what is left (``_reported_errors`` knows more about the outputs)."""

    @functools.wraps(command)
    def stoppable(*args, **kwargs):
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        _STOPS.clear()
        signal.signal(signal.SIGINT, _stop_signal)  # also when started with Ctrl-C ignored
        signal.signal(signal.SIGTERM, _stop_signal)
        note = "outputs are written whole or not at all: an output folder is complete or as it was"
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as exc:  # outside _reported_errors: before or after the outputs were written
            _stopped(exc, note)
        except Exception:
            _stopped_if_signalled(note)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    return stoppable


def _cannot_write(exc: OSError) -> str:
    """Why outputs cannot be written, in words."""
    where = f": {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({exc.strerror}{where})"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"the folder is read-only or not yours ({exc.strerror}{where})"
    if exc.errno == errno.ENOTDIR or (exc.errno == errno.EEXIST and exc.filename and Path(exc.filename).is_file()):
        return f"a part of the path is a file, not a folder ({exc.strerror}{where})"
    return f"{exc.strerror or exc}{where}"


@contextmanager
def _reported_errors(out: Callable[[], object], kept: Callable[[], str] | None = None):
    """The exit codes of every command that writes outputs: bad input 2 (one message naming file
    and field), an output folder that cannot be written 2 (naming ``out()``, read when it happens:
    a full disk, a read-only folder), a broken invariant 3, Ctrl-C 130 and SIGTERM 143. ``kept()``
    says what an interrupted or failed command leaves (default: nothing, the outputs are atomic)."""
    nothing = "nothing was written (an earlier output there is unchanged)"
    try:
        yield
    except InputError as exc:
        _fail(exc, 2)
    except OSError as exc:
        note = kept() if kept else nothing
        _fail(
            InputError(str(out()), "--out", f"cannot write the outputs: {_cannot_write(exc)}; {note}", "a writable folder with free space"),
            2,
        )
    except AccountingError as exc:
        _fail(exc, 3)
    except KeyboardInterrupt as exc:
        _stopped(exc, f"{out()}: {kept() if kept else nothing}")
    except Exception:
        _stopped_if_signalled(f"{out()}: {kept() if kept else nothing}")


CHECK_MORE_OPTION = typer.Option(
    "--check-more", help="After every year also run the costlier invariant checks (codes, ranges, service places; slower)."
)
ALLOW_ANY_EXTENDS_OPTION = typer.Option(
    "--allow-any-extends", help="Let 'extends' reach scenario files outside the project and the scenario's own folder tree."
)


DEBUG_OPTION = typer.Option("--debug", help="On an error while reading the inputs, also show the Python traceback.")


@contextmanager
def _reading_inputs(scenario: Path, debug: bool):
    """Reading a scenario and every input it names: an InputError, and any unexpected exception
    too, ends in one message naming the scenario file and exit code 2 (``--debug``: with the traceback)."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:  # whatever breaks while reading inputs is reported, never as a bare traceback
        if debug:
            err_console.print_exception()
        if not isinstance(exc, InputError):
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            hint = "" if debug else "; run again with --debug for the traceback"
            exc = InputError(scenario, None, f"cannot be read: unexpected {type(exc).__name__} ({detail}){hint}")
        _fail(exc, 2)


def _log_line(text: str) -> None:
    """A progress line on stderr when it is not a terminal (logs, CI, notebooks), where the live bar does not show."""
    if not sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)


def _load(path: Path, allow_any_extends: bool = False, **overrides):
    from simulation.scenario import load_scenario

    return load_scenario(path, allow_any_extends=allow_any_extends, **overrides)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    allow_any_extends: Annotated[bool, ALLOW_ANY_EXTENDS_OPTION] = False,
    debug: Annotated[bool, DEBUG_OPTION] = False,
) -> None:
    """Check a scenario file (keys, types, ranges, areas, services, data files, base population) without running it."""
    from simulation.inputs import load_inputs

    with _reading_inputs(scenario, debug):
        sc = _load(scenario, allow_any_extends)
        inputs = load_inputs(sc)
    console.print(
        f"[green]ok[/]: {scenario} — scenario '{sc.name}', {sc.base_year}+{sc.horizon} years, {len(inputs.area_names)} areas, "
        f"{len(inputs.files)} input files"
    )


@app.command()
@_stoppable
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file, e.g. scenarios/baseline.toml.")],
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Output directory (replaced atomically). Default: output/<scenario name>.")
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Random seed (default: the scenario's seed).")] = None,
    horizon: Annotated[
        Optional[int], typer.Option("--horizon", "--years", min=1, max=100, help="Years to project (default: the scenario's horizon).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Table format of a single run.")] = Format.parquet,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures.")] = True,
    replications: Annotated[int, typer.Option("--replications", min=1, max=10_000, help="Number of replications (ensemble if > 1).")] = 1,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Parallel workers for replications.")] = 2,
    scheduler: Annotated[
        Optional[str], typer.Option("--scheduler", help="Dask scheduler: 'local' (LocalCluster) or tcp://HOST:PORT.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted ensemble in --out without redoing finished replications.")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the report: de or en.")] = "de",
    check_more: Annotated[bool, CHECK_MORE_OPTION] = False,
    allow_any_extends: Annotated[bool, ALLOW_ANY_EXTENDS_OPTION] = False,
    debug: Annotated[bool, DEBUG_OPTION] = False,
) -> None:
    """Run one projection (tables, figures, report.html), or an ensemble of replications with summaries and fan charts."""
    from simulation import rerun
    from simulation.inputs import load_inputs
    from simulation.outputs import summary, write_run
    from simulation.runner import run_scenario

    with _reading_inputs(scenario, debug):  # every input is read and checked before anything runs or is written
        sc = _load(scenario, allow_any_extends, seed=seed, horizon=horizon)
        inputs = load_inputs(sc)
    out = out or Path("output") / sc.name
    if lang not in ("de", "en"):
        _fail(InputError(None, "--lang", f"unknown language '{lang}'", "de, en"), 2)
    if replications > 1:
        read = {sc.name: inputs.files}
        _ensemble([sc], [scenario], out, replications, workers, scheduler, resume, figures, read, lang=lang, check_more=check_more)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("year {task.fields[year]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=not sys.stderr.isatty(),
    )
    with _reported_errors(lambda: out):
        with progress:
            task = progress.add_task(f"{sc.name}: building population", total=sc.horizon, year=sc.base_year)

            def tick(year: int) -> None:
                progress.update(task, advance=1, year=year, description=f"{sc.name}: projecting")
                _log_line(f"{sc.name}: {year} projected ({year - sc.base_year}/{sc.horizon} years)")

            result = run_scenario(sc, progress=tick, inputs=inputs, check_more=check_more)
        options = {"replications": 1, "format": fmt.value, "figures": figures, "lang": lang, "check_more": check_more}
        result.manifest["invocation"] = rerun.invocation("run", [scenario], {sc.name: inputs.files}, **options)
        write_run(result, out, fmt.value, figures, lang)
    _print_summary(summary(result), result)
    console.print(f"Outputs in [bold]{out}[/] (setup {result.timings['setup_s']} s, simulation {result.timings['simulation_s']} s)")


class Lang(str, Enum):
    de = "de"
    en = "en"


@app.command()
@_stoppable
def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline scenario TOML file.")],
    scenarios: Annotated[list[Path], typer.Argument(help="One or more scenario files to compare with the baseline.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("output/comparison"),
    replications: Annotated[int, typer.Option("--replications", min=1, max=10_000, help="Replications per scenario.")] = 10,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Random seed (default: the baseline's seed).")] = None,
    horizon: Annotated[
        Optional[int], typer.Option("--horizon", "--years", min=1, max=100, help="Years to project (default: the baseline's horizon).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Parallel workers.")] = 2,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler: 'local' or tcp://HOST:PORT.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted comparison in --out.")] = False,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the report.")] = Lang.de,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures (the report embeds them).")] = True,
    map_year: Annotated[
        Optional[int], typer.Option("--map-year", help="Year of the maps of differences (default: each map's year of the largest effect).")
    ] = None,
    check_more: Annotated[bool, CHECK_MORE_OPTION] = False,
    allow_any_extends: Annotated[bool, ALLOW_ANY_EXTENDS_OPTION] = False,
    debug: Annotated[bool, DEBUG_OPTION] = False,
) -> None:
    """Compare scenarios with a baseline under common random numbers: paired differences, bands, figures, report."""
    from simulation.inputs import load_inputs

    with _reading_inputs(baseline, debug):  # every scenario and input is read and checked before anything runs
        base = _load(baseline, allow_any_extends, seed=seed, horizon=horizon)
        others = [_load(p, allow_any_extends, seed=base.seed, horizon=base.horizon) for p in scenarios]
        read = {s.name: load_inputs(s).files for s in (base, *others)}
    names = [base.name] + [o.name for o in others]
    if len(set(names)) != len(names):
        _fail(
            InputError(None, "name", f"scenario names must differ, got {names}", "a distinct 'name' in each file or distinct file names"), 2
        )
    last = base.base_year + base.horizon
    if map_year is not None and not base.base_year <= map_year <= last:
        _fail(InputError(None, "--map-year", f"{map_year} is outside the projection", f"{base.base_year}..{last}"), 2)
    _ensemble(
        [base, *others],
        [baseline, *scenarios],
        out,
        replications,
        workers,
        scheduler,
        resume,
        figures,
        read,
        lang=lang.value,
        map_year=map_year,
        check_more=check_more,
    )


def _ensemble(
    scenarios,
    paths,
    out: Path,
    n: int,
    workers: int,
    scheduler: str | None,
    resume: bool,
    figures: bool,
    read: dict,
    lang: str,
    map_year: int | None = None,
    check_more: bool = False,
) -> None:
    """Run replications of every scenario, then write summaries, figures and the report (with a
    baseline: the comparison). ``read``: the input files each scenario read (``CityInputs.files``),
    loaded and checked by the caller before any worker starts. Stopped or failed, it says how many
    replications are kept and how to continue (--resume)."""
    from simulation import ensemble, rerun

    seed = scenarios[0].seed
    with _reported_errors(lambda: out, lambda: _replications_kept(out, [s.name for s in scenarios], n)):
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=not sys.stderr.isatty(),
        )
        with progress, ensemble.make_executor(workers, scheduler) as executor:
            task = progress.add_task("replications", total=n * len(scenarios))
            started = time.perf_counter()

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done)
                _log_line(f"replications: {done}/{total} finished ({time.perf_counter() - started:.0f} s)")

            ensemble.run_replications(
                [(s, 0) for s in scenarios],
                seed,
                n,
                None,
                out,
                executor,
                resume,
                progress=tick,
                check_more=check_more,
            )
        _log_line("writing summaries, figures and the report")
        options = {"replications": n, "figures": figures, "lang": lang, "map_year": map_year, "check_more": check_more}
        call = rerun.invocation("compare" if len(scenarios) > 1 else "run", paths, read, **options)
        _write_ensemble_outputs(scenarios, out, n, figures, lang, map_year, invocation=call)
    console.print(f"{n} replications of {', '.join(s.name for s in scenarios)} in [bold]{out}[/]")


def _replications_kept(out: Path, names: list[str], n: int) -> str:
    """What a stopped ensemble leaves, and the command that continues it."""
    import shlex

    from simulation import ensemble

    again = shlex.join(["sozialraum", *sys.argv[1:]]) + ("" if "--resume" in sys.argv else " --resume")
    return (
        f"{ensemble.finished(out, names, n)} of {n * len(names)} replications are finished and kept in replications/; "
        f"the results (summaries, report, manifest.json) are not complete. To continue: {again}"
    )


def _write_ensemble_outputs(
    scenarios, out: Path, n: int, figures: bool, lang: str, map_year: int | None = None, invocation: dict | None = None
) -> None:
    import json as _json

    from simulation import ensemble
    from simulation.indicators import is_small_area
    from simulation.outputs import write_file_atomic, write_table_pair

    summaries = {s.name: ensemble.summarise(out, s.name, n) for s in scenarios}
    for name, frame in summaries.items():
        write_table_pair(frame, out, f"summary_{name}")
    first = _json.loads((ensemble.replication_dir(out, scenarios[0].name, 0) / ensemble.DONE).read_text())
    manifest = {
        "scenarios": [s.model_dump(mode="json") for s in scenarios],
        "replications": n,
        "seed": scenarios[0].seed,
        "years": first["years"],
        "versions": first["versions"],
        "input_data_sha256": first["input_data_sha256"],
        "assumptions": first["assumptions"],
        "population_method": first["population_method"],
        "small_area_threshold": scenarios[0].cohesion.small_area_threshold,
        "invocation": invocation,  # what `sozialraum rerun` needs (simulation/rerun.py)
    }
    base_summary = summaries[scenarios[0].name]
    last = int(base_summary["year"].max())
    pops = base_summary[
        (base_summary["table"] == "population")
        & (base_summary["indicator"] == "persons")
        & (base_summary["level"] == "area")
        & (base_summary["year"] == last)
    ]
    manifest["small_areas"] = sorted(pops.loc[is_small_area(pops["mean"], manifest["small_area_threshold"]), "area"])
    from simulation import report

    if len(scenarios) > 1:
        comparison = pd.concat([ensemble.compare(out, scenarios[0].name, s.name, n) for s in scenarios[1:]], ignore_index=True)
        write_table_pair(comparison, out, "comparison")
        write_file_atomic(
            out / "report.html",
            lambda p: report.write_comparison_report(out, comparison, summaries, scenarios, manifest, lang, figures, map_year, path=p),
        )
    else:
        summary = summaries[scenarios[0].name]
        write_file_atomic(
            out / "report.html", lambda p: report.write_ensemble_report(out, summary, scenarios[0], manifest, lang, figures, path=p)
        )
    write_file_atomic(
        out / "manifest.json", lambda p: p.write_text(_json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    )


@app.command("rerun")
@_stoppable
def rerun_command(
    manifest: Annotated[Path, typer.Argument(help="manifest.json of an earlier run or ensemble, e.g. output/baseline/manifest.json.")],
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Output folder of the rerun (default: the original folder's name + '-rerun').")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Parallel workers (results do not depend on them).")] = 2,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler: 'local' or tcp://HOST:PORT.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted rerun of an ensemble in --out.")] = False,
    debug: Annotated[bool, DEBUG_OPTION] = False,
) -> None:
    """Repeat a run or an ensemble from its manifest.json, bit for bit, and compare every table with the original's.
    Refuses (exit code 2) if an input file changed since; exit code 1 if a table differs."""
    from simulation import rerun
    from simulation.inputs import load_inputs
    from simulation.outputs import write_run
    from simulation.runner import run_scenario

    with _reading_inputs(manifest, debug):
        plan = rerun.plan(manifest, out)
        read = {s.name: load_inputs(s).files for s in plan.scenarios} if plan.ensemble else {}
    for note in plan.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    started = time.perf_counter()
    if plan.ensemble:
        _ensemble(
            plan.scenarios,
            plan.option("scenario_files", {}),
            plan.out,
            plan.option("replications"),
            workers,
            scheduler,
            resume,
            plan.option("figures", True),
            read,
            lang=plan.option("lang", "de"),
            map_year=plan.option("map_year"),
            check_more=plan.option("check_more", False),
        )
    else:
        with _reported_errors(lambda: plan.out):
            result = run_scenario(plan.scenarios[0], check_more=plan.option("check_more", False))
            result.manifest["invocation"] = {**plan.invocation, "inputs": {result.scenario.name: result.manifest["input_data_sha256"]}}
            write_run(result, plan.out, plan.option("format", "parquet"), plan.option("figures", True), plan.option("lang", "de"))
    seconds = time.perf_counter() - started
    differing = rerun.different_tables(plan.original, plan.out)
    compared = len(rerun.tables(plan.original))
    if differing:
        err_console.print(
            f"[bold red]different:[/] {len(differing)} of {compared} tables differ from {plan.original}: {', '.join(differing)}"
        )
        raise typer.Exit(1)
    console.print(
        f"[green]identical[/]: all {compared} tables of {plan.original} repeated bit for bit in [bold]{plan.out}[/] ({seconds:.1f} s)"
    )


@app.command()
def sensitivity(
    config: Annotated[Path, typer.Argument(help="Sensitivity configuration TOML, e.g. calibration/configs/sensitivity_bockenheim.toml.")],
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, max=256, help="Parallel workers (default: the config's).")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler: 'local' or tcp://HOST:PORT.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder, replaced atomically (default: the config's).")] = None,
) -> None:
    """Sobol or Morris sensitivity of named outputs to scenario parameters: indices.csv, indices.png, summary.md."""
    from simulation import ensemble
    from simulation import sensitivity as sa

    target = out
    with _reported_errors(lambda: target):
        cfg = sa.load_config(config, workers=workers, out=out)
        target = cfg.output
        console.print(
            f"{cfg.method}: {len(cfg.parameters)} parameters, {len(cfg.outputs)} outputs, {cfg.design_points} design points x "
            f"{cfg.replications} replications = [bold]{cfg.runs}[/] model runs"
        )
        progress = Progress(
            TextColumn("[bold]model runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=False
        )
        with progress, ensemble.make_executor(cfg.workers, scheduler) as executor:
            task = progress.add_task("runs", total=cfg.runs)
            result = sa.run_config(cfg, executor, progress=lambda done, total: progress.update(task, completed=done, total=total))
        sa.write_outputs(result, cfg.output, cfg)
    console.print(f"{result.runs} runs in {result.settings['run_seconds']} s; indices in [bold]{cfg.output}[/]")


def _fit_progress(label: str) -> tuple[Progress, Callable]:
    """A progress bar on stderr for fits: evaluations done / budget and the best objective so far."""
    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best objective {task.fields[best]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=not sys.stderr.isatty(),
    )
    task = progress.add_task(label, total=None, best="–")
    plain = not sys.stderr.isatty()  # logs and pipes get one line per evaluation instead of a live bar

    def tick(done: int, total: int, best: float) -> None:
        progress.update(task, completed=done, total=total, best=f"{best:.4g}")
        if plain:
            print(f"{label}: {done}/{total} points evaluated, best objective {best:.4g}", file=sys.stderr, flush=True)

    return progress, tick


@app.command()
def calibrate(
    config: Annotated[Path, typer.Argument(help="Calibration config TOML, e.g. calibration/configs/baseline_2012.toml.")],
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out", help="Output folder, replaced atomically (default: the config's 'output', else output/calibrate/<config name>)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Parallel workers for the replications and design points.")] = 2,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler: 'local' or tcp://HOST:PORT.")] = None,
    max_evaluations: Annotated[
        Optional[int], typer.Option("--max-evaluations", min=1, help="Parameter points to evaluate at most (default: the config's).")
    ] = None,
    replications: Annotated[
        Optional[int],
        typer.Option("--replications", min=1, max=1000, help="Runs per point, same seeds at every point (default: the config's)."),
    ] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="optimize or abc (default: the config's).")] = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures (the report embeds them).")] = True,
) -> None:
    """Fit scenario parameters to observed series: calibrated.toml, fit.csv, fit_report.html (see simulation/calibrate.py)."""
    from simulation import calibrate as cal_mod
    from simulation import ensemble

    target = out
    with _reported_errors(lambda: target):
        if method is not None and method not in cal_mod.METHODS:
            raise InputError(None, "--method", f"unknown method '{method}'", ", ".join(cal_mod.METHODS))
        cal = cal_mod.load_config(config, replications=replications, max_evaluations=max_evaluations, method=method)
        if out is None:
            out = (config.parent / cal.config.output).resolve() if cal.config.output else Path("output") / "calibrate" / config.stem
        target = out
        console.print(
            f"{cal.config.method}: {len(cal.bounds)} parameters, {len(cal.fit_rows)} observations in {len(cal.config.targets)} targets, "
            f"at most {cal.config.max_evaluations} points x {cal.config.replications} replications"
        )
        progress, tick = _fit_progress("evaluations")
        with progress, ensemble.make_executor(workers, scheduler) as executor:
            result = cal_mod.calibrate(cal, executor, progress=tick)
        cal_mod.write_outputs(result, out, _command_line(), figures)
    table = Table(title=f"Fitted values ({result.message})")
    for col in ("parameter", "lower", "upper", "start", "fitted"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for row in cal_mod.parameters_table(result).itertuples():
        table.add_row(row.parameter, f"{row.lower:g}", f"{row.upper:g}", f"{row.start:.4g}", f"{row.fitted:.4g}")
    console.print(table)
    near = [row.parameter for row in cal_mod.parameters_table(result).itertuples() if row.near_bound]
    if near:
        console.print(f"[yellow]At a bound[/] (the bound may decide the value): {', '.join(near)}")
    console.print(f"Objective {result.start_objective:.4g} at the start, {result.fitted_objective:.4g} fitted. Outputs in [bold]{out}[/]")


@app.command()
def hindcast(
    fit_until: Annotated[
        int, typer.Option("--fit-until", help="Fit only on observations up to 31 Dec of this year; later ones are held out.")
    ] = 2017,
    config: Annotated[
        Optional[Path], typer.Option("--config", help="Calibration config (default: calibration/configs/baseline_2012.toml).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder, replaced atomically.")] = Path("output/hindcast"),
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Parallel workers.")] = 2,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler: 'local' or tcp://HOST:PORT.")] = None,
    max_evaluations: Annotated[
        Optional[int], typer.Option("--max-evaluations", min=1, help="Parameter points of the fit at most (default: the config's).")
    ] = None,
    replications: Annotated[
        Optional[int], typer.Option("--replications", min=1, max=1000, help="Runs per point (default: the config's).")
    ] = None,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures (the report embeds them).")] = True,
) -> None:
    """Fit on the years up to --fit-until from the 2012 Stadtteil table, run to 2023 and report the error on every held-out observation."""
    from simulation import calibrate as cal_mod
    from simulation import ensemble
    from simulation import hindcast as hc

    with _reported_errors(lambda: out):
        progress, tick = _fit_progress(f"fit up to {fit_until}")
        with progress, ensemble.make_executor(workers, scheduler) as executor:
            result = hc.hindcast(config, fit_until, executor, tick, replications=replications, max_evaluations=max_evaluations)
        hc.write_outputs(result, out, _command_line(), figures)
    values = ", ".join(f"{k} = {v:.4g}" for k, v in result.fit.values.items())
    console.print(f"Fitted up to {fit_until}: {values}")
    near = [row.parameter for row in cal_mod.parameters_table(result.fit).itertuples() if row.near_bound]
    if near:
        console.print(f"[yellow]At a bound[/] (the bound may decide the value): {', '.join(near)}")
    table = Table(title="Held-out observations against the targets")
    for col in ("target", "held out", "value", "limit", "result"):
        table.add_column(col, justify="left" if col in ("target", "result") else "right")
    for row in result.criteria.itertuples():
        value = "–" if pd.isna(row.value) else f"{row.value:.2f} {row.unit}"
        colour = {"met": "green", "not met": "red"}.get(row.result, "yellow")
        table.add_row(row.target, str(row.held_out), value, f"{row.limit:g}", f"[{colour}]{row.result}[/]")
    console.print(table)
    summary = Table(title="Mean absolute percentage error per series")
    for col in ("series", "status", "observations", "MAPE %"):
        summary.add_column(col, justify="left" if col in ("series", "status") else "right")
    for row in result.summary.itertuples():
        summary.add_row(row.series, row.status, str(row.observations), f"{row.mape_pct:.2f}")
    console.print(summary)
    shared = result.table[(result.table["status"] == hc.HELD_OUT) & result.table["read_by_model"]]
    if len(shared):
        files = ", ".join(sorted(set(shared["source"])))
        console.print(f"[yellow]Not independent:[/] {len(shared)} held-out observations come from files the model also reads ({files})")
    console.print(f"Report and tables in [bold]{out}[/] ({result.seconds} s)")


def _command_line() -> str:
    return "sozialraum " + " ".join(sys.argv[1:])


@app.command()
def workshop(
    area: Annotated[
        str, typer.Option("--area", help="The district of the page: sozialrathaus:NAME (or city, slower).")
    ] = "sozialrathaus:Bockenheim",
    host: Annotated[str, typer.Option("--host", help="Address to listen on; the default serves this computer only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the page.")] = 8765,
    folder: Annotated[Path, typer.Option("--folder", help="Where the page saves scenarios.")] = Path("scenarios/workshop"),
    baseline: Annotated[Path, typer.Option("--baseline", help="The scenario the page starts from.")] = Path("scenarios/baseline.toml"),
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes for the model runs.")] = 2,
    debug: Annotated[bool, DEBUG_OPTION] = False,
) -> None:
    """The workshop page in the browser: levers, what-if answers against the baseline, saved scenarios (German or English)."""
    from simulation.workshop.engine import Engine
    from simulation.workshop.server import serve

    with _reading_inputs(baseline, debug):  # every input is read and checked before the server starts
        engine = Engine(baseline, area, None, folder)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]note:[/] the page is reachable from other computers at {host}:{port}")
    serve(engine, host, port, workers, on_ready=lambda: console.print(f"Workshop page: [bold]http://{host}:{port}/[/] (Ctrl+C stops it)"))


@app.command()
def areas(
    data_dir: Annotated[Optional[Path], typer.Option(help="Data folder (default: calibration/data).")] = None,
) -> None:
    """List the social areas (Stadtteile) and their Sozialrathaus districts."""
    from simulation import data

    try:
        table = data.load_areas((data_dir or data.DEFAULT_DATA_DIR).resolve()).frame
    except InputError as exc:
        _fail(exc, 2)
    out = Table("nr", "area", "sozialrathaus", "also served by")
    for row in table.itertuples():
        out.add_row(str(row.area_nr), row.area, row.sozialrathaus, row.split_between)
    console.print(out)


SHORT = {"sozialrathaus": "district", "change_pct": "change %", "immigrants": "in-migr.", "emigrants": "out-migr."}


def _print_summary(frame, result) -> None:
    table = Table(title=f"{result.scenario.name}: residents by Sozialrathaus district (seed {result.seed})")
    for col in frame.columns:
        label = SHORT.get(col, col.removeprefix("persons_"))
        table.add_column(label, justify="left" if col == "sozialrathaus" else "right", no_wrap=True)
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    console.print(table)


if __name__ == "__main__":
    app()
