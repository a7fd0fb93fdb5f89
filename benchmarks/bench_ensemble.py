"""Ensemble throughput: the whole city, several replications, on 1 and 2 worker processes and on a
Dask LocalCluster with 2 workers; seconds per replication, scaling ratio, peak memory per worker.

Usage: python benchmarks/bench_ensemble.py [--replications 6] [--years 25] [--out benchmarks/results]

Each executor first runs one replication per worker (the first batch: worker start, reading the
inputs once per worker, loading the compiled code), then ``--replications`` more on the warm
workers. The estimate for 100 replications is the first batch plus the remaining replications at
the warm rate, the way a long ensemble spends its time. No timed assertions: the figures go to
results_ensemble.json / .md.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulation import ensemble as E  # noqa: E402
from simulation.scenario import load_scenario  # noqa: E402


def worker_peak_mb() -> float:
    """Peak RSS of this process's finished children (the worker processes), MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def measure(label: str, workers: int, scheduler: str | None, n: int, years: int) -> dict:
    """Seconds of the first batch (one replication per worker, from the executor's start) and of
    ``n`` further replications on the warm workers; disk per replication."""
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml", horizon=years)
    first = max(1, workers)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with E.make_executor(workers, scheduler) as executor:
            E.run_replications([(scenario, 0)], scenario.seed, first, None, Path(tmp) / "first", executor)
            first_s = time.perf_counter() - t0
            started = time.perf_counter()
            E.run_replications([(scenario, 0)], scenario.seed, n, None, Path(tmp) / "warm", executor)
            run_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in (Path(tmp) / "warm").rglob("*") if p.is_file()) / 1e6
    return {
        "label": label,
        "workers": workers,
        "scheduler": scheduler,
        "replications": n,
        "years": years,
        "first_batch_s": first_s,
        "run_s": run_s,
        "s_per_replication": run_s / n,
        "estimate_100_replications_min": (first_s + (100 - first) * run_s / n) / 60,
        "disk_mb_per_replication": size_mb / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=6, help="replications on warm workers (default 6)")
    parser.add_argument("--years", type=int, default=25)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    runs = [measure("1 worker (in process)", 1, None, args.replications, args.years)]
    runs.append(measure("2 worker processes", 2, None, args.replications, args.years))
    runs.append(measure("Dask LocalCluster, 2 workers", 2, "local", args.replications, args.years))
    peak = worker_peak_mb()
    one, two = runs[0]["s_per_replication"], runs[1]["s_per_replication"]
    result = {
        "runs": runs,
        "scaling_1_to_2_workers": one / two,
        "worker_peak_rss_mb": peak,
        "estimate_100_replications_min": runs[1]["estimate_100_replications_min"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results_ensemble.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Ensemble benchmark: whole city, {args.replications} replications of {args.years} years on warm workers",
        "",
        "| executor | first batch s (1 per worker) | s per replication, warm | estimate 100 replications min | disk MB per replication |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['label']} | {r['first_batch_s']:.1f} | {r['s_per_replication']:.2f} | {r['estimate_100_replications_min']:.1f} | "
        f"{r['disk_mb_per_replication']:.2f} |"
        for r in runs
    ]
    lines += [
        "",
        f"Scaling 1 -> 2 workers: {result['scaling_1_to_2_workers']:.2f}x; peak RSS of a worker process: {peak:.0f} MB "
        f"(the in-process run is measured in the main process). Estimated 100 replications x {args.years} years on 2 workers: "
        f"{result['estimate_100_replications_min']:.1f} minutes (first batch + 98 warm replications).",
    ]
    (args.out / "results_ensemble.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
