"""The page's charts as PNG bytes: plain bars, lines and a map, baseline (blue) beside scenario
(orange), each value with the range of the runs as a thin line or a light band.

Drawn with matplotlib's object API (no pyplot state, so sessions can draw at the same time) and
without a layout engine (fixed margins): a chart takes well under 0.1 s. Colours and the grey
of areas outside the run are the reports' (``simulation.plots``), numbers are formatted by
``localise.Numbers``, the Stadtteil outlines come from the boundaries file
(``geography.GEOJSON``).
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from simulation import data, geography, plots
from simulation.localise import Numbers
from simulation.workshop.answers import Answers, formatted
from simulation.workshop.texts import text

COLOURS = {"left": plots.OKABE_ITO[0], "right": plots.OKABE_ITO[1]}
DPI = 90
WIDTH = 8.6  # inches: the page shows the charts about 770 pixels wide
LABELS = 2.3 / WIDTH  # left margin of charts with labelled rows
RIGHT = 0.97
SMALL, TEXT, TITLE = 8.5, 9.5, 11  # font sizes: ticks and labels, axis names and legends, titles


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _numbers(axis, fmt: Numbers, family: str) -> None:
    """Tick labels in the page's language; index axes with one decimal (0,2 0,4 ...)."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt.value(v, "rate" if family == "index" else family)))


def _legend(ax) -> None:
    """The legend above the plot, at the right (the title is at the left), never over a bar."""
    ax.legend(fontsize=TEXT, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, borderaxespad=0.2)


def _frame(ax, title: str) -> None:
    ax.set_title(title, fontsize=TITLE, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=SMALL)
    ax.grid(alpha=0.25, axis="both")
    ax.set_axisbelow(True)


def _paired_bars(ax, frame: pd.DataFrame, names: tuple[str, str], fmt: Numbers, family: str, horizontal: bool = True) -> None:
    """Left and right means of each row as two bars with the range of the runs as a thin line."""
    pos = np.arange(len(frame))
    width = 0.38
    for k, side in enumerate(("left", "right")):
        at = pos + (k - 0.5) * width  # horizontal bars run top down: left above right
        mean = frame[f"{side}_mean"].fillna(0).to_numpy(float)
        low, high = frame[f"{side}_low"].to_numpy(float), frame[f"{side}_high"].to_numpy(float)
        error = np.nan_to_num(np.vstack([mean - low, high - mean]))
        if horizontal:
            ax.barh(at, mean, height=width, color=COLOURS[side], label=names[k], xerr=error, error_kw={"lw": 0.8, "capsize": 1.5})
        else:
            ax.bar(at, mean, width=width, color=COLOURS[side], label=names[k], yerr=error, error_kw={"lw": 0.8, "capsize": 1.5})
    labels = frame["label"].tolist()
    if horizontal:
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
        _numbers(ax.xaxis, fmt, family)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    else:
        ax.set_xticks(pos, labels)
        _numbers(ax.yaxis, fmt, family)
    # the axis starts at zero: bars stick to it, so autoscaling never pads below (and still takes in what is drawn later)


def age_chart(a: Answers, names: tuple[str, str]) -> bytes:
    fmt = Numbers(a.lang)
    fig = Figure(figsize=(WIDTH, 3.4))
    ax = fig.add_axes((0.09, 0.14, 0.88, 0.74))
    _paired_bars(ax, a.ages, names, fmt, "count", horizontal=False)
    _frame(ax, text(a.lang, "age_title", year=a.year))
    ax.set_ylabel(text(a.lang, "age_axis"), fontsize=TEXT)
    _legend(ax)
    return _png(fig)


def _rows_chart(frame: pd.DataFrame, names: tuple[str, str], fmt: Numbers, family: str, title: str, xlabel: str, row: float = 0.42):
    """A chart of paired horizontal bars, as high as its rows; returns the figure and its axes."""
    height = row * len(frame) + 1.1  # inches: the rows, the title and the axis below
    fig = Figure(figsize=(WIDTH, height))
    ax = fig.add_axes((LABELS, 0.55 / height, RIGHT - LABELS, row * len(frame) / height))
    _paired_bars(ax, frame, names, fmt, family)
    _frame(ax, title)
    ax.set_xlabel(xlabel, fontsize=TEXT)
    return fig, ax


