"""Command-line interface: ``sozialraum run|validate|areas``."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from rich.console import Console
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
    err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load(path: Path, **overrides):
    from simulation.scenario import load_scenario

    return load_scenario(path, **overrides)


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")]) -> None:
    """Check a scenario file (keys, types, ranges, areas, services, data files, base population) without running it."""
    from simulation.inputs import load_inputs

    try:
        sc = _load(scenario)
        inputs = load_inputs(sc)
    except InputError as exc:
        _fail(exc, 2)
    console.print(
        f"[green]ok[/]: {scenario} — scenario '{sc.name}', {sc.base_year}+{sc.horizon} years, {len(inputs.area_names)} areas, "
        f"{len(inputs.files)} input files"
    )


@app.command()
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
) -> None:
    """Run one projection (tables, figures, report.html), or an ensemble of replications with summaries and fan charts."""
    from simulation.outputs import summary, write_run
    from simulation.runner import run_scenario

    try:
        sc = _load(scenario, seed=seed, horizon=horizon)
    except InputError as exc:
        _fail(exc, 2)
    out = out or Path("output") / sc.name
    if lang not in ("de", "en"):
        _fail(InputError(None, "--lang", f"unknown language '{lang}'", "de, en"), 2)
    if replications > 1:
        _ensemble([sc], [scenario], out, replications, workers, scheduler, resume, figures, lang=None)
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
    try:
        with progress:
            task = progress.add_task(f"{sc.name}: building population", total=sc.horizon, year=sc.base_year)

            def tick(year: int) -> None:
                progress.update(task, advance=1, year=year, description=f"{sc.name}: projecting")

            result = run_scenario(sc, progress=tick)
        write_run(result, out, fmt.value, figures, lang)
    except InputError as exc:
        _fail(exc, 2)
    except OSError as exc:  # the output folder cannot be written
        _fail(InputError(str(out), "--out", f"cannot write the outputs ({exc.strerror or exc})", "a writable folder"), 2)
    except AccountingError as exc:
        _fail(exc, 3)
    _print_summary(summary(result), result)
    console.print(f"Outputs in [bold]{out}[/] (setup {result.timings['setup_s']} s, simulation {result.timings['simulation_s']} s)")


class Lang(str, Enum):
    de = "de"
    en = "en"


@app.command()
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
        Optional[int], typer.Option("--map-year", help="Year of the area grid of differences (default: the last year).")
    ] = None,
) -> None:
    """Compare scenarios with a baseline under common random numbers: paired differences, bands, figures, report."""
    try:
        base = _load(baseline, seed=seed, horizon=horizon)
        others = [_load(p, seed=base.seed, horizon=base.horizon) for p in scenarios]
    except InputError as exc:
        _fail(exc, 2)
    names = [base.name] + [o.name for o in others]
    if len(set(names)) != len(names):
        _fail(
            InputError(None, "name", f"scenario names must differ, got {names}", "a distinct 'name' in each file or distinct file names"), 2
        )
    last = base.base_year + base.horizon
    if map_year is not None and not base.base_year <= map_year <= last:
        _fail(InputError(None, "--map-year", f"{map_year} is outside the projection", f"{base.base_year}..{last}"), 2)
    _ensemble(
        [base, *others], [baseline, *scenarios], out, replications, workers, scheduler, resume, figures, lang=lang.value, map_year=map_year
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
    lang: str | None,
    map_year: int | None = None,
) -> None:
    """Run replications of every scenario, then write summaries (and, with a baseline, the comparison)."""
    from simulation import ensemble
    from simulation.inputs import load_inputs

    seed = scenarios[0].seed
    try:
        for sc in scenarios:  # every input error before any worker starts
            load_inputs(sc)
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
            ensemble.run_replications(
                [(s, 0) for s in scenarios],
                seed,
                n,
                None,
                out,
                executor,
                resume,
                progress=lambda done, total: progress.update(task, completed=done),
            )
        _write_ensemble_outputs(scenarios, out, n, figures, lang, map_year)
    except InputError as exc:
        _fail(exc, 2)
    except OSError as exc:
        _fail(InputError(str(out), "--out", f"cannot write the outputs ({exc.strerror or exc})", "a writable folder"), 2)
    except AccountingError as exc:
        _fail(exc, 3)
    console.print(f"{n} replications of {', '.join(s.name for s in scenarios)} in [bold]{out}[/]")


def _write_ensemble_outputs(scenarios, out: Path, n: int, figures: bool, lang: str | None, map_year: int | None = None) -> None:
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
    figure_paths = []
    if figures:
        from simulation import plots

        for table, indicator in (
            ("population", "persons"),
            ("cohesion", "cohesion_index"),
            ("services", "kita_u3.unmet"),
            ("services", "senior_outreach.unmet"),
        ):
            figure_paths.append(plots.fan_charts(summaries, table, indicator, out / f"fan_{indicator.replace('.', '_')}.png"))
        figure_paths.append(plots.pyramid_comparison(summaries, last, out / "age_structure.png"))
    if len(scenarios) > 1:
        from simulation.report import KEY_INDICATORS, write_report

        comparison = pd.concat([ensemble.compare(out, scenarios[0].name, s.name, n) for s in scenarios[1:]], ignore_index=True)
        write_table_pair(comparison, out, "comparison")
        if figures:
            from simulation import plots

            year = map_year or last
            figure_paths.append(plots.difference_grid(comparison, year, KEY_INDICATORS, out / f"differences_{year}.png"))
        write_file_atomic(out / "report.html", lambda p: write_report(p, comparison, manifest, figure_paths, lang or "de"))
    write_file_atomic(
        out / "manifest.json", lambda p: p.write_text(_json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    )


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
