"""Drive the workshop page in headless Chromium, as a participant would: start a server, open
the page, move a lever, wait for the chart. Used by the browser tests
(``tests/test_workshop_browser.py``) and the benchmark (``benchmarks/bench_workshop.py``).

Uses the system's Chromium (Debian's ``chromium`` package) through Playwright, which downloads no
browser of its own here; ``chromium_path()`` is None where no Chromium is installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "http://localhost", "ws://localhost", "data:", "blob:")
READY = ".chart-age img"  # the first chart: the page has its answer
# the page names the newest request (.request-<digest>) and the request its answer belongs to
# (.status.answer-<digest>); an answer is the newest one's when both digests agree
NEWEST = "() => [...document.querySelector('.request').classList].find(c => c.startsWith('request-')).slice(8)"
CHART_CHANGED = (
    "([sel, old, before]) => { const i = document.querySelector(sel); const r = document.querySelector('.request');"
    " const now = r && [...r.classList].find(c => c.startsWith('request-')).slice(8);"
    " return i && i.src !== old && now && now !== before && document.querySelector('.status.answer-' + now); }"
)
ANSWER_COMPLETE = "() => { const r = document.querySelector('.request'); const now = [...r.classList].find(c => c.startsWith('request-')).slice(8); return document.querySelector('.status.ready.answer-' + now); }"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(folder: Path, log: Path, area: str = "sozialrathaus:Bockenheim", workers: int = 2, timeout: float = 180) -> Iterator[str]:
    """``sozialraum workshop`` in a subprocess on a free port; yields its URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "simulation", "workshop", "--port", str(port), "--folder", str(folder), "--area", area]
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([*command, "--workers", str(workers)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the workshop server stopped (exit {proc.returncode}): {Path(log).read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (the system's) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def open_page(context, url: str, timeout_s: float = 120) -> tuple:
    """A new page in ``context`` at ``url``, waited for until its first chart is there. Returns
    the page, the seconds it took and the list of every URL it requested."""
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, timeout=timeout_s * 1000)
    return page, time.perf_counter() - t0, requests


def outside(requests: list[str]) -> list[str]:
    """The requests that left this computer."""
    return [u for u in requests if not u.startswith(LOCAL)]


def chart_source(page, chart: str) -> str:
    return page.locator(f".chart-{chart} img").get_attribute("src")


def move_lever(page, lever: str, chart: str, key: str = "ArrowRight", timeout_s: float = 120) -> tuple[float, float]:
    """Press ``key`` on the slider of ``lever`` (e.g. "kita-u3") and wait until ``chart`` shows
    the new answer and until all its replications are in. Returns both times in seconds."""
    old, before = chart_source(page, chart), page.evaluate(NEWEST)
    thumb = page.locator(f".lever-{lever} [role=slider]")
    thumb.focus()
    t0 = time.perf_counter()
    thumb.press(key)
    page.wait_for_function(CHART_CHANGED, arg=[f".chart-{chart} img", old, before], timeout=timeout_s * 1000)
    first = time.perf_counter() - t0
    page.wait_for_function(ANSWER_COMPLETE, timeout=timeout_s * 1000)
    return first, time.perf_counter() - t0


def open_tab(page, name: str, chart: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_selector(f".chart-{chart} img")