def services_chart(a: Answers, names: tuple[str, str]) -> bytes:
    """Demand of every service with places (bars) against its places (black lines)."""
    frame = a.services
    fig, ax = _rows_chart(frame, names, Numbers(a.lang), "count", text(a.lang, "services_title", year=a.year), text(a.lang, "users_axis"))
    pos = np.arange(len(frame))
    for k, side in enumerate(("left", "right")):
        label = text(a.lang, "places") if k else None
        ax.plot(frame[f"{side}_places"], pos + (k - 0.5) * 0.38, "|", color="black", markersize=9, mew=2, label=label)
    _legend(ax)
    return _png(fig)


def unmet_chart(a: Answers, names: tuple[str, str], service_label: str) -> bytes:
    """Unmet need of one service by migration background, income and household type: one panel
    each, as high as its rows."""
    fmt = Numbers(a.lang)
    row, gap, top = 0.34, 0.8, 0.85  # inches: a bar pair, the space between panels, the titles at the top
    rows = [len(frame) for frame in a.unmet.values()]
    height = row * sum(rows) + gap * len(rows) + top
    fig = Figure(figsize=(WIDTH, height))
    fig.suptitle(f"{text(a.lang, 'unmet_title', year=a.year)}: {service_label}", fontsize=TITLE, x=0.02, ha="left")
    y = height - top  # panels from the top down, each with its title in the gap above it
    for (title, frame), n in zip(a.unmet.items(), rows):
        y -= row * n
        ax = fig.add_axes((LABELS, y / height, RIGHT - LABELS, row * n / height))
        y -= gap
        _paired_bars(ax, frame, names, fmt, "count")
        _frame(ax, title)
        ax.title.set_fontsize(TEXT)
    _legend(fig.axes[0])
    return _png(fig)


def unmet_ages_chart(a: Answers, names: tuple[str, str]) -> bytes:
    """Unmet need of every service, ordered by the ages the service is for."""
    title = text(a.lang, "unmet_ages_title", year=a.year)
    fig, ax = _rows_chart(a.unmet_ages, names, Numbers(a.lang), "count", title, text(a.lang, "unmet_axis"), row=0.36)
    _legend(ax)
    return _png(fig)


def cohesion_chart(a: Answers, names: tuple[str, str]) -> bytes:
    """The cohesion index and its parts, on their scale from 0 to 1."""
    title = f"{text(a.lang, 'cohesion_title')}, {a.year}"
    fig, ax = _rows_chart(a.cohesion, names, Numbers(a.lang), "index", title, text(a.lang, "cohesion_axis"), row=0.36)
    ax.set_xlim(0, 1)
    _legend(ax)
    return _png(fig)


def series_chart(a: Answers, names: tuple[str, str]) -> bytes:
    """The chosen indicator in the district over the years, mean and range of the runs."""
    fmt = Numbers(a.lang)
    fig = Figure(figsize=(WIDTH, 3.0))
    ax = fig.add_axes((0.09, 0.14, 0.88, 0.74))
    s = a.series
    for k, side in enumerate(("left", "right")):
        ax.fill_between(s["year"], s[f"{side}_low"], s[f"{side}_high"], color=COLOURS[side], alpha=0.2, linewidth=0)
        ax.plot(s["year"], s[f"{side}_mean"], color=COLOURS[side], label=names[k], marker="o", markersize=2.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=7))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: str(int(v))))
    _numbers(ax.yaxis, fmt, a.family)
    low = np.nanmin(s[["left_low", "right_low"]].to_numpy(float)) if len(s) else 0.0
    if a.family == "index":
        ax.set_ylim(0, 1)
    elif np.isfinite(low) and low >= 0:
        ax.set_ylim(bottom=0)
    _frame(ax, a.indicator)
    ax.legend(fontsize=TEXT, frameon=False, loc="best")
    return _png(fig)


