"""Hindcast: ``sozialraum hindcast [--fit-until YEAR] [--config FILE] [--out DIR]``.

Starting from the complete 2012 Stadtteil table (the config's scenario, by default
``scenarios/history_2012.toml`` through ``calibration/configs/baseline_2012.toml``), the config's
parameters are fitted only on observations up to 31 Dec of ``fit_until`` (default 2017); the
model then runs with the fitted values to the scenario's last year (2023) and is judged on every
later observation in calibration/data that the run covers (held out: never seen by the fit):
city totals, Stadtteil totals, foreigners, births, deaths, average age and the age structure of
31 Dec 2023.

Each observation gets a status: ``fitted`` (a target of the fit), ``held out`` (after the cut),
or ``not fitted`` (before the cut but not among the targets). The held-out figures are judged
against the project's targets (``CRITERIA``): city total within 1 % at every date; Stadtteil
totals with a mean absolute percentage error of at most 3 %; births and deaths of every year
within 5 %; average age within 0.5 years; every broad age-group share within 0.5 percentage
points. A criterion without a held-out observation is reported as such, never as met.

Outputs (one folder, written atomically): ``hindcast.csv`` (every observation, observed against
simulated with the range over replications and the error), ``criteria.csv``, ``summary.csv``
(per series and status), ``stadtteile.csv`` (Stadtteil totals per area and date), the fit's own
files (``calibrated.toml``, ``fit.csv``, ``parameters.csv``, ``evaluations.csv``),
``hindcast_report.html`` with PNG figures, ``manifest.json``.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from simulation import calibrate, experiment
from simulation.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "calibration" / "configs" / "baseline_2012.toml"
DEFAULT_FIT_UNTIL = 2017
FITTED, HELD_OUT, NOT_FITTED = "fitted", "held out", "not fitted"


@dataclass(frozen=True)
class Criterion:
    name: str
    text: str
    series: str
    kind: str  # "each_rel": every |relative error| <= limit; "mape": mean |relative error|; "each_abs": every |error|
    limit: float
    area: str | None = None  # only observations of this area (None: all)


CRITERIA = (
    Criterion("city_total", "city total within 1 % at every held-out date", "city_total", "each_rel", 0.01),
    Criterion("stadtteil_total", "Stadtteil totals: mean absolute percentage error at most 3 %", "stadtteil_total", "mape", 0.03),
    Criterion("births", "births of every held-out year within 5 %", "births", "each_rel", 0.05),
    Criterion("deaths", "deaths of every held-out year within 5 %", "deaths", "each_rel", 0.05),
    Criterion("mean_age", "average age of the city within 0.5 years", "mean_age", "each_abs", 0.5, area="Frankfurt am Main"),
    Criterion("age_share_broad", "every broad age-group share within 0.5 percentage points", "age_share_broad", "each_abs", 0.005),
)


@dataclass
class HindcastResult:
    fit: calibrate.CalibrationResult
    scenario: Scenario  # the full run (to the last year)
    fit_until: int
    table: pd.DataFrame  # every comparable observation with simulated values and status
    criteria: pd.DataFrame
    summary: pd.DataFrame
    seconds: float


def _status(cal: calibrate.Calibration, obs: pd.DataFrame, until: int) -> np.ndarray:
    keys = ["series", "area", "group", "date"]
    fitted = set(map(tuple, cal.fit_rows[keys].to_numpy()))
    return np.array(
        [FITTED if tuple(k) in fitted else HELD_OUT if y > until else NOT_FITTED for k, y in zip(obs[keys].to_numpy(), obs["year"])]
    )


def compare(obs: pd.DataFrame, sim: np.ndarray, status: np.ndarray, model_files=()) -> pd.DataFrame:
    """Observed against simulated per observation; ``sim``: (replications, observations).
    ``read_by_model``: the observation's source file is also an input of the model (a figure the
    model may have been built from is not an independent test; the report says so)."""
    read = {Path(f).name for f in model_files}
    return obs[["series", "area", "group", "date", "year", "unit"]].assign(
        **calibrate.error_columns(obs["value"].to_numpy(float), sim),
        status=status,
        read_by_model=obs["source"].map(lambda f: Path(f).name in read).to_numpy(),
        source=obs["source"].to_numpy(),
        note=obs["note"].to_numpy(),
        output=obs["output"].to_numpy(),
    )


def judge(table: pd.DataFrame) -> pd.DataFrame:
    """Each criterion on the held-out observations: n, the statistic, the limit and met / not met."""
    rows = []
    held = table[table["status"] == HELD_OUT]
    for c in CRITERIA:
        sub = held[held["series"] == c.series]
        if c.area is not None:
            sub = sub[sub["area"] == c.area]
        if sub.empty:
            stat, verdict = math.nan, "no held-out observation"
        elif c.kind == "mape":
            stat = float(sub["relative_error"].abs().mean())
            verdict = "met" if stat <= c.limit else "not met"
        else:
            column = "relative_error" if c.kind == "each_rel" else "error"
            stat = float(sub[column].abs().max())
            verdict = "met" if stat <= c.limit else "not met"
        unit = "years" if c.series == "mean_age" else "percentage points" if c.kind == "each_abs" else "%"
        shown = stat * 100 if unit in ("%", "percentage points") else stat
        limit = c.limit * 100 if unit in ("%", "percentage points") else c.limit
        statistic = "MAPE" if c.kind == "mape" else "largest absolute error"
        rows.append(
            {
                "criterion": c.name,
                "target": c.text,
                "held_out": len(sub),
                "statistic": statistic,
                "value": shown,
                "limit": limit,
                "unit": unit,
                "result": verdict,
            }
        )
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per series and status: observations, MAPE, largest absolute relative error, mean absolute error."""
    out = (
        table.assign(abs_rel=table["relative_error"].abs(), abs_err=table["error"].abs())
        .groupby(["series", "status"], sort=False)
        .agg(
            observations=("observed", "size"), mape=("abs_rel", "mean"), max_abs_rel=("abs_rel", "max"), mean_abs_error=("abs_err", "mean")
        )
        .reset_index()
    )
    out["mape_pct"] = 100 * out.pop("mape")
    out["max_abs_rel_pct"] = 100 * out.pop("max_abs_rel")
    return out


