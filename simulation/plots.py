"""Figures of runs and comparisons (PNG), in the report's language.

Every figure has a title and labelled axes with units; numbers on axes are formatted like the
report's (``localise.Numbers``). Colours are colour-blind safe: the Okabe-Ito palette for lines,
``cividis`` for shares and ``PuOr`` (diverging, centred on zero) for differences, each map and
grid scaled for its own indicator. Axes do not exaggerate: counts start at zero, indices show
0 to 1, and effect charts always show the zero line.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.patches import Polygon as PolygonPatch  # noqa: E402
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator  # noqa: E402

from simulation.localise import Numbers  # noqa: E402
from simulation.metrics import AGE_BANDS  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MEASURE_COLOURS = {"demand": "#E69F00", "capacity": "#0072B2", "served": "#009E73", "unmet": "#D55E00"}
SEX_COLOURS = {"male": "#0072B2", "female": "#E69F00"}
SHARE_CMAP = "cividis"
DIFFERENCE_CMAP = "PuOr_r"
OUTSIDE = "#dddddd"  # areas outside the run on maps

TEXT = {
    "de": {
        "year": "Jahr (31.12.)",
        "residents_k": "Einwohnerinnen und Einwohner (Tausend)",
        "population_title": "Bevölkerung je Sozialrathausbezirk",
        "persons_k": "Personen (Tausend): Männer links, Frauen rechts",
        "pyramid_title": "Altersaufbau {first} (Umriss) und {last} (Balken)",
        "men": "Männer",
        "women": "Frauen",
        "age": "Alter (Jahre)",
        "demand": "Nachfrage {year}",
        "places": "Kapazität {year}",
        "places_first": "Kapazität {year}",
        "demand_title": "Nachfrage und Kapazität je Sozialrathausbezirk, {year}",
        "users": "Nutzende (Kapazität umgerechnet)",
        "coverage": "Anteil der gedeckten Nachfrage",
        "coverage_title": "Gedeckte Nachfrage je Stadtteil und Angebot, {year}",
        "small": " (* kleiner Stadtteil)",
        "mean_band": "Mittelwert und 90-%-Band über {n} Läufe",
        "mean_only": "ein Lauf, kein Band",
        "difference": "Unterschied zur Basis ({unit})",
        "zero": "kein Unterschied",
        "outside": "nicht gerechnet",
        "structure_title": "Altersaufbau {unit} {year} (Mittelwert der Läufe)",
    },
    "en": {
        "year": "Year (31 Dec)",
        "residents_k": "Residents (thousands)",
        "population_title": "Population by Sozialrathaus district",
        "persons_k": "Persons (thousands): men left, women right",
        "pyramid_title": "Age pyramid, {first} (outline) and {last} (bars)",
        "men": "men",
        "women": "women",
        "age": "Age (years)",
        "demand": "demand {year}",
        "places": "capacity {year}",
        "places_first": "capacity {year}",
        "demand_title": "Demand and capacity per Sozialrathaus district, {year}",
        "users": "Users (capacity converted)",
        "coverage": "share of demand met",
        "coverage_title": "Share of demand met per area and service, {year}",
        "small": " (* small area)",
        "mean_band": "mean and 90 % band over {n} runs",
        "mean_only": "one run, no band",
        "difference": "Difference from baseline ({unit})",
        "zero": "no difference",
        "outside": "not simulated",
        "structure_title": "Age structure, {unit}, {year} (mean of runs)",
    },
}


@dataclass(frozen=True)
class Picture:
    """A written figure: its file, its title (also inside the PNG) and a caption for the report."""

    path: Path
    title: str
    caption: str = ""


@dataclass(frozen=True)
class Line:
    """One line of an effect chart: a label, the years, the mean and the 90 % band (NaN: none)."""

    label: str
    colour: str
    years: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _save(fig, path: Path, dpi: int = 100) -> Path:
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


class _Ticks(Formatter):
    """Tick labels in the report's number format, with as many decimals as the tick step needs
    (0,0005 steps get four, 2,5 steps one, 20 steps none)."""

    def __init__(self, fmt: Numbers, absolute: bool = False):
        self.fmt, self.absolute, self.decimals = fmt, absolute, 0

    def set_locs(self, locs) -> None:
        locs = np.asarray(locs, float)
        step = float(np.min(np.diff(locs))) if len(locs) > 1 else 1.0
        self.decimals = next((d for d in range(7) if abs(round(step, d) - step) <= 1e-9 * max(1.0, abs(step))), 6)

    def __call__(self, x, pos=None):
        return self.fmt.fixed(abs(x) if self.absolute else x, self.decimals)


def _number_axis(axis, fmt: Numbers, absolute: bool = False) -> None:
    axis.set_major_formatter(_Ticks(fmt, absolute))


def _title(text: str, inches: float, size: float = 10) -> str:
    """A title wrapped to the figure's width (about 13 characters per inch at 10 points)."""
    return textwrap.fill(text, width=max(30, int(inches * 130 / size)))


