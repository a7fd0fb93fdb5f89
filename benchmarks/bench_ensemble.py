"""Ensemble throughput: the whole city, several replications, on 1 and 2 worker processes and on a
Dask LocalCluster with 2 workers; seconds per replication, scaling ratio, peak memory per worker.

Usage: python benchmarks/bench_ensemble.py [--replications 4] [--years 10] [--out benchmarks/results]
No timed assertions: the figures go to results_ensemble.json / .md.
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
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml", horizon=years)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with E.make_executor(workers, scheduler) as executor:
            started = time.perf_counter()
            E.run_replications([(scenario, 0)], scenario.seed, n, None, Path(tmp), executor)
            run_s = time.perf_counter() - started
        total_s = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / 1e6
    return {
        "label": label,
        "workers": workers,
        "scheduler": scheduler,
        "replications": n,
        "years": years,
        "run_s": run_s,
        "with_startup_s": total_s,
        "s_per_replication": run_s / n,
        "disk_mb_per_replication": size_mb / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--years", type=int, default=10)
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
        "estimate_100_replications_25_years_min": 100 * two * 25 / args.years / 60,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results_ensemble.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Ensemble benchmark: whole city, {args.replications} replications of {args.years} years",
        "",
        "| executor | s per replication | run s | disk MB per replication |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r['label']} | {r['s_per_replication']:.2f} | {r['run_s']:.1f} | {r['disk_mb_per_replication']:.2f} |" for r in runs]
    lines += [
        "",
        f"Scaling 1 -> 2 workers: {result['scaling_1_to_2_workers']:.2f}x; peak RSS of a worker process: {peak:.0f} MB "
        f"(the in-process run is measured in the main process). Estimated 100 replications x 25 years on 2 workers: "
        f"{result['estimate_100_replications_25_years_min']:.0f} minutes.",
    ]
    (args.out / "results_ensemble.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
