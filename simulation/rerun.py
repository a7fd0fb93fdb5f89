"""``sozialraum rerun OUTPUT/manifest.json``: repeat a run or an ensemble and compare its tables.

Every manifest records what a rerun needs (``invocation``): the command (``run`` or ``compare``),
its options (replications, format, figures, language, map year, ``--check-more``), the command
line, the scenario files with their SHA-256, and per scenario the SHA-256 of every input file the
run read. The scenarios themselves are in the manifest, resolved (``scenario`` of a run,
``scenarios`` of an ensemble, the baseline first), so a rerun does not depend on the scenario
files: one that changed since is only mentioned. An input file whose hash differs, or that is
missing, refuses the rerun (``InputError``, exit code 2): the same inputs are the condition for
the same results. The rerun writes a new folder (default: the original's name + ``-rerun``) and
every table (Parquet and CSV files, the replications' metrics included) is compared with the
original's, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from simulation.data import DEFAULT_DATA_DIR
from simulation.errors import InputError
from simulation.scenario import Scenario

WHAT_IS_NEEDED = "the manifest.json of a run or ensemble made with `sozialraum run` or `sozialraum compare`"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def scenario_files(paths) -> dict[str, str]:
    """SHA-256 of each scenario file given and of every file it extends."""
    from simulation.scenario import _read_layers

    out: dict[str, str] = {}
    for path in paths or ():
        for layer, _ in _read_layers(Path(path).resolve(), allow_any=True):  # the run has read them already
            out[str(layer)] = sha256(layer)
    return out


def invocation(command: str, sources, inputs: dict[str, dict[str, str]], **options) -> dict:
    """What a manifest records for a rerun: the command, its options, the command line, the scenario
    files (``sources``) and, per scenario name, the input files read with their SHA-256."""
    return {
        "command": command,
        "command_line": shlex.join(["sozialraum", *sys.argv[1:]]),
        "cwd": os.getcwd(),
        "scenario_files": sources if isinstance(sources, dict) else scenario_files(sources),
        "inputs": inputs,
        **options,
    }


@dataclass
class Plan:
    """A rerun: the original folder, the scenarios and options as recorded, and where it goes."""

    original: Path
    out: Path
    scenarios: list[Scenario]
    invocation: dict
    notes: list[str] = field(default_factory=list)

    @property
    def ensemble(self) -> bool:
        return self.invocation["command"] == "compare" or self.invocation.get("replications", 1) > 1

    def option(self, name: str, default=None):
        return self.invocation.get(name, default)


def _read_manifest(path: Path) -> dict:
    if not path.is_file():
        raise InputError(path, None, "not found" if not path.exists() else "is not a file", WHAT_IS_NEEDED)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, None, f"is not a manifest (not JSON: {exc})", WHAT_IS_NEEDED) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("invocation"), dict):
        raise InputError(path, "invocation", "missing: the manifest is not from a run of this version", WHAT_IS_NEEDED)
    if manifest["invocation"].get("command") not in ("run", "compare"):
        raise InputError(path, "invocation.command", f"{manifest['invocation'].get('command')!r} cannot be repeated", "run, compare")
    return manifest


def _scenarios(path: Path, manifest: dict) -> list[Scenario]:
    key = "scenarios" if "scenarios" in manifest else "scenario"
    recorded = manifest.get(key)
    recorded = recorded if isinstance(recorded, list) else [recorded]
    try:
        return [Scenario.model_validate(entry) for entry in recorded]
    except ValidationError as exc:
        raise InputError(path, key, f"not a valid scenario ({exc.errors()[0]['msg']})", WHAT_IS_NEEDED) from None


def data_folder(scenario: Scenario) -> Path:
    return Path(scenario.data_dir) if scenario.data_dir else DEFAULT_DATA_DIR


def check_inputs(path: Path, scenario: Scenario, recorded: dict[str, str]) -> None:
    """Every input file the original run read, as recorded (relative to the scenario's data folder,
    or absolute), must have the same SHA-256 now; else an InputError naming the file."""
    folder = data_folder(scenario).resolve()
    for name, digest in sorted(recorded.items()):
        file = Path(name) if Path(name).is_absolute() else folder / name
        if not file.is_file():
            raise InputError(file, None, f"read by the run of {path} but missing now", "the input files of the original run")
        now = sha256(file)
        if now != digest:
            raise InputError(
                file,
                None,
                f"changed since the run of {path} (SHA-256 {now[:12]}... now, {digest[:12]}... in the manifest): "
                "the rerun would not repeat it",
                "the input files of the original run, unchanged",
            )


def plan(manifest_path: Path, out: Path | None = None) -> Plan:
    """Read a manifest and check that the rerun can repeat it: the scenarios as recorded, every
    input file unchanged (else InputError), and an output folder other than the original."""
    manifest_path = Path(manifest_path)
    manifest = _read_manifest(manifest_path)
    scenarios = _scenarios(manifest_path, manifest)
    call = manifest["invocation"]
    recorded = call.get("inputs") or {scenarios[0].name: manifest.get("input_data_sha256", {})}
    for scenario in scenarios:
        check_inputs(manifest_path, scenario, recorded.get(scenario.name, recorded[next(iter(recorded))]))
    original = manifest_path.resolve().parent
    target = Path(out) if out is not None else original.with_name(original.name + "-rerun")
    if target.resolve() == original:
        raise InputError(target, "--out", "is the folder of the original run", "another folder")
    result = Plan(original, target, scenarios, call)
    for file, digest in (call.get("scenario_files") or {}).items():
        if Path(file).is_file() and sha256(Path(file)) != digest:
            result.notes.append(f"{file} has changed since the run; the rerun uses the scenario as the manifest recorded it")
    from simulation.runner import package_versions

    now = package_versions()
    changed = [
        f"{name} {then} then, {now.get(name)} now" for name, then in (manifest.get("versions") or {}).items() if now.get(name) != then
    ]
    if changed:
        result.notes.append("other versions than in the original run (results may differ): " + "; ".join(changed))
    return result


def tables(folder: Path) -> list[str]:
    """The tables of an output folder (Parquet and CSV, the replications' included), relative paths."""
    folder = Path(folder)
    found = [p for pattern in ("*.parquet", "*.csv", "replications/*/rep_*/*.parquet") for p in folder.glob(pattern)]
    return sorted(str(p.relative_to(folder)) for p in found if not p.name.startswith("."))


def different_tables(original: Path, rerun: Path) -> list[str]:
    """The tables that are not byte for byte the same in both folders (or exist in only one)."""
    names = sorted(set(tables(original)) | set(tables(rerun)))
    return [n for n in names if not ((original / n).is_file() and (rerun / n).is_file() and sha256(original / n) == sha256(rerun / n))]