def _year_axis(ax, fmt: Numbers) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: str(int(v))))
    ax.set_xlabel(TEXT[fmt.lang]["year"], fontsize=8)


def population_by_sozialrathaus(population: pd.DataFrame, path: Path, fmt: Numbers) -> Picture:
    t = TEXT[fmt.lang]
    table = population.groupby(["year", "sozialrathaus"])["persons"].sum().unstack("sozialrathaus")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, name in enumerate(table.columns):
        ax.plot(table.index, table[name] / 1000.0, marker="o", markersize=2.5, label=name, color=OKABE_ITO[k % len(OKABE_ITO)])
    _year_axis(ax, fmt)
    ax.set_ylabel(t["residents_k"])
    ax.set_ylim(bottom=0)
    _number_axis(ax.yaxis, fmt)
    ax.set_title(t["population_title"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return Picture(_save(fig, path), t["population_title"])


def age_pyramid(population: pd.DataFrame, path: Path, fmt: Numbers) -> Picture:
    """Age pyramid by sex, base year (outline) against the last year (bars), 5-year groups."""
    t = TEXT[fmt.lang]
    first, last = int(population["year"].min()), int(population["year"].max())
    fig, ax = plt.subplots(figsize=(7, 6))
    bins = np.arange(0, 105, 5)
    for year, style in ((last, {"alpha": 0.6}), (first, {"fill": False, "linewidth": 0.8})):
        sub = population[population["year"] == year]
        grouped = (
            sub.assign(group=(sub["age"] // 5) * 5).groupby(["group", "sex"])["persons"].sum().unstack("sex").reindex(bins, fill_value=0)
        )
        for sex, sign, word in (("male", -1, t["men"]), ("female", 1, t["women"])):
            colour = SEX_COLOURS[sex]
            extra = {"edgecolor": "black"} if "fill" in style else {"color": colour}
            ax.barh(bins, sign * grouped.get(sex, 0) / 1000.0, height=4.5, label=f"{word} {year}", **style, **extra)
    ax.set_yticks(bins)
    ax.set_yticklabels([f"{b}–{b + 4}" if b < 100 else "100+" for b in bins], fontsize=7)
    ax.set_ylabel(t["age"])
    ax.set_xlabel(t["persons_k"])
    _number_axis(ax.xaxis, fmt, absolute=True)
    title = t["pyramid_title"].format(first=first, last=last)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return Picture(_save(fig, path), title)


def service_demand_capacity(services: pd.DataFrame, path: Path, fmt: Numbers, glossary) -> Picture:
    """Per service with places (one panel each) and Sozialrathaus district: demand and capacity
    (converted to users) in the last year, with the base year's capacity as a marker."""
    t = TEXT[fmt.lang]
    first, last = int(services["year"].min()), int(services["year"].max())
    limited = services.groupby("service")["capacity"].apply(lambda c: c.notna().any())
    names = [s for s in services["service"].unique() if limited[s]]
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(12, 3.3 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        sub = services[services["service"] == name]
        per_user = glossary.services[name].units_per_user
        g = sub.groupby(["year", "sozialrathaus"])[["demand", "capacity"]].sum()
        end, start = g.loc[last], g.loc[first]
        x = np.arange(len(end))
        ax.bar(x - 0.2, end["demand"], width=0.4, label=t["demand"].format(year=last), color=MEASURE_COLOURS["demand"])
        ax.bar(x + 0.2, end["capacity"] / per_user, width=0.4, label=t["places"].format(year=last), color=MEASURE_COLOURS["capacity"])
        ax.plot(x + 0.2, start["capacity"] / per_user, "k_", markersize=14, label=t["places_first"].format(year=first))
        ax.set_xticks(x)
        ax.set_xticklabels(end.index, rotation=35, ha="right", fontsize=7)
        ax.set_title(glossary.service(name), fontsize=8)
        ax.set_ylabel(glossary.service_users(name), fontsize=7)
        _number_axis(ax.yaxis, fmt)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    title = t["demand_title"].format(year=last)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return Picture(_save(fig, path), title)


def service_coverage_grid(services: pd.DataFrame, path: Path, fmt: Numbers, glossary, small: frozenset = frozenset()) -> Picture:
    """Areas (rows, grouped by district) x services: share of demand met in the last year (small areas marked *)."""
    t = TEXT[fmt.lang]
    last = int(services["year"].max())
    sub = services[services["year"] == last].copy()
    sub["met"] = np.where(sub["demand"] > 0, sub["served"] / sub["demand"].where(sub["demand"] > 0), np.nan)
    grid = sub.pivot_table(index=["sozialrathaus", "area"], columns="service", values="met", aggfunc="first").sort_index()
    values = grid.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(2.5 + 0.8 * grid.shape[1], 1.8 + 0.22 * grid.shape[0]))
    image = ax.imshow(values, cmap=SHARE_CMAP, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(grid.shape[1]))
    ax.set_xticklabels([glossary.service(s) for s in grid.columns], rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(grid.shape[0]))
    ax.set_yticklabels([f"{a}{' *' if a in small else ''} ({s})" for s, a in grid.index], fontsize=7)
    bar = fig.colorbar(image, ax=ax, fraction=0.03, label=t["coverage"])
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.percent(v)))
    title = t["coverage_title"].format(year=last) + (t["small"] if small else "")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return Picture(_save(fig, path), title)


def run_figures(tables: dict[str, pd.DataFrame], folder: Path, fmt: Numbers, glossary) -> list[Picture]:
    """The figures of one run."""
    small = frozenset(tables["areas"].loc[tables["areas"]["small_area"], "area"])
    return [
        population_by_sozialrathaus(tables["population"], folder / "population_by_sozialrathaus.png", fmt),
        age_pyramid(tables["population"], folder / "age_pyramid.png", fmt),
        service_demand_capacity(tables["services"], folder / "service_demand_capacity.png", fmt, glossary),
        service_coverage_grid(tables["services"], folder / "service_coverage_grid.png", fmt, glossary, small),
    ]


def _limits(family: str, low: float, high: float) -> tuple[float | None, float | None]:
    """Level axes that do not exaggerate: counts and rates from zero, indices 0 to 1."""
    if family == "index":
        return 0.0, max(1.0, high)
    return (0.0, None) if low >= 0 else (None, None)


def _panel_grid(panels: list[tuple[str, list[Line]]], title: str, ylabel: str, path: Path, fmt: Numbers, draw) -> Path:
    """Small panels (one per unit, three to a row) that share the year axis; ``draw(ax, lines)`` fills each."""
    cols = min(3, len(panels))
    rows = int(np.ceil(len(panels) / cols))
    width = max(6.5, 4.0 * cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width, 2.7 * rows + 0.8), squeeze=False)
    for ax, (name, lines) in zip(axes.ravel(), panels):
        draw(ax, lines)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=7)
        _year_axis(ax, fmt)
        _number_axis(ax.yaxis, fmt)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(_title(title, width), fontsize=10)
    fig.tight_layout()
    return _save(fig, path, dpi=80)


