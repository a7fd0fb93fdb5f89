"""Figures of a run (PNG): population per Sozialrathaus district over time, age pyramid."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simulation.vocabulary import CITY  # noqa: E402


def population_by_sozialrathaus(population: pd.DataFrame, path: Path) -> Path:
    table = population.groupby(["year", "sozialrathaus"])["persons"].sum().unstack("sozialrathaus")
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name in table.columns:
        ax.plot(table.index, table[name] / 1000.0, marker="o", markersize=2.5, label=name)
    ax.set_xlabel("Year (31 Dec)")
    ax.set_ylabel("Residents (thousands)")
    ax.set_title("Population by Sozialrathaus district")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def age_pyramid(population: pd.DataFrame, path: Path) -> Path:
    """City age pyramid by sex, base year (outline) against the last year (bars), 5-year groups."""
    first, last = population["year"].min(), population["year"].max()
    fig, ax = plt.subplots(figsize=(8, 7))
    bins = np.arange(0, 105, 5)
    for year, style in ((last, {"alpha": 0.6}), (first, {"fill": False, "edgecolor": "black", "linewidth": 0.8})):
        sub = population[population["year"] == year]
        grouped = (
            sub.assign(group=(sub["age"] // 5) * 5).groupby(["group", "sex"])["persons"].sum().unstack("sex").reindex(bins, fill_value=0)
        )
        label = f"{year}"
        ax.barh(bins, -grouped.get("male", 0) / 1000.0, height=4.5, color="tab:blue", label=f"men {label}", **style)
        ax.barh(bins, grouped.get("female", 0) / 1000.0, height=4.5, color="tab:red", label=f"women {label}", **style)
    ax.set_yticks(bins)
    ax.set_yticklabels([f"{b}-{b + 4}" if b < 100 else "100+" for b in bins], fontsize=7)
    ax.set_xlabel("Persons (thousands): men left, women right")
    ax.set_title(f"Age pyramid, {first} (outline) and {last} (bars)")
    ticks = ax.get_xticks()
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{abs(t):g}" for t in ticks])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def service_demand_capacity(services: pd.DataFrame, path: Path) -> Path:
    """Per service (one panel each) and Sozialrathaus district: demand and places in the last year,
    with the base year's places as a marker. Services without a capacity limit are left out."""
    first, last = services["year"].min(), services["year"].max()
    limited = services.groupby("service")["capacity"].apply(lambda c: c.notna().any())
    names = [s for s in services["service"].unique() if limited[s]]
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        sub = services[services["service"] == name]
        units = sub["capacity"] / (sub["coverage"] * sub["eligible"]).where(sub["eligible"] > 0)
        per_user = float(units.dropna().median()) if units.notna().any() else 1.0
        g = sub.groupby(["year", "sozialrathaus"])[["demand", "capacity"]].sum()
        end, start = g.loc[last], g.loc[first]
        x = np.arange(len(end))
        ax.bar(x - 0.2, end["demand"], width=0.4, label=f"demand {last}", color="tab:orange")
        ax.bar(x + 0.2, end["capacity"] / per_user, width=0.4, label=f"places {last}", color="tab:blue")
        ax.plot(x + 0.2, start["capacity"] / per_user, "k_", markersize=14, label=f"places {first}")
        ax.set_xticks(x)
        ax.set_xticklabels(end.index, rotation=35, ha="right", fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle("Demand and places (users) per Sozialrathaus district", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def service_coverage_grid(services: pd.DataFrame, path: Path, small: frozenset = frozenset()) -> Path:
    """Grid of areas (rows, grouped by district) x services: share of demand met in the last year;
    small areas (figures unreliable) are marked with an asterisk."""
    last = services["year"].max()
    sub = services[services["year"] == last].copy()
    sub["met"] = np.where(sub["demand"] > 0, sub["served"] / sub["demand"].where(sub["demand"] > 0), np.nan)
    grid = sub.pivot_table(index=["sozialrathaus", "area"], columns="service", values="met", aggfunc="first").sort_index()
    rows = [f"{a}{' *' if a in small else ''} ({s})" for s, a in grid.index]
    return _heatmap(
        grid.to_numpy(dtype=float),
        rows,
        list(grid.columns),
        "RdYlGn",
        (0.0, 1.0),
        "share of demand met",
        f"Share of demand met per area and service, {last}" + (" (* small area)" if small else ""),
        path,
    )


def _heatmap(
    values: np.ndarray, rows: list[str], columns: list[str], cmap: str, limits: tuple[float, float], label: str, title: str, path: Path
) -> Path:
    """A grid of areas (rows) x columns coloured by value, saved as PNG."""
    fig, ax = plt.subplots(figsize=(2.0 + 0.78 * len(columns), 1.5 + 0.22 * len(rows)))
    image = ax.imshow(values, cmap=cmap, vmin=limits[0], vmax=limits[1], aspect="auto")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.03, label=label)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def fan_charts(summaries: dict[str, pd.DataFrame], table: str, indicator: str, path: Path) -> Path:
    """Per Sozialrathaus district and the city: median and 50 % / 90 % bands over time, per scenario."""
    first = next(iter(summaries.values()))
    units = sorted(first.loc[first["level"] == "sozialrathaus", "area"].unique()) + [CITY]
    cols = 4
    rows = int(np.ceil(len(units) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(14, 3.2 * rows), squeeze=False, sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, unit in zip(axes.ravel(), units):
        level = "city" if unit == CITY else "sozialrathaus"
        for k, (name, summary) in enumerate(summaries.items()):
            s = summary[
                (summary["table"] == table) & (summary["indicator"] == indicator) & (summary["level"] == level) & (summary["area"] == unit)
            ].sort_values("year")
            if s.empty:
                continue
            c = colours[k % len(colours)]
            ax.fill_between(s["year"], s["p5"], s["p95"], color=c, alpha=0.15, linewidth=0)
            ax.fill_between(s["year"], s["p25"], s["p75"], color=c, alpha=0.3, linewidth=0)
            ax.plot(s["year"], s["median"], color=c, label=name)
        ax.set_title(unit, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(units) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(f"{indicator} ({table}): median, 50 % and 90 % bands across replications", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def pyramid_comparison(summaries: dict[str, pd.DataFrame], year: int, path: Path) -> Path:
    """City age structure by sex (mean of replications) in ``year``: one outline per scenario."""
    from simulation.metrics import AGE_BANDS

    fig, ax = plt.subplots(figsize=(8, 5))
    y = np.arange(len(AGE_BANDS))
    for k, (name, summary) in enumerate(summaries.items()):
        s = summary[(summary["table"] == "population") & (summary["level"] == "city") & (summary["year"] == year)].set_index("indicator")[
            "mean"
        ]
        men = np.array([s.get(f"persons_male_{b}", 0.0) for b in AGE_BANDS]) / 1000.0
        women = np.array([s.get(f"persons_female_{b}", 0.0) for b in AGE_BANDS]) / 1000.0
        style = (
            {"alpha": 0.5}
            if k == 0
            else {"fill": False, "linewidth": 1.2, "edgecolor": plt.rcParams["axes.prop_cycle"].by_key()["color"][k % 10]}
        )
        ax.barh(y, -men, height=0.8, color="tab:blue", label=f"men, {name}", **style)
        ax.barh(y, women, height=0.8, color="tab:red", label=f"women, {name}", **style)
    ax.set_yticks(y)
    ax.set_yticklabels([b.replace("_", "-").replace("plus", "+") for b in AGE_BANDS])
    ax.set_xlabel("Persons (thousands): men left, women right")
    ax.set_title(f"Age structure of the city, {year} (mean of replications)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def difference_grid(comparison: pd.DataFrame, year: int, items: list[tuple[str, str]], path: Path) -> Path:
    """Areas (rows, by district) x indicators: mean paired difference scenario - baseline in ``year``."""
    sub = comparison[(comparison["level"] == "area") & (comparison["year"] == year)]
    sub = sub[sub.set_index(["table", "indicator"]).index.isin(items)]
    grid = sub.pivot_table(index="area", columns=["scenario", "indicator"], values="difference", aggfunc="first").fillna(0.0)
    if grid.empty:
        grid = pd.DataFrame({"(no differences)": [0.0]}, index=["-"])
    scale = np.nanmax(np.abs(grid.to_numpy())) or 1.0
    columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in grid.columns]
    return _heatmap(
        grid.to_numpy(dtype=float),
        list(grid.index),
        columns,
        "RdBu_r",
        (-scale, scale),
        "difference (scenario - baseline)",
        f"Differences per area, {year}",
        path,
    )
