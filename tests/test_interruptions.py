"""Interruptions: real `sozialraum` processes stopped by SIGINT (Ctrl-C), SIGTERM and SIGKILL at
seeded random moments leave a complete output folder or none, say what is left (``--resume``
for ensembles), stop within seconds, and ``--resume`` completes an ensemble with exactly the
replications of an uninterrupted run and the same results. A full disk and an output folder that
cannot be written give one clear message and leave nothing partial (in-process, simulated)."""

from __future__ import annotations

import errno
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from simulation import ensemble
from simulation.cli import app
from simulation.scenario import load_scenario
from simulation.tables import TABLES
from tests.conftest import ROOT

N = 3  # replications per scenario
RNG = random.Random(20250611)  # the moments of the signals, drawn once per test session in this order
PROMPT = 6.0  # seconds within which a signalled process must have ended
BASE = f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\nareas = "sozialrathaus:Bockenheim"\nhorizon = 2\n'
KITA = 'extends = "base.toml"\nname = "kita"\n[[offerings]]\nservice = "kita_u3"\narea = "Bockenheim"\nyear = 2025\naction = "open"\ncapacity = 19\n'


class Launched:
    """A `python -m simulation ...` process whose stderr lines are collected by a thread."""

    def __init__(self, *args: str):
        self.mark = uuid.uuid4().hex  # in the environment of the process and of its workers
        # faulthandler: should the process crash (a library at interpreter exit), its stderr shows where
        env = {**os.environ, "SOZIALRAUM_TEST_MARK": self.mark, "COLUMNS": "200", "PYTHONFAULTHANDLER": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulation", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)

    def wait_for(self, wanted, timeout: float = 240) -> bool:
        """Block until ``wanted(line)`` is true for a stderr line (True) or the process ended (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if wanted(self.lines.get(timeout=0.2)):
                    return True
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    return False
        raise AssertionError(f"no line wanted within {timeout} s: {''.join(self.stderr)}")

    def stop(self, sig: int, delay: float) -> float:
        """Send ``sig`` after ``delay`` seconds (unless the process has ended); seconds until it ended."""
        time.sleep(delay)
        sent = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=120)
        return time.monotonic() - sent

    def finish(self) -> str:
        self.proc.wait(timeout=600)
        time.sleep(0.1)  # the reader thread takes the last lines
        return "".join(self.stderr)

    def survivors(self) -> list[int]:
        """Processes still running with this launch's mark (its workers, if they outlived it)."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and self.mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        return found


def progress_reached(target: int):
    """Whether a stderr line says that at least ``target`` replications are finished."""

    def reached(line: str) -> bool:
        found = re.match(r"replications: (\d+)/", line)
        return bool(found) and int(found[1]) >= target

    return reached


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def temporaries(folder: Path) -> list[Path]:
    """Hidden leftovers of atomic writes anywhere under ``folder`` (itself included)."""
    return [p for p in [folder, *folder.rglob("*")] if p.name.startswith(".") and (p.name.endswith(".tmp") or p.name.endswith(".old"))]


def assert_ensemble_folder_consistent(out: Path, names: list[str]) -> None:
    """Every replication folder complete; results only as a whole: a manifest means every table."""
    if not out.exists():
        return
    for name in names:
        folder = out / "replications" / name
        for rep in folder.iterdir() if folder.exists() else ():
            if not rep.name.startswith("."):
                assert sorted(p.name for p in rep.iterdir()) == ["manifest.json", "metrics.parquet"], rep
    if (out / "manifest.json").is_file():
        for name in [f"summary_{n}" for n in names] + ["comparison"]:
            assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
        assert (out / "report.html").is_file()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "base.toml").write_text(BASE, encoding="utf-8")
    (folder / "kita.toml").write_text(KITA, encoding="utf-8")
    return folder / "base.toml", folder / "kita.toml"


