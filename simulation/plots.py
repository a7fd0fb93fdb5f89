"""Figures of a run (PNG): population per Sozialrathaus district over time, age pyramid."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


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
        grouped = sub.assign(group=(sub["age"] // 5) * 5).groupby(["group", "sex"])["persons"].sum().unstack("sex").reindex(bins, fill_value=0)
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
