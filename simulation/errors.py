"""User-facing input errors: one message naming the file, the field and what is allowed."""

from __future__ import annotations

import difflib
import re
import unicodedata
from pathlib import Path
from typing import Iterable


class InputError(Exception):
    """Bad input (scenario or data file). The CLI prints it and exits with code 2.

    ``field`` is a scenario field (``offerings[1].capacity``: list entries count from 1) or, in a
    CSV file, a column; ``row`` is a row of a CSV file counted like a spreadsheet (the header is
    row 1). An error in a file that the scenario names (a base scenario through ``extends``, a
    register extract) is ``reached_from`` the scenario and its field: the message names both.
    """

    def __init__(self, file: str | Path | None, field: str | None, problem: str, allowed: str | None = None, row: int | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        self.problem = problem
        self.allowed = allowed
        self.row = row
        self.via: tuple[tuple[str | None, str], ...] = ()  # (file, field) through which the file was reached
        super().__init__(file, field, problem, allowed, row)

    def reached_from(self, file: str | Path | None, field: str) -> "InputError":
        """This error, reached from ``file`` through its ``field`` (e.g. a base scenario through 'extends')."""
        self.via = ((str(file) if file is not None else None, field), *self.via)
        return self

    def __str__(self) -> str:
        return self.message

    @property
    def message(self) -> str:
        """One line, whatever the files held: control characters escaped, an overlong field shortened."""
        hops = [f"{file or 'scenario'} (field '{field}') -> " for file, field in self.via]
        column = bool(self.file) and Path(self.file).suffix.lower() == ".csv"
        parts = []
        if self.file:
            parts.append(self.file)
        where = []
        if self.field:
            field = self.field if len(self.field) <= 100 else self.field[:97] + "..."
            where.append(f"{'column' if column else 'field'} '{field}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if where:
            parts.append(", ".join(where))
        text = ": ".join([*parts, self.problem])
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return _CONTROL.sub(lambda m: repr(m[0])[1:-1], "".join(hops) + text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AccountingError(RuntimeError):
    """An invariant of the population state was violated (never a warning)."""


_SPELLINGS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _folded(name: str) -> str:
    """A name as people type it in any spelling: NFC, case-folded, umlauts as ae/oe/ue, letters and digits only."""
    text = unicodedata.normalize("NFC", str(name)).casefold().translate(_SPELLINGS)
    return "".join(ch for ch in text if ch.isalnum())


def did_you_mean(value: object, options: Iterable[str]) -> str:
    """' (did you mean 'X'?)' for the option that ``value`` most likely means, else ''.

    'Hoechst' and 'hoechst' mean 'Höchst', 'westend sued' means 'Westend-Süd', 'kita' means 'kita_u3'."""
    options = list(options)
    by_fold: dict[str, str] = {}
    for option in options:
        by_fold.setdefault(_folded(option), option)
    key = _folded(value)
    if not key:
        return ""
    if key in by_fold:
        return f" (did you mean '{by_fold[key]}'?)"
    close = difflib.get_close_matches(key, list(by_fold), n=1, cutoff=0.75)
    if not close:
        starts = [fold for fold in by_fold if fold.startswith(key) and len(key) >= 3]
        close = starts[:1]
    return f" (did you mean '{by_fold[close[0]]}'?)" if close else ""


def file_kind(path: str | Path) -> str | None:
    """What is at ``path``: 'file', 'folder', None (nothing) or 'unusable' (a name the system
    refuses, e.g. with a NUL byte or too long)."""
    try:
        path = Path(path)
        return "folder" if path.is_dir() else "file" if path.is_file() else None
    except (OSError, ValueError):
        return "unusable"
