"""Writing a run's outputs atomically: everything goes into a temporary folder (or file) beside
the target, which is renamed into place only when complete. A failed or interrupted run leaves
nothing behind: on an error, Ctrl-C or SIGTERM the temporary is removed; the rename itself is not
interrupted (signals wait until it is done). Temporaries are named ``.<target>.<pid>.<random>.tmp``:
one left by a killed process (SIGKILL, power cut) is hidden and is removed by the next write into
the same folder once that process no longer exists.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from simulation.errors import InputError
from simulation.runner import RunResult
from simulation.tables import TABLES
from simulation.vocabulary import CITY

# a temporary (random part) or a replaced output kept until its successor is in place (old)
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<kind>[a-z0-9_]{8}\.tmp|old)$")
_LIVE: set[Path] = set()  # temporaries this process is writing now


def _temporary(target: Path) -> Path:
    """A fresh temporary name beside ``target`` (nothing is created)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the temporaries in ``folder`` (of the target ``name`` only, if given) whose process
    no longer exists; a replaced output left by a process killed between its two renames is put
    back if nothing took its place. Returns what was removed or put back."""
    try:
        entries = list(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    done = []
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if not match or (name is not None and match["name"] != name) or _alive(int(match["pid"])):
            continue
        target = entry.with_name(match["name"])
        if match["kind"] == "old" and not target.exists():
            entry.rename(target)
        else:
            _remove(entry)
        done.append(entry)
    return done


def remove_own_temporaries() -> None:
    """Remove every temporary this process is writing (for a signal handler that ends the process)."""
    for path in list(_LIVE):
        _remove(path)


@contextmanager
def signals_deferred():
    """Ctrl-C (SIGINT) and SIGTERM arriving inside the block take effect at its end, so that a
    pair of renames is never cut in half (only in the main thread, where Python runs handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])  # now, with the handler the process had


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is replaced (kept aside until then)."""
    backup = target.with_name(f".{target.name}.{os.getpid()}.old")
    try:
        with signals_deferred():
            if target.exists():
                _remove(backup)
                target.rename(backup)
            try:
                tmp.rename(target)
            except BaseException:
                if backup.exists():
                    backup.rename(target)
                raise
    finally:
        _remove(backup)


@contextmanager
def atomic_directory(target: Path):
    """Yield a temporary directory; on success it replaces ``target``, on error or interruption
    it is removed."""
    target = Path(target).resolve()
    remove_stale_temporaries(target.parent, target.name)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / "manifest.json").is_file())):
        # only an earlier output (it has a manifest) or an empty folder is replaced
        raise InputError(target, "--out", "exists and is not an output folder of sozialraum", "a new or empty folder, or an earlier output")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
    _LIVE.add(tmp)
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; outputs are ordinary files
        yield tmp
        _swap_into_place(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _LIVE.discard(tmp)


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
    """Call ``write(tmp_path)`` and rename the result into ``path`` (no partial file on failure or interruption)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)
    tmp = _temporary(path)
    _LIVE.add(tmp)
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        _remove(tmp)
        _LIVE.discard(tmp)
    return path


def inside(folder: Path, name: str) -> Path:
    """``folder / name`` for a plain file or folder name; a name that would lead out of ``folder``
    (a separator, '..', an absolute path) is refused."""
    if name in ("", ".", "..") or any(ch in name for ch in "/\\\0") or Path(name).is_absolute():
        raise InputError(
            None, "name", f"{name!r} would lead out of the output folder {folder}", "a plain name: letters, digits, '_', '.' and '-'"
        )
    return Path(folder) / name


def write_table_pair(frame: pd.DataFrame, directory: Path, name: str) -> None:
    """Every ensemble table as Parquet and CSV, each written atomically."""
    write_file_atomic(inside(directory, f"{name}.parquet"), lambda p: frame.to_parquet(p, index=False))
    write_file_atomic(inside(directory, f"{name}.csv"), lambda p: frame.to_csv(p, index=False))
