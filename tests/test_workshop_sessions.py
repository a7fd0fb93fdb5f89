"""The workshop server under a workshop's load: it listens on this computer only (without
``--host``), and ten browser sessions at once (separate Chromium contexts, each its own Solara
session, against one ``sozialraum workshop`` with the page's default horizon and runs) each get
the answer for their own lever value and save their own file, with no error on any page or in
the server's log, and the server's worker processes end with it. The caps of a single request
and the bounded queue are tested on the engine in test_workshop.py.

One test runs the steps on one server, so that pytest-xdist never starts a second one."""

from __future__ import annotations

import re
import tomllib

import psutil
import pytest

from simulation.workshop import probe
from simulation.workshop.app import DEFAULT_RUNS, DEFAULT_YEARS

SESSIONS = 10
STEP = 5  # places a key press adds on the under-3 Kita lever: session k asks for 5 * (k + 1)
BASE_YEAR = tomllib.loads((probe.ROOT / "scenarios" / "baseline.toml").read_text(encoding="utf-8"))["base_year"]
LOG_ERRORS = re.compile(r"Traceback|\bERROR\b|Exception|Error:")


def test_ten_sessions_at_once_on_one_localhost_server(tmp_path, record_property):
    folder = tmp_path / "saved"
    with probe.server(folder, tmp_path / "server.log") as server:
        assert server.listening() == {"127.0.0.1"}, "the page must serve this computer only unless --host says otherwise"
        workers = server.workers()
        assert len(workers) >= 2
        if probe.chromium_path() is None:
            pytest.skip("no chromium binary on this machine (Debian package chromium; .ci/run installs it)")
        pytest.importorskip("playwright", reason="playwright is a test dependency (pip install -e '.[test]')")
        with probe.chromium() as browser:
            figures = ten_sessions_keep_their_own_answers_and_files(browser, server, folder)
    assert psutil.wait_procs(workers, timeout=20)[1] == [], "worker processes outlived the server"
    for name, value in figures.items():
        record_property(name, value)
    print(", ".join(f"{name} {value:.1f}" for name, value in figures.items()))


def ten_sessions_keep_their_own_answers_and_files(browser, server: probe.Server, folder) -> dict[str, float]:
    contexts = probe.sessions(browser, SESSIONS)
    errors: list[str] = []
    for k, context in enumerate(contexts):
        context.on("weberror", lambda e, k=k: errors.append(f"session {k + 1}: {e.error}"))
        context.on("console", lambda m, k=k: errors.append(f"session {k + 1}: {m.text}") if m.type == "error" else None)
    try:
        pages, loaded = probe.open_pages(contexts, server.url)
        values = [STEP * (k + 1) for k in range(SESSIONS)]
        seconds = probe.answer_each(pages, "kita-u3", [k + 1 for k in range(SESSIONS)], [str(v) for v in values])
        for k, (page, value) in enumerate(zip(pages, values)):
            # its own places, not another session's: that many fewer children wait, in every run
            figure = page.locator(".key-figure", has_text="Kinder ohne Kita-Platz").inner_text()
            assert f"Unterschied: -{value} (Spanne -{value} bis -{value})" in figure, (k, figure)
            assert "Neue Kita (Bockenheim" in page.inner_text(".changed"), k
            assert f"aus {DEFAULT_RUNS} Durchläufen" in page.inner_text(".status"), k
            assert str(BASE_YEAR + DEFAULT_YEARS) in page.inner_text(".answers h4"), k
        saving_writes_each_sessions_own_file(pages, values, folder)
        assert [page.locator(".answer-error, .v-alert.error").count() for page in pages] == [0] * SESSIONS
        assert errors == []
        log = server.log.read_text(encoding="utf-8")
        assert not LOG_ERRORS.search(log), log[-3000:]
        peak_server, peak_workers = server.peak_memory_mb()
    finally:
        for context in contexts:
            context.close()
    return {
        "pages_loaded_s": loaded,
        "first_session_answered_s": min(seconds),
        "all_sessions_answered_s": max(seconds),
        "server_peak_rss_mb": peak_server,
        "workers_peak_rss_mb": peak_workers,
    }


def saving_writes_each_sessions_own_file(pages, values, folder) -> None:
    for k, page in enumerate(pages):  # every session presses save before any message is awaited
        probe.fill_note(page, f"Gruppe {k + 1}", f"Tisch {k + 1}", f"{values[k]} Krippenplätze")
    for k, page in enumerate(pages):
        page.wait_for_selector(".save-message")
        assert f"Gruppe-{k + 1}.toml" in page.inner_text(".save-message"), k
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"Gruppe-{k + 1}.toml" for k in range(SESSIONS))
    for k, value in enumerate(values):
        data = tomllib.loads((folder / f"Gruppe-{k + 1}.toml").read_text(encoding="utf-8"))
        assert data["offerings"] == [
            {"service": "kita_u3", "area": "Bockenheim", "year": BASE_YEAR + 3, "action": "open", "capacity": float(value)}
        ]
        assert f"Tisch {k + 1}." in data["description_de"] and f"{value} Krippenplätze" in data["description_de"]
