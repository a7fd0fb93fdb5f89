"""Benchmark: the vectorised CityModel against a plain Mesa reference and a neworder model, whole city, in one run.

Usage: .venv/bin/python benchmarks/bench_city.py [--years 25] [--reference-years 2] [--neworder-years 3] [--out benchmarks/results]

Each implementation runs in its own fresh process (multiprocessing 'spawn'), with
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to 1, so its peak memory is its
own and numpy uses one thread. Memory is the process's RSS high-water mark,
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (includes the interpreter and imports, reported
separately as "RSS after imports"), plus the current RSS (/proc/self/statm) at set points.

Figures (see benchmarks/README.md): set-up time, simulation time, seconds per simulated year,
persons x years per second, where the CityModel's year goes (events, Mesa agent bookkeeping in
``CityModel._sync_agents``, records and checks), peak RSS, the reference's seconds per year and
the ratio reference / vectorised, and the same for the neworder model of the demographic events
(benchmarks/neworder_reference.py; --neworder-years 0 skips it). Writes results.json and results.md
to --out. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

from mesa_reference import ReferenceModel

from simulation import cohesion
from simulation.inputs import load_inputs
from simulation.model import CityModel, paused_cyclic_gc
from simulation.processes import services
from simulation.records import YearRecorder
from simulation.runner import package_versions
from simulation.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "baseline.toml"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# what is timed during the run, by kind ("other" = the rest of step(), incl. Mesa's step wrapper)
EVENT_PHASES = ("ageing", "construction", "deaths", "births", "household_transitions", "out_migration", "in_migration", "moves", "housing")
# services, volunteering and indicators have no counterpart in the plain Mesa reference
EXTRA_PHASES = ("volunteering", "serve_year", "yearly_indicators")
RECORD_PHASES = ("check", "record")  # CityModel.check, YearRecorder.record
COMPARED_EVENTS = (
    "births",
    "deaths",
    "emigrants",
    "immigrants",
    "unhoused_immigrants",
    "moves",
    "left_home",
    "couples_formed",
    "separations",
)
NEWORDER_EVENTS = ("births", "deaths", "emigrants", "immigrants", "moves", "left_home")  # what the neworder model has


# ---- measuring helpers ------------------------------------------------------------------------
def rss_now_mb() -> float:
    """Current resident set size of this process (Linux /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_peak_mb() -> float:
    """RSS high-water mark of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed_methods(targets: dict[type, tuple[str, ...]]):
    """Wrap the named methods of the given classes to add their wall time to a dict; restore on exit."""
    totals: dict[str, float] = defaultdict(float)
    saved = [(cls, name, cls.__dict__[name]) for cls, names in targets.items() for name in names]
    for cls, name, original in saved:
        setattr(cls, name, _timed(original, name, totals))
    try:
        yield totals
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)


def _timed(method, name: str, totals: dict[str, float]):
    @wraps(method)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - t0

    return wrapper


@contextmanager
def gc_time():
    """Yield a dict whose "s" becomes the wall time spent in Python's cyclic garbage collector in the block."""
    total, started = {"s": 0.0}, [0.0]

    def callback(phase: str, _info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            total["s"] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        yield total
    finally:
        gc.callbacks.remove(callback)


def run_isolated(fn, *args):
    """Run ``fn(*args)`` in a fresh spawned process and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def process_facts() -> dict:
    return {"threads_env": {v: os.environ.get(v) for v in THREAD_VARS}, "rss_after_imports_mb": rss_now_mb()}


# ---- the two measurements (each runs in its own process) -------------------------------------------
def bench_vectorised(years: int, compare_years: int) -> dict:
    """Load inputs and build the CityModel as run_scenario does, in this fresh process (cold
    set-up); load the compiled code of the yearly events (``warm_compiled_code``); build the model
    again from the loaded inputs (set-up with inputs already loaded) and run it, timing its phases;
    then the cost of materialising every household's Mesa agent on demand."""
    facts = process_facts()
    scenario = load_scenario(SCENARIO)
    t0 = time.perf_counter()
    inputs = load_inputs(scenario)
    t1 = time.perf_counter()
    CityModel(scenario, inputs)
    t2 = time.perf_counter()
    gc.collect()
    warm_compiled_code()  # so that the years measure the simulation, not numba's one-off loading
    targets = {
        CityModel: EVENT_PHASES + ("volunteering", "check"),
        services: ("serve_year",),
        cohesion: ("yearly_indicators",),
        YearRecorder: ("record",),
    }
    with timed_methods(targets) as phases:
        t3 = time.perf_counter()
        model = CityModel(scenario, inputs)
        warm_setup_s = time.perf_counter() - t3
        phases.clear()
        facts["rss_after_setup_mb"] = rss_now_mb()
        persons, households, marks = [len(model.population.persons)], [len(model.population.households)], [time.perf_counter()]

        def after_year(_year: int) -> None:
            marks.append(time.perf_counter())
            persons.append(len(model.population.persons))
            households.append(len(model.population.households))

        with gc_time() as collector:
            model.run(years, progress=after_year)
        run_phases = dict(phases)
    year_s = [b - a for a, b in zip(marks, marks[1:])]
    rss_after_run, rss_peak_run = rss_now_mb(), rss_peak_mb()  # the run's own high-water mark, before any agent exists
    t4 = time.perf_counter()
    n_agents = len(model.agents)  # materialise every household's agent (what a visualisation would trigger)
    agents_s = time.perf_counter() - t4
    agents_mb = rss_now_mb() - rss_after_run
    events = vectorised_events(model, compare_years)
    return {
        **facts,
        "years": years,
        "inputs_s": t1 - t0,
        "setup_s": t2 - t1,
        "cold_setup_s": t2 - t0,
        "warm_setup_s": warm_setup_s,
        "agents_on_demand_s": agents_s,
        "agents": n_agents,
        "agents_on_demand_mb": agents_mb,
        "simulation_s": sum(year_s),
        "year_s": year_s,
        "persons": persons,
        "households": households,
        "phases_s": run_phases,
        "gc_s": collector["s"],
        "events": events,
        "rss_after_run_mb": rss_after_run,
        "rss_peak_mb": rss_peak_run,
        "rss_peak_with_agents_mb": rss_peak_mb(),
    }


DISTRICT_RUNS_AFTER_THE_FIRST = 3


def bench_district(years: int) -> dict:
    """One Sozialrathaus district (Bockenheim) with everything on, inputs loaded beforehand: a first
    run in this fresh process, whose first year also loads every compiled function's machine code
    from numba's on-disk cache (once per process), then DISTRICT_RUNS_AFTER_THE_FIRST runs of new models; the target
    figure is their median (one run on a shared 2-core machine varies by several per cent)."""
    scenario = load_scenario(ROOT / "scenarios" / "bockenheim.toml")
    inputs = load_inputs(scenario)
    runs = []
    for _ in range(1 + DISTRICT_RUNS_AFTER_THE_FIRST):
        t0 = time.perf_counter()
        model = CityModel(scenario, inputs)
        t1 = time.perf_counter()
        model.step()  # the first year apart: in a fresh process it loads the compiled code
        t2 = time.perf_counter()
        model.run(years - 1)
        runs.append({"setup_s": t1 - t0, "first_year_s": t2 - t1, "simulation_s": time.perf_counter() - t1})
    first, later = runs[0], runs[1:]
    simulation = sorted(r["simulation_s"] for r in later)
    return {
        "years": years,
        "persons": len(model.population.persons),
        "setup_s": first["setup_s"],
        "simulation_s": statistics.median(simulation),
        "simulation_runs_s": simulation,
        "fresh_process_simulation_s": first["simulation_s"],
        "compiled_code_loading_s": first["first_year_s"] - statistics.median(r["first_year_s"] for r in later),
        "rss_peak_mb": rss_peak_mb(),
    }


def warm_compiled_code() -> None:
    """Run one year of the district model, so that numba has loaded every compiled function of the
    yearly events from its cache before the whole city is timed (``bench_district`` measures that
    one-off; an ensemble worker or the workshop server pays it once)."""
    scenario = load_scenario(ROOT / "scenarios" / "bockenheim.toml")
    CityModel(scenario, load_inputs(scenario)).step()
    gc.collect()


def vectorised_events(model: CityModel, n_years: int) -> dict[int, dict[str, int]]:
    """City totals of the compared events in the first ``n_years`` years, from the model's recorder."""
    out = {}
    for year in range(model.config.base_year + 1, model.config.base_year + n_years + 1):
        events, city = model.recorder.events.get(year), model.recorder.city.get(year, {})
        if events is None:
            break
        out[year] = {**{e: int(v.sum()) for e, v in events.items()}, **city, "moves": int(events["moves_in"].sum())}
    return out


def bench_reference(years: int) -> dict:
    """Convert a freshly built CityModel's base population to plain Mesa agents and run the reference."""
    facts = process_facts()
    scenario = load_scenario(SCENARIO)
    t0 = time.perf_counter()
    city = CityModel(scenario, load_inputs(scenario))
    city_s = time.perf_counter() - t0
    facts["rss_after_city_model_mb"] = rss_now_mb()
    t0 = time.perf_counter()
    model = ReferenceModel.from_city(city, years)
    setup_s = time.perf_counter() - t0
    facts["rss_with_both_mb"] = rss_now_mb()
    del city
    gc.collect()
    facts["rss_after_setup_mb"] = rss_now_mb()
    persons, households, year_s = [model.persons()], [len(model.agents)], []
    with gc_time() as collector, paused_cyclic_gc():  # the same garbage-collection policy as CityModel.run
        for _ in range(years):
            t0 = time.perf_counter()
            model.step()
            year_s.append(time.perf_counter() - t0)
            persons.append(model.persons())  # outside the timed step
            households.append(len(model.agents))
    model.check()
    return {
        **facts,
        "years": years,
        "city_model_setup_s": city_s,
        "setup_s": setup_s,
        "simulation_s": sum(year_s),
        "year_s": year_s,
        "persons": persons,
        "households": households,
        "gc_s": collector["s"],
        "events": {y: {e: int(h.get(e, 0)) for e in COMPARED_EVENTS} for y, h in model.history.items()},
        "rss_after_run_mb": rss_now_mb(),
        "rss_peak_mb": rss_peak_mb(),
    }


def bench_neworder(years: int) -> dict:
    """Build the neworder model's plain inputs from a fresh CityModel, then run it (benchmarks/neworder_reference.py)."""
    # neworder is needed in this process only
    from neworder_reference import reference_inputs, run_neworder

    facts = process_facts()
    t0 = time.perf_counter()
    inputs = reference_inputs(years)
    inputs_s = time.perf_counter() - t0
    gc.collect()  # the CityModel the inputs were read from
    facts["rss_after_inputs_mb"] = rss_now_mb()
    with gc_time() as collector, paused_cyclic_gc():  # the same garbage-collection policy as CityModel.run
        result = run_neworder(inputs, years)
    return {**facts, **result, "inputs_s": inputs_s, "gc_s": collector["s"], "rss_after_run_mb": rss_now_mb()}


# ---- derived figures and report ------------------------------------------------------------------
def derive(r: dict) -> dict:
    """Per-year means and persons x years per second (persons counted at the start of each year)."""
    n = max(r["years"], 1)
    person_years = sum(r["persons"][:-1])
    return {
        **r,
        "per_year_s": r["simulation_s"] / n,
        "person_years": person_years,
        "person_years_per_s": person_years / r["simulation_s"] if r["simulation_s"] else None,
    }


def compare(vec: dict, ref: dict) -> dict:
    """Reference seconds per year over vectorised seconds per year (all years, and the same first years)."""
    first = vec["year_s"][: ref["years"]]
    same_years = sum(first) / len(first) if first else None
    return {
        "ratio_per_year": ref["per_year_s"] / vec["per_year_s"],
        "vectorised_per_year_same_years_s": same_years,
        "ratio_same_years": ref["per_year_s"] / same_years if same_years else None,
        "reference_extrapolated_s": ref["per_year_s"] * vec["years"],
    }


def phase_split(vec: dict) -> dict[str, float]:
    """Run time by kind: events (those the reference also has), services/volunteering/indicators
    (no counterpart in the reference), Mesa agent bookkeeping, records and checks, other."""
    p = vec["phases_s"]
    split = {
        "events": sum(p.get(k, 0.0) for k in EVENT_PHASES),
        "services_volunteering_indicators": sum(p.get(k, 0.0) for k in EXTRA_PHASES),
        "records_and_checks": sum(p.get(k, 0.0) for k in RECORD_PHASES),
    }
    split["other"] = vec["simulation_s"] - sum(split.values())
    return split


def targets(res: dict) -> list[tuple[str, float, float, str]]:
    """The speed and memory targets of the inputs-once issue: (figure, measured, target, unit)."""
    vec, district = res["vectorised"], res["district"]
    per_25 = vec["simulation_s"] / vec["years"] * 25
    return [
        ("whole city, 25 years of simulation (single core, compiled code loaded)", per_25, 2.5, "s"),
        ("set-up with inputs already loaded", vec["warm_setup_s"], 1.0, "s"),
        ("set-up cold, loading included", vec["cold_setup_s"], 3.0, "s"),
        (
            f"one Sozialrathaus district (Bockenheim), 25 years, median of {len(district['simulation_runs_s'])} runs after the first",
            district["simulation_s"] / district["years"] * 25,
            0.4,
            "s",
        ),
        ("peak memory of the whole-city run (ru_maxrss)", vec["rss_peak_mb"], 600.0, "MB"),
    ]


def targets_markdown(res: dict) -> list[str]:
    lines = ["## Targets", "", "| figure | measured | target | met |", "|---|---:|---:|:--:|"]
    for name, value, limit, unit in targets(res):
        lines.append(f"| {name} | {value:,.2f} {unit} | {limit:,.1f} {unit} | {'yes' if value <= limit else 'no'} |")
    vec, district = res["vectorised"], res["district"]
    lines += [
        "",
        f"The first run in a fresh process also loads the machine code of every compiled function from numba's "
        f"on-disk cache at its first call: {district['compiled_code_loading_s']:.2f} s once per process (an ensemble "
        f"worker or the workshop server pays it once). The district's first run in a fresh process took "
        f"{district['fresh_process_simulation_s'] / district['years'] * 25:.2f} s for 25 years, the runs after it "
        f"{', '.join(f'{s / district["years"] * 25:.3f}' for s in district['simulation_runs_s'])} s; the whole city is "
        "timed after a one-year district run has loaded the code.",
        "",
        f"Materialising all {vec['agents']:,} Household agents on demand (`model.agents`, once, after the run): "
        f"{vec['agents_on_demand_s']:.2f} s and {vec['agents_on_demand_mb']:.0f} MB; the yearly loop does not pay it. The ensemble target (100 replications x 25 "
        "years on 2 cores) is measured by bench_ensemble.py.",
        "",
    ]
    return lines


def host_facts() -> dict:
    model_name = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    return {
        "platform": platform.platform(),
        "cpu": model_name,
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg(),
    }


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def markdown(res: dict) -> str:
    """The report: main figures, where the vectorised year goes, event counts of both implementations."""
    vec, ref, cmp_, f = res["vectorised"], res["reference"], res["comparison"], _num
    lines = [
        f"# City benchmark ({res['run']['started']})",
        "",
        f"Scenario {res['run']['scenario']}, seed {res['run']['seed']}; {res['host']['cpu']}, "
        f"{res['host']['cpus_usable']} usable CPUs, numpy single-threaded ({', '.join(THREAD_VARS)} = 1); "
        f"load average at start {', '.join(f'{x:.2f}' for x in res['host']['load_average_at_start'])}.",
        "",
        "| figure | vectorised CityModel | plain Mesa reference |",
        "|---|---:|---:|",
        f"| years simulated | {vec['years']} | {ref['years']} |",
        f"| set-up s | {f(vec['setup_s'])} first build in this fresh process, {f(vec['warm_setup_s'])} a second build, both from loaded inputs (+ {f(vec['inputs_s'])} load_inputs) "
        f"| {f(ref['setup_s'])} conversion (+ {f(ref['city_model_setup_s'])} CityModel build, not counted) |",
        f"| simulation s, all years | {f(vec['simulation_s'])} | {f(ref['simulation_s'])} |",
        f"| s per simulated year, mean | {f(vec['per_year_s'])} | {f(ref['per_year_s'])} |",
        f"| of which cyclic garbage collection, s per year | {f(vec['gc_s'] / vec['years'])} | {f(ref['gc_s'] / ref['years'])} |",
        f"| s per year, first {ref['years']} years | {f(cmp_['vectorised_per_year_same_years_s'])} | {f(ref['per_year_s'])} |",
        f"| s for {vec['years']} years | {f(vec['simulation_s'])} | {f(cmp_['reference_extrapolated_s'])} (extrapolated) |",
        f"| persons x years per s | {f(vec['person_years_per_s'], 0)} | {f(ref['person_years_per_s'], 0)} |",
        f"| persons at start / end | {vec['persons'][0]:,} / {vec['persons'][-1]:,} | {ref['persons'][0]:,} / {ref['persons'][-1]:,} |",
        f"| households at start / end | {vec['households'][0]:,} / {vec['households'][-1]:,} | {ref['households'][0]:,} / {ref['households'][-1]:,} |",
        f"| peak RSS MB (ru_maxrss) | {f(vec['rss_peak_mb'], 0)} | {f(ref['rss_peak_mb'], 0)} (includes the CityModel build) |",
        f"| RSS after imports MB | {f(vec['rss_after_imports_mb'], 0)} | {f(ref['rss_after_imports_mb'], 0)} |",
        f"| RSS growth by set-up MB | {f(vec['rss_after_setup_mb'] - vec['rss_after_imports_mb'], 0)} (whole CityModel) "
        f"| {f(ref['rss_with_both_mb'] - ref['rss_after_city_model_mb'], 0)} (the Person and Household objects) |",
        f"| RSS after set-up MB | {f(vec['rss_after_setup_mb'], 0)} | {f(ref['rss_after_setup_mb'], 0)} (CityModel deleted) |",
        f"| RSS after run MB | {f(vec['rss_after_run_mb'], 0)} | {f(ref['rss_after_run_mb'], 0)} |",
        "",
        f"**Ratio reference / vectorised, seconds per year: {f(cmp_['ratio_per_year'], 1)}x** "
        f"(against the vectorised mean over {vec['years']} years; {f(cmp_['ratio_same_years'], 1)}x against its first {ref['years']} years).",
        "",
        *neworder_ratio(res),
        *targets_markdown(res),
        "## Where the vectorised year goes (mean s per year)",
        "",
        "| part | s per year | share |",
        "|---|---:|---:|",
    ]
    n, total = max(vec["years"], 1), vec["simulation_s"]
    for part, seconds in res["phase_split"].items():
        lines.append(f"| **{part}** | {f(seconds / n)} | {seconds / total:.1%} |")
    for method, seconds in sorted(vec["phases_s"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {method}() | {f(seconds / n)} | {seconds / total:.1%} |")
    lines += [
        "",
        "## Event counts, city (same rates; vectorised / reference)",
        "",
        "| year | " + " | ".join(COMPARED_EVENTS) + " |",
        "|---|" + "---:|" * len(COMPARED_EVENTS),
    ]
    for year, counts in ref["events"].items():
        v = vec["events"].get(year, {})
        lines.append(f"| {year} | " + " | ".join(f"{v.get(e, 0):,} / {counts[e]:,}" for e in COMPARED_EVENTS) + " |")
    return "\n".join(lines + neworder_markdown(res)) + "\n"


def neworder_ratio(res: dict) -> list[str]:
    """The neworder ratio line, printed beside the Mesa reference's."""
    if "neworder" not in res:
        return []
    nw, cmp_, f = res["neworder"], res["comparison_neworder"], _num
    return [
        (
            f"**Ratio neworder / vectorised, seconds per year: {f(cmp_['ratio_per_year'], 2)}x** ({f(nw['per_year_s'])} s per year; "
            f"against the vectorised mean; {f(cmp_['ratio_same_years'], 2)}x against its first {nw['years']} years; "
            f"{f(cmp_['ratio_to_event_methods'], 2)}x against its event methods alone; see the neworder section)."
        ),
        "",
    ]


def neworder_markdown(res: dict) -> list[str]:
    """The neworder model's figures beside the vectorised CityModel's, and both event counts."""
    if "neworder" not in res:
        return []
    vec, nw, cmp_, f = res["vectorised"], res["neworder"], res["comparison_neworder"], _num
    lines = [
        "",
        f"## neworder model (neworder {nw['neworder_version']}, benchmarks/neworder_reference.py)",
        "",
        "| figure | vectorised CityModel | neworder model |",
        "|---|---:|---:|",
        f"| years simulated | {vec['years']} | {nw['years']} |",
        (
            f"| set-up s | {f(vec['setup_s'])} | {f(nw['setup_s'])} DataFrame from plain inputs "
            f"(+ {f(nw['inputs_s'])} building the inputs from a CityModel, not counted) |"
        ),
        f"| simulation s, all years | {f(vec['simulation_s'])} | {f(nw['simulation_s'])} (with neworder's loop and check(): {f(nw['run_s'])}) |",
        f"| s per simulated year, mean | {f(vec['per_year_s'])} | {f(nw['per_year_s'])} |",
        f"| s per year, first {nw['years']} years | {f(cmp_['vectorised_per_year_same_years_s'])} | {f(nw['per_year_s'])} |",
        f"| s per year in the event methods only (the vectorised 'events' part: no services, agents, records) | {f(cmp_['vectorised_events_per_year_s'])} | {f(nw['per_year_s'])} |",
        f"| s for {vec['years']} years | {f(vec['simulation_s'])} | {f(cmp_['reference_extrapolated_s'])} (extrapolated) |",
        f"| persons x years per s | {f(vec['person_years_per_s'], 0)} | {f(nw['person_years_per_s'], 0)} |",
        f"| persons at start / end | {vec['persons'][0]:,} / {vec['persons'][-1]:,} | {nw['persons'][0]:,} / {nw['persons'][-1]:,} |",
        f"| households at start / end | {vec['households'][0]:,} / {vec['households'][-1]:,} | {nw['households'][0]:,} / {nw['households'][-1]:,} |",
        f"| peak RSS MB (ru_maxrss) | {f(vec['rss_peak_mb'], 0)} | {f(nw['rss_peak_mb'], 0)} (includes the CityModel the inputs are read from) |",
        f"| RSS after run MB | {f(vec['rss_after_run_mb'], 0)} | {f(nw['rss_after_run_mb'], 0)} |",
        "",
        (
            "Event counts, city (vectorised / neworder; the neworder model has no dwellings, so all newcomers arrive "
            "and there are no displaced emigrants or movers; vectorised unhoused immigrants in brackets):"
        ),
        "",
        "| year | " + " | ".join(NEWORDER_EVENTS) + " |",
        "|---|" + "---:|" * len(NEWORDER_EVENTS),
    ]
    for year, counts in nw["events"].items():
        v = vec["events"].get(year)  # None: the vectorised run was shorter (--years < --neworder-years)
        cells = [f"{v[e]:,} / {counts[e]:,}" if v else f"n/a / {counts[e]:,}" for e in NEWORDER_EVENTS]
        if v:
            cells[NEWORDER_EVENTS.index("immigrants")] = f"{v['immigrants']:,} (+{v['unhoused_immigrants']:,}) / {counts['immigrants']:,}"
        lines.append(f"| {year} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=25, help="years for the vectorised CityModel (default 25)")
    parser.add_argument("--reference-years", type=int, default=2, help="years for the plain Mesa reference (default 2)")
    parser.add_argument("--neworder-years", type=int, default=3, help="years for the neworder model (default 3; 0 skips it)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="directory for results.json and results.md")
    args = parser.parse_args(argv)
    if args.years < 1 or args.reference_years < 1:
        parser.error("--years and --reference-years must be at least 1")
    if args.neworder_years < 0:
        parser.error("--neworder-years must be at least 0")
    os.environ.update({v: "1" for v in THREAD_VARS})  # inherited by the spawned processes
    scenario = load_scenario(SCENARIO)
    run = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
        "scenario": str(SCENARIO.relative_to(ROOT)),
        "seed": scenario.seed,
        "memory_method": "resource.getrusage(RUSAGE_SELF).ru_maxrss in each spawned process; current RSS from /proc/self/statm",
    }
    host = host_facts()
    print(f"vectorised CityModel, {args.years} years ...", flush=True)
    vec = derive(run_isolated(bench_vectorised, args.years, max(args.reference_years, args.neworder_years)))
    print(f"plain Mesa reference, {args.reference_years} years ...", flush=True)
    ref = derive(run_isolated(bench_reference, args.reference_years))
    print(f"one district (Bockenheim), {args.years} years ...", flush=True)
    district = run_isolated(bench_district, args.years)
    nw = None
    if args.neworder_years:
        print(f"neworder model, {args.neworder_years} years ...", flush=True)
        nw = derive(run_isolated(bench_neworder, args.neworder_years))
    host["load_average_at_end"] = os.getloadavg()
    results = {
        "run": run,
        "host": host,
        "versions": package_versions(),
        "vectorised": vec,
        "reference": ref,
        "comparison": compare(vec, ref),
        "phase_split": phase_split(vec),
        "district": district,
    }
    if nw is not None:  # also against the vectorised event methods alone (no services, agents, records)
        events_per_year = results["phase_split"]["events"] / vec["years"]
        results.update(
            neworder=nw,
            comparison_neworder={
                **compare(vec, nw),
                "vectorised_events_per_year_s": events_per_year,
                "ratio_to_event_methods": nw["per_year_s"] / events_per_year,
            },
        )
    report = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(report)
    print(report)
    print(f"written: {args.out / 'results.json'}, {args.out / 'results.md'}")


if __name__ == "__main__":
    main()
