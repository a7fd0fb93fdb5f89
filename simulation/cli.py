"""Command-line interface: ``sozialraum run|validate|areas``."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

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
    """Check a scenario file (keys, types, ranges, areas, data files) without running it."""
    from simulation import data as d
    from simulation.model import select_areas

    try:
        sc = _load(scenario)
        data_dir = Path(sc.data_dir) if sc.data_dir else d.DEFAULT_DATA_DIR
        areas = select_areas(sc.areas, d.load_areas(data_dir), str(scenario))
        d.profile_cells(data_dir)
        if sc.population.source == "anchored":
            from simulation.base_population import anchored_area_totals

            anchored_area_totals(data_dir, sc.base_year)
    except InputError as exc:
        _fail(exc, 2)
    console.print(f"[green]ok[/]: {scenario} — scenario '{sc.name}', {sc.base_year}+{sc.horizon} years, {len(areas)} areas")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file, e.g. scenarios/baseline.toml.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Output directory (replaced atomically). Default: output/<scenario name>.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, help="Random seed (default: the scenario's seed).")] = None,
    years: Annotated[Optional[int], typer.Option("--years", min=1, max=100, help="Years to project (default: the scenario's horizon).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Table format.")] = Format.parquet,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures.")] = True,
) -> None:
    """Run one projection and write population, events, households, manifest and figures."""
    from simulation.outputs import summary, write_run
    from simulation.runner import run_scenario

    try:
        sc = _load(scenario, seed=seed, horizon=years)
    except InputError as exc:
        _fail(exc, 2)
    out = out or Path("output") / sc.name
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("year {task.fields[year]}"),
                        TimeElapsedColumn(), console=err_console, transient=not sys.stderr.isatty())
    try:
        with progress:
            task = progress.add_task(f"{sc.name}: building population", total=sc.horizon, year=sc.base_year)

            def tick(year: int) -> None:
                progress.update(task, advance=1, year=year, description=f"{sc.name}: projecting")

            result = run_scenario(sc, progress=tick, scenario_path=str(scenario))
        write_run(result, out, fmt.value, figures)
    except InputError as exc:
        _fail(exc, 2)
    except AccountingError as exc:
        _fail(exc, 3)
    _print_summary(summary(result), result)
    console.print(f"Outputs in [bold]{out}[/] (setup {result.timings['setup_s']} s, simulation {result.timings['simulation_s']} s)")


@app.command()
def areas(
    data_dir: Annotated[Optional[Path], typer.Option(help="Data folder (default: calibration/data).")] = None,
) -> None:
    """List the social areas (Stadtteile) and their Sozialrathaus districts."""
    from simulation import data as d

    try:
        table = d.load_areas((data_dir or d.DEFAULT_DATA_DIR).resolve()).frame
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
