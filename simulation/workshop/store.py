"""The participation trace: workshop scenarios saved as scenario files.

A saved scenario is an ordinary scenario TOML file in the workshop folder (default
``scenarios/workshop/``) that ``extends`` the baseline, names the district and holds the lever
entries; ``sozialraum validate``, ``run`` and ``compare`` read it like any other. The group's
note (name, who took part, why) and the date are its ``description_de`` / ``description``, which
the reports show, and a comment line ``# workshop: {...}`` (JSON) from which the page reopens it.

Names: letters (umlauts too), digits, '-' and '_'; spaces become '-'; a name with a path
separator or '..' is refused. A file is never overwritten unless this browser session wrote it:
another group's name gets a number ("Mehr-Kitas-2"). Files are written to a temporary file in
the folder first and then linked (new name) or renamed (own file) into place, so a reader never
sees half a file and two sessions saving the same name at once both keep their file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from babel.dates import format_date

from simulation.errors import InputError
from simulation.scenario import Scenario, load_scenario
from simulation.workshop.levers import Context, scenario_tables

MAX_NAME = 60
MARK = "# workshop: "  # the comment line that carries the note


class BadName(ValueError):
    """A scenario name the page refuses; ``reason`` is one of empty, path, characters."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def safe_name(text: str) -> str:
    """The file name (without .toml) for a name typed on the page, or BadName."""
    text = unicodedata.normalize("NFC", text or "").strip()
    if not text:
        raise BadName("empty")
    if "/" in text or "\\" in text or ".." in text or "\x00" in text:
        raise BadName("path")
    name = re.sub(r"[^\w-]", "", re.sub(r"\s+", "-", text)).strip("-_")[:MAX_NAME].strip("-_")
    if not name:
        raise BadName("characters")
    return name


@dataclass(frozen=True)
class Note:
    """What the group writes down with a scenario."""

    title: str
    participants: str
    reason: str
    saved: str  # ISO date and time

    def description(self, lang: str) -> str:
        day = format_date(datetime.fromisoformat(self.saved).date(), format="long", locale="de_DE" if lang == "de" else "en_GB")
        if lang == "de":
            text = f"Workshop-Szenario „{self.title}“ vom {day}."
            text += f" Warum: {self.reason.strip()}" if self.reason.strip() else ""
            text += f" Beteiligt: {self.participants.strip()}." if self.participants.strip() else ""
        else:
            text = f"Workshop scenario '{self.title}' of {day}."
            text += f" Why: {self.reason.strip()}" if self.reason.strip() else ""
            text += f" Participants: {self.participants.strip()}." if self.participants.strip() else ""
        return text


@dataclass(frozen=True)
class Saved:
    path: Path
    note: Note

    @property
    def name(self) -> str:
        return self.path.stem


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, float):
        return repr(value)
    return str(value)


def scenario_text(state: dict, context: Context, note: Note, extends: str) -> str:
    """The TOML text of a saved scenario (the levers as scenario entries, the note as descriptions)."""
    lines = [
        "# " + " ".join(note.description("de").split()),  # one comment line, whatever the note holds
        "# Gespeichert auf der Workshop-Seite (sozialraum workshop); mit sozialraum run / compare rechnen.",
        MARK + json.dumps(note.__dict__, ensure_ascii=False),
        f"extends = {_toml_value(extends)}",
        f"description = {_toml_value(note.description('en'))}",
        f"description_de = {_toml_value(note.description('de'))}",
        f"areas = {_toml_value(context.base.areas)}",
    ]
    arrivals = state["migration.volume"]
    for field, entries in scenario_tables(state, context).items():
        for entry in entries:
            lines += ["", f"[[{field}]]"]
            for key, value in entry.items():
                comment = ""
                if key == "persons_per_year":
                    comment = (
                        f"  # for the whole city: {arrivals} a year into {context.base.areas} ({context.share_of_city:.1%} of the city)"
                    )
                lines.append(f"{key} = {_toml_value(value)}{comment}")
    return "\n".join(lines) + "\n"


def _write_new(folder: Path, name: str, text: str, own: set[Path]) -> Path:
    """Write ``text`` as ``name``.toml, or as ``name-2``.toml, ... if another session's file has
    the name; overwrite only a file in ``own``."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".saving-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        for k in range(1, 1000):
            target = folder / (f"{name}.toml" if k == 1 else f"{name}-{k}.toml")
            if target.resolve().parent != folder.resolve():  # never outside the folder, whatever the name
                raise BadName("path")
            if target.resolve() in own:
                os.replace(tmp, target)
                return target.resolve()
            try:
                os.link(tmp, target)  # fails if the name exists: no other file is ever replaced
            except FileExistsError:
                continue
            return target.resolve()
        raise BadName("characters")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save(folder: Path, state: dict, context: Context, note: Note, own: set[Path]) -> Path:
    """Save the lever state with the note; returns the file written (add it to ``own``)."""
    folder = Path(folder).resolve()
    name = safe_name(note.title)
    extends = Path(os.path.relpath(context.base.source or "", folder)).as_posix()
    return _write_new(folder, name, scenario_text(state, context, note, extends), own)


def read_note(path: Path) -> Note:
    """The note of a saved scenario (from its ``# workshop:`` line; the file name otherwise)."""
    for line in Path(path).read_text(encoding="utf-8").splitlines()[:10]:
        if line.startswith(MARK):
            try:
                fields = json.loads(line[len(MARK) :])
                return Note(**{k: str(fields.get(k, "")) for k in Note.__dataclass_fields__})
            except (ValueError, TypeError):
                break
    return Note(Path(path).stem, "", "", datetime.fromtimestamp(Path(path).stat().st_mtime).isoformat(timespec="minutes"))


def saved(folder: Path, areas) -> list[Saved]:
    """The saved scenarios of the district in ``folder``, newest first (others are skipped)."""
    out = []
    for path in Path(folder).glob("*.toml"):
        try:
            scenario = load_scenario(path)
        except InputError:
            continue
        if scenario.areas == areas:
            out.append(Saved(path.resolve(), read_note(path)))
    return sorted(out, key=lambda s: s.note.saved, reverse=True)


def open_saved(path: Path) -> Scenario:
    return load_scenario(path)