def test_an_ensemble_stopped_by_ctrl_c_sigterm_and_sigkill_resumes_to_the_uninterrupted_result(files, tmp_path):
    base, kita = files
    out = tmp_path / "cmp"
    command = ["compare", str(base), str(kita), "--replications", str(N), "--out", str(out), "--no-figures"]
    total = 2 * N
    interrupted, latencies = 0, {}
    # two worker processes where the stop must end them (Ctrl-C, SIGKILL of the parent), in-process otherwise (faster)
    for sig, extra in (
        (signal.SIGINT, ["--workers", "2"]),
        (signal.SIGTERM, ["--resume", "--workers", "1"]),
        (signal.SIGKILL, ["--resume", "--workers", "2"]),
    ):
        run = Launched(*command, *extra)
        done = ensemble.finished(out, ["base", "kita"], N) if out.exists() else 0
        target = min(done + RNG.choice([0, 1, 2]), total - 2)  # stop after this many replications ...
        delay = RNG.uniform(0.0, 0.5)  # ... and a random moment more (before the rest is done)
        if run.wait_for(progress_reached(target)):
            latencies[sig.name] = run.stop(sig, delay)
        stderr = run.finish()
        code = run.proc.returncode
        assert code in (0, 128 + sig, -sig), stderr
        interrupted += code != 0
        if code in (130, 143):  # stopped in order: it says what is kept and how to continue
            assert f"stopped ({'Ctrl-C' if sig == signal.SIGINT else 'SIGTERM'})" in stderr and "--resume" in stderr, stderr
            assert "Traceback" not in stderr
            assert temporaries(out) == []
            assert latencies[sig.name] < PROMPT, latencies
        deadline = time.monotonic() + 30  # the workers end with their parent, even after SIGKILL (one still starting: once started)
        while run.survivors() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run.survivors() == []
        assert_ensemble_folder_consistent(out, ["base", "kita"])
        assert all(not name.endswith((".tmp", ".old")) for name in visible(tmp_path))
    assert interrupted >= 2  # the signals came while the ensemble was running, not after it

    final = Launched(*command, "--resume", "--workers", "1")
    stderr = final.finish()
    assert final.proc.returncode == 0, stderr
    assert temporaries(out) == []
    for name in ("base", "kita"):
        assert visible(out / "replications" / name) == [f"rep_{i:04d}" for i in range(N)]  # nothing lost, nothing doubled
    assert_ensemble_folder_consistent(out, ["base", "kita"])
    assert (out / "manifest.json").is_file()

    reference = tmp_path / "reference"  # the same ensemble, uninterrupted, in this process
    scenarios = [load_scenario(base), load_scenario(kita)]
    with ensemble.make_executor(workers=1) as executor:
        ensemble.run_replications([(s, 0) for s in scenarios], scenarios[0].seed, N, None, reference, executor)
    for name in ("base", "kita"):
        for i in range(N):
            got, want = (ensemble.replication_dir(folder, name, i) / "metrics.parquet" for folder in (out, reference))
            assert got.read_bytes() == want.read_bytes(), (name, i)
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"summary_{name}.parquet"), ensemble.summarise(reference, name, N))
    pd.testing.assert_frame_equal(pd.read_parquet(out / "comparison.parquet"), ensemble.compare(reference, "base", "kita", N))


def test_a_single_run_stopped_at_random_moments_leaves_the_earlier_output_or_a_complete_new_one(files, tmp_path):
    base, _ = files
    out = tmp_path / "run"
    earlier = CliRunner().invoke(app, ["run", str(base), "--out", str(out), "--no-figures"])
    assert earlier.exit_code == 0, earlier.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    tables = {f"{t.name}.parquet" for t in TABLES} | {"manifest.json", "summary.csv", "report.html"}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        run = Launched("run", str(base), "--out", str(out), "--seed", "5")  # another seed: other outputs
        latency = None
        if run.wait_for(lambda line: "projected (2/2 years)" in line):  # the last year: then the outputs are written
            latency = run.stop(sig, RNG.uniform(0.0, 2.5))
        stderr = run.finish()
        code = run.proc.returncode
        assert code in (0, 128 + sig, -sig), stderr
        if out.exists():  # the earlier output, untouched, or a complete new one
            assert tables <= set(visible(out)), visible(out)
        if code in (130, 143):
            assert stderr.count("stopped (") == 1 and "Traceback" not in stderr, stderr
            if "nothing was written" in stderr:
                assert {p.name: p.read_bytes() for p in out.iterdir()} == before
            assert latency < PROMPT
        if sig != signal.SIGKILL:
            assert temporaries(tmp_path) == []
        assert all(not name.endswith((".tmp", ".old")) for name in visible(tmp_path))
    again = CliRunner().invoke(app, ["run", str(base), "--out", str(out), "--no-figures"])
    assert again.exit_code == 0, again.output
    assert temporaries(tmp_path) == []  # what a killed run left is removed by the next write