def fan_chart(
    panels: list[tuple[str, list[Line]]], title: str, ylabel: str, family: str, path: Path, fmt: Numbers, replications: int
) -> Picture:
    """Levels over time, one panel per unit, one line per scenario: the mean with the 90 % band."""
    t = TEXT[fmt.lang]

    def draw(ax, lines: list[Line]) -> None:
        for line in lines:
            if replications > 1:
                ax.fill_between(line.years, line.low, line.high, color=line.colour, alpha=0.18, linewidth=0)
            ax.plot(line.years, line.mean, color=line.colour, label=line.label)
        means = np.concatenate([line.mean for line in lines])
        ax.set_ylim(*_limits(family, np.nanmin(means), np.nanmax(means)))

    note = t["mean_band"].format(n=replications) if replications > 1 else t["mean_only"]
    return Picture(_panel_grid(panels, f"{title} – {note}", ylabel, path, fmt, draw), title, note)


def effect_chart(panels: list[tuple[str, list[Line]]], title: str, unit: str, family: str, path: Path, fmt: Numbers) -> Picture:
    """Paired differences scenario - baseline over time: one small panel per unit, one line per
    measure with its 90 % band, and the zero line."""

    def draw(ax, lines: list[Line]) -> None:
        ax.axhline(0.0, color="black", linewidth=0.8)
        for line in lines:
            ax.fill_between(line.years, line.low, line.high, color=line.colour, alpha=0.25, linewidth=0)
            ax.plot(line.years, line.mean, color=line.colour, label=line.label, marker="o", markersize=2.5)

    return Picture(_panel_grid(panels, title, TEXT[fmt.lang]["difference"].format(unit=unit), path, fmt, draw), title)