@lru_cache(maxsize=2)
def _outlines(data_dir: Path) -> tuple[dict[int, list[np.ndarray]], dict[str, int]]:
    rings = plots._rings(Path(data_dir) / geography.GEOJSON)
    numbers = dict(zip(*data.load_areas(Path(data_dir)).frame[["area", "area_nr"]].to_numpy().T))
    return rings, {a: int(n) for a, n in numbers.items()}


def map_chart(a: Answers, names: tuple[str, str], data_dir: Path) -> tuple[bytes, list[str]]:
    """Two maps of the Stadtteile, left and right, coloured by the chosen indicator on one scale,
    zoomed to the run's areas (others grey). Returns the PNG and the run's areas that have no
    polygon of their own in the boundaries file (the page lists them beside the map)."""
    fmt = Numbers(a.lang)
    rings, numbers = _outlines(Path(data_dir))
    values = a.areas.set_index("area")
    inside = {numbers[area]: area for area in values.index if numbers.get(area) in rings}
    missing = sorted(area for area in values.index if numbers.get(area) not in rings)
    both = values[["left_mean", "right_mean"]].to_numpy(float)
    finite = both[np.isfinite(both)]
    norm = Normalize(
        vmin=min(0.0, float(finite.min())) if finite.size else 0.0, vmax=float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    )
    cmap = colormaps[plots.SHARE_CMAP]
    own = [ring for nr in inside for ring in rings[nr]]
    points = np.vstack(own) if own else np.vstack([r for rs in rings.values() for r in rs])
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    pad = 0.06 * max(x1 - x0, y1 - y0)
    stretch = 1.0 / np.cos(np.radians(float(points[:, 1].mean())))  # degrees of longitude are shorter
    ratio = (y1 - y0 + 2 * pad) * stretch / (x1 - x0 + 2 * pad)  # height / width of a map
    beside = ratio >= 0.75  # a wide district (Gallus) gets its two maps one above the other
    width = (0.43 if beside else 0.84) * WIDTH  # inches of one map
    height = width * ratio
    title, note, caption = 0.6, 0.35, 0.3  # inches: the figure's title, the note below, a map's title
    total = title + note + (height + caption) * (1 if beside else 2)
    fig = Figure(figsize=(WIDTH, total))
    fig.suptitle(text(a.lang, "map_title", indicator=a.indicator, year=a.year), fontsize=TITLE, x=0.02, ha="left")
    for k, side in enumerate(("left", "right")):
        bottom = note if beside else note + (1 - k) * (height + caption)
        ax = fig.add_axes(((0.01 + 0.44 * k) if beside else 0.01, bottom / total, width / WIDTH, height / total))
        polys, colours = [], []
        for nr, parts in rings.items():
            area = inside.get(nr)
            value = values.at[area, f"{side}_mean"] if area is not None else np.nan
            colour = cmap(norm(value)) if np.isfinite(value) else plots.OUTSIDE
            polys += parts
            colours += [colour] * len(parts)
        ax.add_collection(PolyCollection(polys, facecolors=colours, edgecolors="white", linewidths=0.6))
        for nr, area in inside.items():
            centre = max(rings[nr], key=len).mean(axis=0)
            label = f"{area}\n{formatted(values.at[area, f'{side}_mean'], a.family, fmt)}"
            ax.annotate(
                label,
                centre,
                fontsize=SMALL,
                ha="center",
                va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.75, "lw": 0},
            )
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        ax.set_aspect(stretch)
        ax.set_axis_off()
        ax.set_title(names[k], fontsize=TITLE, color=COLOURS[side], fontweight="bold")
    bar = fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap), cax=fig.add_axes((0.91, note / total, 0.015, 0.8 * (total - title - note) / total))
    )
    _numbers(bar.ax.yaxis, fmt, a.family)
    bar.ax.tick_params(labelsize=SMALL)
    fig.text(0.02, 0.1 / total, text(a.lang, "map_outside"), fontsize=SMALL, color="#666666")
    return _png(fig), missing
