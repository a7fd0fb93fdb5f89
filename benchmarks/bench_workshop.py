"""Workshop page: time from a lever change to the updated chart, measured in headless Chromium.

Starts ``sozialraum workshop`` (Bockenheim, 2 worker processes), opens the page, then moves the
under-3 Kita lever step by step (each position a new scenario, never cached) and measures, in the
browser, the time from the key press to (1) the chart showing the new answer (the first round of
replications, one per worker) and (2) the answer with all replications. Also the page load
(first visit, baseline already computed at start-up or not) and the time the server reports.

With ``--sessions N``: N browser sessions at once instead (separate Chromium contexts, one
server, the page's default horizon and runs), each moving the lever to a value of its own in a
burst of key presses; measured are the time until every session shows its complete answer, the
page loads and the peak memory of the server and its worker processes. CSS animations are off in
these browsers unless ``--animated`` (N browsers animating progress bars on the same two cores
cost more CPU than the server).

Usage: python benchmarks/bench_workshop.py [--changes 8 | --sessions 10 [--animated]] [--out benchmarks/results]
Nothing is asserted; figures go to results_workshop.json / .md (results_workshop_sessions.*
with --sessions). Needs chromium and playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulation.workshop import probe  # noqa: E402


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=8, help="lever positions to measure")
    parser.add_argument("--sessions", type=int, default=0, help="measure this many sessions at once instead")
    parser.add_argument("--animated", action="store_true", help="with --sessions: leave the browsers' animations on")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if probe.chromium_path() is None:
        sys.exit("no chromium binary: install Debian's chromium package")
    if args.sessions:
        return concurrent_sessions(args.sessions, not args.animated, args.out)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with probe.server(Path(tmp) / "saved", Path(tmp) / "server.log") as server, probe.chromium() as browser:
            up, url = time.perf_counter() - t0, server.url
            context = browser.new_context(viewport={"width": 1400, "height": 1100})
            page, first_load, requests = probe.open_page(context, url)
            second = browser.new_context(viewport={"width": 1400, "height": 1100})
            _, warm_load, _ = probe.open_page(second, url)
            probe.open_tab(page, "Angebote", "services")
            first, complete, reported = [], [], []
            for _ in range(args.changes):
                a, b = probe.move_lever(page, "kita-u3", "services")
                first.append(a)
                complete.append(b)
                reported.append(page.inner_text(".status"))
    result = {
        "server_up_s": up,
        "first_page_load_s": first_load,
        "page_load_baseline_cached_s": warm_load,
        "requests_outside_localhost": probe.outside(requests),
        "lever_to_first_chart_s": summary(first),
        "lever_to_complete_answer_s": summary(complete),
        "server_status_last": reported[-1],
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    lines = [
        "# Workshop page: lever change to chart (headless Chromium, Bockenheim, to 2035, 4 runs on 2 workers)",
        "",
        f"- server up (answers HTTP): {up:.1f} s; first page load (baseline computed at start-up): {first_load:.1f} s; "
        f"a second session: {warm_load:.1f} s",
        f"- lever to updated chart (first round, 2 runs): median {result['lever_to_first_chart_s']['median']:.2f} s "
        f"(min {min(first):.2f}, max {max(first):.2f}, {len(first)} changes)",
        f"- lever to complete answer (4 runs): median {result['lever_to_complete_answer_s']['median']:.2f} s "
        f"(min {min(complete):.2f}, max {max(complete):.2f})",
        f"- requests outside this computer: {len(result['requests_outside_localhost'])}",
        f"- load average at start {load_start[0]:.2f}, at end {result['load_average_end'][0]:.2f} ({os.cpu_count()} CPUs)",
    ]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results_workshop.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (args.out / "results_workshop.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def concurrent_sessions(n: int, still: bool, out: Path) -> None:
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        with probe.server(Path(tmp) / "saved", Path(tmp) / "server.log") as server, probe.chromium() as browser:
            contexts = probe.sessions(browser, n, still)
            pages, loaded = probe.open_pages(contexts, server.url)
            seconds = probe.answer_each(pages, "kita-u3", list(range(1, n + 1)), [str(5 * k) for k in range(1, n + 1)])
            peak_server, peak_workers = server.peak_memory_mb()
            for context in contexts:
                context.close()
    result = {
        "sessions": n,
        "animations": not still,
        "pages_loaded_s": loaded,
        "lever_to_complete_answer_s": summary(seconds),
        "server_peak_rss_mb": peak_server,
        "workers_peak_rss_mb": peak_workers,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    lines = [
        f"# Workshop page: {n} sessions at once (headless Chromium, Bockenheim, to 2035, 4 runs on 2 workers)",
        "",
        f"- all {n} pages loaded (first chart): {loaded:.1f} s",
        f"- lever burst to every session's complete answer: {max(seconds):.1f} s (first {min(seconds):.1f} s, median "
        f"{statistics.median(seconds):.1f} s)",
        f"- peak memory: server {peak_server:.0f} MB, its 2 worker processes {peak_workers:.0f} MB together",
        f"- browser animations {'on' if not still else 'off'}; load average at start {load_start[0]:.2f}, at end "
        f"{result['load_average_end'][0]:.2f} ({os.cpu_count()} CPUs)",
    ]
    print("\n".join(lines))
    out.mkdir(parents=True, exist_ok=True)
    (out / "results_workshop_sessions.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "results_workshop_sessions.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