def hindcast(
    config: str | Path | None = None,
    fit_until: int = DEFAULT_FIT_UNTIL,
    executor=None,
    progress: Callable[[int, int, float], None] | None = None,
    replications: int | None = None,
    max_evaluations: int | None = None,
) -> HindcastResult:
    """Fit on observations up to ``fit_until``, run to the last year, compare with everything."""
    import time

    started = time.perf_counter()
    cal = calibrate.load_config(config or DEFAULT_CONFIG, until=fit_until, replications=replications, max_evaluations=max_evaluations)
    fit = calibrate.calibrate(cal, executor=executor, progress=progress)
    full = cal.base if cal.config.horizon is None else cal.base.model_copy(update={"horizon": cal.config.horizon})
    obs = cal.observations
    names = list(dict.fromkeys(obs["output"]))
    sims = experiment.evaluate(full, fit.values, names, cal.seeds(), executor=executor)
    sim = sims[:, [names.index(o) for o in obs["output"]]]
    table = compare(obs, sim, _status(cal, obs, fit_until), cal.model_files)
    return HindcastResult(fit, full, fit_until, table, judge(table), summarise(table), round(time.perf_counter() - started, 1))


# ---- outputs -----------------------------------------------------------------------------------
def stadtteil_table(table: pd.DataFrame) -> pd.DataFrame:
    sub = table[table["series"] == "stadtteil_total"]
    return sub[["area", "date", "observed", "simulated", "simulated_min", "simulated_max", "error", "relative_error", "status", "source"]]


def write_outputs(result: HindcastResult, out_dir: Path, command: str, figures: bool = True) -> Path:
    """Every hindcast output into ``out_dir`` (replaced atomically)."""
    from simulation.outputs import atomic_directory

    with atomic_directory(Path(out_dir)) as tmp:
        calibrate.write_calibration_files(result.fit, tmp, Path(out_dir), command, figures=False)
        (tmp / "fit_report.html").unlink()  # the hindcast report covers the fit
        result.table.to_csv(tmp / "hindcast.csv", index=False)
        result.criteria.to_csv(tmp / "criteria.csv", index=False)
        result.summary.to_csv(tmp / "summary.csv", index=False)
        stadtteil_table(result.table).to_csv(tmp / "stadtteile.csv", index=False)
        pictures = []
        if figures:
            for series, rows in result.table.groupby("series", sort=False):
                path = tmp / f"hindcast_{series}.png"
                pictures.append(calibrate.plot_observed_simulated(rows, path, f"{series}: observed and simulated", cut=result.fit_until))
            pictures.append(calibrate.plot_convergence(result.fit.evaluations, tmp / "convergence.png"))
        (tmp / "hindcast_report.html").write_text(report(result, pictures, command), encoding="utf-8")
        manifest = {**calibrate.manifest(result.fit, command), "hindcast": {"fit_until": result.fit_until, "seconds": result.seconds}}
        manifest["full_run"] = result.scenario.model_dump(mode="json")
        manifest["criteria"] = result.criteria.to_dict(orient="records")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return Path(out_dir)