def test_ctrl_c_while_the_tables_are_written_leaves_nothing(files, tmp_path, monkeypatch):
    from simulation import outputs

    written = []

    def interrupted_write(frame, directory, name, fmt):
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(name)
        return real(frame, directory, name, fmt)

    real = outputs.write_table
    monkeypatch.setattr(outputs, "write_table", interrupted_write)
    result = CliRunner().invoke(app, ["run", str(files[0]), "--out", str(tmp_path / "run"), "--no-figures"])
    assert result.exit_code == 130 and "stopped (Ctrl-C)" in result.stderr and "nothing was written" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_gives_one_message_and_leaves_nothing_partial(files, tmp_path, monkeypatch):
    from simulation import outputs

    def full(frame, directory, name, fmt):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory / name))

    monkeypatch.setattr(outputs, "write_table", full)
    result = CliRunner().invoke(app, ["run", str(files[0]), "--out", str(tmp_path / "run"), "--no-figures"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "the disk is full" in result.stderr and "cannot write the outputs" in result.stderr and "nothing was written" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_during_an_ensemble_keeps_the_finished_replications_and_says_how_to_continue(files, tmp_path, monkeypatch):
    real, calls = ensemble.summary_metrics, []

    class Full:
        def to_parquet(self, path, **_):
            Path(path).write_bytes(b"PAR1")  # a partial file, as a full disk leaves it
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def metrics(tables):
        calls.append(1)
        return Full() if len(calls) == 3 else real(tables)

    monkeypatch.setattr(ensemble, "summary_metrics", metrics)
    out = tmp_path / "ens"
    result = CliRunner().invoke(app, ["run", str(files[0]), "--replications", "3", "--workers", "1", "--out", str(out), "--no-figures"])
    assert result.exit_code == 2, result.output
    assert "the disk is full" in result.stderr and "2 of 3 replications are finished" in result.stderr and "--resume" in result.stderr
    assert visible(out / "replications" / "base") == ["rep_0000", "rep_0001"] and temporaries(out) == []
    assert not (out / "manifest.json").exists()


def test_an_output_folder_that_cannot_be_written_gives_one_message(files, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["run", str(files[0]), "--out", str(blocker / "run"), "--no-figures"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "cannot write the outputs: a part of the path is a file, not a folder" in result.stderr
    if os.geteuid() == 0:
        pytest.skip("a read-only folder does not stop root")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = CliRunner().invoke(app, ["run", str(files[0]), "--out", str(locked / "run"), "--no-figures"])
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2 and "the folder is read-only" in result.stderr and list(locked.iterdir()) == []


@pytest.mark.parametrize("signalled", [True, False])
def test_an_error_a_library_makes_of_the_interruption_is_the_stop(files, tmp_path, monkeypatch, signalled):
    # matplotlib, interrupted while it draws, can raise 'Invalid bounding box' instead of passing
    # the KeyboardInterrupt on; after a stop signal that error is the stop (exit 130, a message,
    # nothing written), without one it is a fault and is not hidden
    from simulation import outputs

    base, _ = files

    def drawing(*_args, **_kwargs):
        try:
            if signalled:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1.0)  # the handler runs here
        except KeyboardInterrupt:
            pass
        raise ValueError("Invalid bounding box")

    monkeypatch.setattr(outputs, "write_run", drawing)  # the run command imports it when it runs
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(base), "--out", str(out)])
    if signalled:
        assert result.exit_code == 130, result.output
        assert "stopped (Ctrl-C)" in result.output and "nothing was written" in result.output
        assert result.output.count("stopped (") == 1, result.output
        assert not out.exists()
    else:
        assert isinstance(result.exception, ValueError) and result.exit_code == 1