def pyramid_comparison(summaries: dict[str, pd.DataFrame], year: int, path: Path, fmt: Numbers, unit: str) -> Picture:
    """Age structure by sex of the run's areas (city rows; mean of replications) in ``year``: bars
    for the first scenario, outlines for the others. ``unit``: how the report names the city rows."""
    t = TEXT[fmt.lang]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    y = np.arange(len(AGE_BANDS))
    for k, (name, summary) in enumerate(summaries.items()):
        s = summary[(summary["table"] == "population") & (summary["level"] == "city") & (summary["year"] == year)]
        s = s.set_index("indicator")["mean"]
        men = np.array([s.get(f"persons_male_{b}", 0.0) for b in AGE_BANDS]) / 1000.0
        women = np.array([s.get(f"persons_female_{b}", 0.0) for b in AGE_BANDS]) / 1000.0
        for values, sex, word in ((-men, "male", t["men"]), (women, "female", t["women"])):
            if k == 0:
                ax.barh(y, values, height=0.8, color=SEX_COLOURS[sex], alpha=0.5, label=f"{word}, {name}")
            else:
                colour = OKABE_ITO[(k + 1) % len(OKABE_ITO)]
                ax.barh(y, values, height=0.8, fill=False, linewidth=1.2, edgecolor=colour, label=f"{word}, {name}")
    ax.set_yticks(y)
    ax.set_yticklabels([b.replace("_", "–").replace("plus", "+") for b in AGE_BANDS])
    ax.set_ylabel(t["age"])
    ax.set_xlabel(t["persons_k"])
    _number_axis(ax.xaxis, fmt, absolute=True)
    title = t["structure_title"].format(year=year, unit=unit)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Picture(_save(fig, path, dpi=80), title)


def _rings(boundaries: Path) -> dict[int, list[np.ndarray]]:
    """Stadtteil number -> its polygons' outer rings (lon, lat)."""
    features = json.loads(Path(boundaries).read_text(encoding="utf-8"))["features"]
    out: dict[int, list[np.ndarray]] = {}
    for f in features:
        geometry = f["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        out.setdefault(int(f["properties"]["STTLNR"]), []).extend(np.asarray(p[0], float) for p in polygons)
    return out


def label_area(ax, centre, text: str) -> None:
    """A small boxed label (name and value) at an area's centre on a map."""
    box = {"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.75, "lw": 0}
    ax.annotate(text, centre, fontsize=6.5, ha="center", va="center", bbox=box)


def area_map(
    values: pd.Series,
    numbers: dict[str, int],
    boundaries: Path,
    title: str,
    label: str,
    family: str,
    path: Path,
    fmt: Numbers,
    highlight: Sequence[str] = (),
) -> tuple[Picture, list[str]]:
    """The Stadtteile coloured by ``values`` (by area name; a difference, centred on zero), areas
    outside the run in grey. ``numbers``: Stadtteil number of every area. Returns the picture and
    the areas of ``values`` that have no polygon of their own in the boundaries file."""
    t = TEXT[fmt.lang]
    rings = _rings(boundaries)
    name_of = {nr: area for area, nr in numbers.items()}
    limit = float(np.nanmax(np.abs(values.to_numpy(float)))) if len(values) else 0.0
    limit = limit or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    cmap = plt.get_cmap(DIFFERENCE_CMAP)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    lat = np.mean([r[:, 1].mean() for rs in rings.values() for r in rs])
    for nr, parts in rings.items():
        area = name_of.get(nr)
        inside = area in values.index
        colour = cmap(norm(values[area])) if inside and np.isfinite(values[area]) else OUTSIDE
        for ring in parts:
            ax.add_patch(PolygonPatch(ring, closed=True, facecolor=colour, edgecolor="white" if not inside else "#555555", linewidth=0.5))
        if inside and (len(values) <= 12 or area in highlight or abs(values[area]) >= 0.25 * limit):
            label_area(ax, max(parts, key=len).mean(axis=0), f"{area}\n{fmt.signed(values[area], family)}")
    ax.autoscale_view()
    shown = [ring for nr, parts in rings.items() if name_of.get(nr) in values.index for ring in parts]
    if shown and len(shown) < sum(len(parts) for parts in rings.values()):  # a run of some areas: zoom to them
        points = np.concatenate(shown)
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        margin = 0.25 * max(x1 - x0, y1 - y0)
        ax.set_xlim(x0 - margin, x1 + margin)
        ax.set_ylim(y0 - margin, y1 + margin)
    ax.set_aspect(1.0 / np.cos(np.radians(lat)))
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = fig.colorbar(mappable, ax=ax, fraction=0.035, label=label)
    _number_axis(bar.ax.yaxis, fmt)
    if any(name_of.get(nr) not in values.index for nr in rings):
        ax.legend(handles=[Patch(facecolor=OUTSIDE, label=t["outside"])], fontsize=7, loc="lower left")
    ax.set_title(_title(title, 6.4), fontsize=10)
    fig.tight_layout()
    missing = sorted(a for a in values.index if numbers.get(a) not in rings)
    return Picture(_save(fig, path, dpi=80), title), missing
