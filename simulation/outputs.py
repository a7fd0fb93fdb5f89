"""Writing a run's outputs atomically: everything goes into a temporary directory beside the
target, which is renamed into place only when complete. A failed run leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from simulation.errors import InputError
from simulation.runner import RunResult
from simulation.tables import TABLES
from simulation.vocabulary import CITY


@contextmanager
def atomic_directory(target: Path):
    """Yield a temporary directory; on success it replaces ``target``, on error it is removed."""
    target = Path(target).resolve()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / "manifest.json").is_file())):
        # only an earlier output (it has a manifest) or an empty folder is replaced
        raise InputError(target, "--out", "exists and is not an output folder of sozialraum", "a new or empty folder, or an earlier output")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; outputs are ordinary files
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    backup = None
    if target.exists():
        backup = target.with_name(f".{target.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
    tmp.rename(target)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def write_table(frame: pd.DataFrame, directory: Path, name: str, fmt: str) -> Path:
    if fmt == "parquet":
        path = directory / f"{name}.parquet"
        frame.to_parquet(path, index=False)
    else:
        path = directory / f"{name}.csv"
        frame.to_csv(path, index=False)
    return path


def write_run(result: RunResult, out_dir: Path, fmt: str = "parquet", figures: bool = True, lang: str = "en") -> Path:
    """Write tables, manifest, figures and the HTML report of one run into ``out_dir`` (replaced atomically)."""
    with atomic_directory(out_dir) as tmp:
        for table in TABLES:
            write_table(result.tables[table.name], tmp, table.name, fmt)
        (tmp / "manifest.json").write_text(json.dumps(result.manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        from simulation.report import write_run_report  # it writes the figures too

        write_run_report(tmp, result.tables, result.manifest, lang, figures)
        summary(result).to_csv(tmp / "summary.csv", index=False)
    return Path(out_dir)


def summary(result: RunResult) -> pd.DataFrame:
    """Population per Sozialrathaus district and city: first year, last year, change, events."""
    pop = result.tables["population"]
    first, last = pop["year"].min(), pop["year"].max()
    by = pop.groupby(["sozialrathaus", "year"])["persons"].sum().unstack("year")
    events = result.tables["events"]
    area_srh = pop.drop_duplicates("area").set_index("area")["sozialrathaus"]
    ev = (
        events.assign(sozialrathaus=events["area"].map(area_srh))
        .groupby("sozialrathaus")[["births", "deaths", "immigrants", "emigrants"]]
        .sum()
    )
    total = CITY if result.scenario.areas == "city" else "all selected areas"
    rows = []
    for name in list(by.index) + [total]:
        start = by[first].sum() if name == total else by.loc[name, first]
        end = by[last].sum() if name == total else by.loc[name, last]
        e = ev.sum() if name == total else ev.loc[name]
        rows.append(
            {
                "sozialrathaus": name,
                f"persons_{first}": int(start),
                f"persons_{last}": int(end),
                "change_pct": round(100.0 * (end - start) / start, 1) if start else float("nan"),
                **{k: int(v) for k, v in e.items()},
            }
        )
    return pd.DataFrame(rows)


def write_file_atomic(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` and rename the result into ``path`` (no partial file on failure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_table_pair(frame: pd.DataFrame, directory: Path, name: str) -> None:
    """Every ensemble table as Parquet and CSV, each written atomically."""
    write_file_atomic(Path(directory) / f"{name}.parquet", lambda p: frame.to_parquet(p, index=False))
    write_file_atomic(Path(directory) / f"{name}.csv", lambda p: frame.to_csv(p, index=False))