def _listing(table: pd.DataFrame) -> str:
    """'series: area date, ...' per series, for the statement of what was fitted or held out."""
    if table.empty:
        return "<p>none</p>"
    items = []
    for series, rows in table.groupby("series", sort=False):
        what = ", ".join(f"{a}{'' if g == 'all' else ' ' + g} {d}" for a, g, d in zip(rows["area"], rows["group"], rows["date"]))
        items.append(f"<li><b>{html.escape(series)}</b> ({len(rows)}): {html.escape(what)}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _rows_html(table: pd.DataFrame) -> str:
    """The observation table, each row keyed by series|area|group|date (data-key)."""
    head = ["series", "area", "group", "date", "observed", "simulated", "range over replications", "error", "error %", "status"]
    body = []
    for r in table.itertuples():
        share = r.unit == "share"
        fmt = (lambda v: f"{100 * v:.2f} %") if share else (lambda v: f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}")
        error = f"{100 * r.error:+.2f} pp" if share else f"{r.error:+,.1f}"
        cells = [
            html.escape(r.series),
            html.escape(r.area),
            html.escape(r.group),
            r.date,
            fmt(r.observed),
            fmt(r.simulated),
            f"{fmt(r.simulated_min)} – {fmt(r.simulated_max)}",
            error,
            f"{100 * r.relative_error:+.2f}",
            r.status,
        ]
        key = html.escape(f"{r.series}|{r.area}|{r.group}|{r.date}", quote=True)
        body.append(f'<tr data-key="{key}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def report(result: HindcastResult, pictures: list[Path], command: str) -> str:
    fit, table = result.fit, result.table
    cal = fit.calibration
    sc = result.scenario
    fitted, held, other = (table[table["status"] == s] for s in (FITTED, HELD_OUT, NOT_FITTED))
    params = calibrate.parameters_table(fit)
    intro = (
        f"<p>Command <code>{html.escape(command)}</code>. The model starts from <code>{html.escape(str(cal.scenario_path))}</code> "
        f"(base year {sc.base_year}, areas {html.escape(str(sc.areas))}) and runs to {sc.base_year + sc.horizon}. "
        f"The parameters below were fitted with <code>{html.escape(str(cal.path))}</code> (method {cal.config.method}: "
        f"{html.escape(fit.message)}; {len(fit.evaluations)} points × {cal.config.replications} replications with the same model seeds) "
        f"<b>only on observations up to 31 Dec {result.fit_until}</b>; every later observation was held out and is compared "
        f"here with the run at the fitted values (mean and range over the {cal.config.replications} replications). "
        f"Total time {result.seconds} s.</p>"
    )
    statement = (
        f"<h3>Fitted ({len(fitted)} observations)</h3>{_listing(fitted)}"
        f"<h3>Held out ({len(held)} observations)</h3>{_listing(held)}"
        f"<h3>Before the cut but not a target ({len(other)} observations)</h3>{_listing(other)}"
    )
    if cal.dropped_targets:
        statement += (
            "<p>Targets of the config without an observation up to the cut: " + html.escape("; ".join(cal.dropped_targets)) + "</p>"
        )
    inputs = sorted(set(held.loc[held["read_by_model"], "source"]))
    if inputs:
        statement += (
            "<p><b>Not independent:</b> the model also reads "
            + ", ".join(f"<code>{html.escape(f)}</code>" for f in inputs)
            + f" ({int(held['read_by_model'].sum())} held-out observations come from these files). Where it builds the base "
            "population or its trends from them, those figures test the model less than the others.</p>"
        )
    else:
        statement += "<p>The model reads none of the files the held-out observations come from.</p>"
    crit = result.criteria.copy()
    crit_html = calibrate.html_table(crit, {"value": ".2f", "limit": ".2f"})
    for verdict, cls in (("not met", "bad"), ("met", "good")):
        crit_html = crit_html.replace(f"<td>{verdict}</td>", f'<td class="{cls}">{verdict}</td>')
    per_area = (
        stadtteil_table(table).assign(relative_error=lambda f: 100 * f["relative_error"]).rename(columns={"relative_error": "error %"})
    )
    sections = [
        ("setup", "What was done", intro + calibrate.html_table(params)),
        ("statement", "Which figures were fitted and which held out", statement),
        ("criteria", "Targets on the held-out figures", crit_html),
        ("summary", "Errors per series", calibrate.html_table(result.summary, {"mape_pct": ".2f", "max_abs_rel_pct": ".2f"})),
        ("held-out", "Every held-out observation", _rows_html(held)),
        ("stadtteile", "Stadtteil totals per area", calibrate.html_table(per_area, {"error %": "+.2f"})),
        ("fitted", "Fitted and other in-sample observations", _rows_html(pd.concat([fitted, other]))),
        ("figures", "Figures", "".join(calibrate.html_figure(p) for p in pictures)),
        ("sources", "Data sources", calibrate.sources_html(table, cal.input_files)),
    ]
    return calibrate.html_document(f"Hindcast {sc.base_year}–{sc.base_year + sc.horizon}, fitted up to {result.fit_until}", sections)
