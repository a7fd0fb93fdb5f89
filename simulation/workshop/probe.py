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
from dataclasses import dataclass
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
# the lever's label shows the value (the server has it) and the answer to the newest request is complete
# (textContent, not innerText: polling ten pages must not make each lay itself out again)
LEVER_SHOWS = "([lever, shown]) => { const e = document.querySelector('.lever-' + lever + ' .solara-markdown'); return !!e && e.textContent.trim().endsWith(': ' + shown); }"
ANSWERED = f"(arg) => ({LEVER_SHOWS})(arg) && !!({ANSWER_COMPLETE})()"
STILL = (
    "document.addEventListener('DOMContentLoaded', () => { const s = document.createElement('style');"
    " s.textContent = '*, *::before, *::after { animation: none !important; transition: none !important; }';"
    " document.head.appendChild(s); });"
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running ``sozialraum workshop``: its URL, process and log."""

    url: str
    pid: int
    log: Path

    def listening(self) -> set[str]:
        """The addresses the server process accepts connections on."""
        import psutil

        return {c.laddr.ip for c in psutil.Process(self.pid).net_connections("inet") if c.status == psutil.CONN_LISTEN}

    def peak_memory_mb(self) -> tuple[float, float]:
        """Peak resident memory so far (the kernel's high-water mark) of the server process and,
        summed, of its worker processes, in MB."""

        def peak(pid: int) -> float:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return 0.0
            return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)

        return peak(self.pid), sum(peak(child.pid) for child in self.workers())

    def workers(self) -> list:
        """The server's worker processes (psutil.Process each)."""
        import psutil

        return psutil.Process(self.pid).children(recursive=True)


@contextmanager
def server(folder: Path, log: Path, area: str = "sozialrathaus:Bockenheim", workers: int = 2, timeout: float = 180) -> Iterator[Server]:
    """``sozialraum workshop`` in a subprocess on a free port (its default host); yields it once it answers."""
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
            yield Server(url, proc.pid, Path(log))
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


def sessions(browser, n: int, still: bool = True) -> list:
    """``n`` browser contexts: separate cookies, so separate sessions of the page. ``still``
    switches off CSS animations (the progress bars): ten participants' browsers on the test
    machine's two cores would otherwise spend more CPU on animating than the server on answering
    (each participant's browser runs on their own computer at a workshop)."""
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(n)]
    for context in contexts if still else ():
        context.add_init_script(STILL)
    return contexts


def open_pages(contexts: list, url: str, timeout_s: float = 180) -> tuple[list, float]:
    """A page in each context (a browser session of its own), all requested before any is waited
    for; returns the pages and the seconds until every one shows its first chart."""
    t0 = time.perf_counter()
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.goto(url)
    for page in pages:
        page.wait_for_selector(READY, timeout=timeout_s * 1000)
    return pages, time.perf_counter() - t0


def answer_each(pages: list, lever: str, presses: list[int], shown: list[str], timeout_s: float = 180) -> list[float]:
    """Move ``lever`` (e.g. "kita-u3") of every page by its number of key presses (each a new
    request, so the quick ones supersede each other), every page before any answer is awaited;
    then wait until each page's label shows its value and its answer is complete. Returns the
    seconds from the first key press until each page had its answer."""
    t0 = time.perf_counter()
    for page, n in zip(pages, presses, strict=True):
        thumb = page.locator(f".lever-{lever} [role=slider]")
        thumb.focus()
        for _ in range(n):
            thumb.press("ArrowRight")
    answered: dict[int, float] = {}
    while len(answered) < len(pages):
        for i, page in enumerate(pages):
            if i not in answered and page.evaluate(ANSWERED, [lever, shown[i]]):
                answered[i] = time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError(f"after {timeout_s} s only sessions {sorted(answered)} of {len(pages)} have their answer")
        time.sleep(0.1)
    return [answered[i] for i in range(len(pages))]


def fill_note(page, title: str, participants: str, reason: str) -> None:
    """Write the group's note and press save (the message is awaited by the caller)."""
    page.get_by_label("Name des Szenarios").fill(title)
    page.get_by_label("Wer war dabei?").fill(participants)
    page.get_by_label("Warum dieses Szenario? Was wollen wir erreichen?").fill(reason)
    page.locator(".save-button").click()


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
