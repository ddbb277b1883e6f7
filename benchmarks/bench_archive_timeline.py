"""Archive scale: one patient's timeline and progress-chart data at 1M photo rows / 10M metric rows.

Builds a synthetic clinic (benchmarks/synthetic_archive.py: the same rows on both engines) in an
encrypted DuckDB database and/or a throwaway PostgreSQL 15 cluster on loopback
(tests/postgres_server.py; the real migrations, so the real indexes; patient columns sealed as the
services seal them), then times the real storage-layer queries (`clinic.archive`) for one patient:
median and p95 over N runs. The rows of one case are contiguous (as a submission or an assessment
run writes them), but each patient's cases are spread through the tables (patient = case * prime mod
patients), so zone maps cannot help and the patient_id indexes do the work. `--engine both` builds
both and prints them side by side (the figures in docs/DEPLOY.md, "Measured scale").

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_archive_timeline.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_archive_timeline.py --engine both
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_archive_timeline.py --engine postgres --photos 100000 --metrics 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_archive import Shape, build  # noqa: E402

from core.access import Principal  # noqa: E402
from core.clinic import Clinic  # noqa: E402
from core.config import Settings  # noqa: E402

PHYSICIAN = Principal("u0", "physician", "bench@example.test", "Bench")


@contextlib.contextmanager
def opened_clinic(engine: str) -> Iterator[Clinic]:
    """A fresh clinic in a temp data dir: the DuckDB file there, or a throwaway PostgreSQL cluster."""
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as directory:
        os.environ["CLINIC_DATA_DIR"] = directory
        for name in ("CLINIC_MASTER_KEY", "CLINIC_KEY_FILE", "CLINIC_DATABASE_URL"):
            os.environ.pop(name, None)
        server = None
        if engine == "postgres":
            from tests.postgres_server import start_server

            started = start_server()
            if isinstance(started, str):
                raise SystemExit(started)
            server = started
            os.environ["CLINIC_DATABASE_URL"] = server.fresh_database()[1]
        try:
            clinic = Clinic.open(Settings.from_env())
            try:
                yield clinic
            finally:
                clinic.close()
        finally:
            os.environ.pop("CLINIC_DATABASE_URL", None)
            if server is not None:
                server.stop()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def timed(runs: int, call: Callable[[], Any]) -> tuple[float, float, int]:
    """(median ms, p95 ms, rows) of `runs` calls after one warm-up call."""
    call()  # warm the buffer pool and the plan
    samples = []
    result: Any = None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 0.95), len(result)


def run_engine(
    engine: str, shape: Shape, runs: int, duckdb_threads: int
) -> dict[str, tuple[float, float, int]]:
    label = "encrypted DuckDB" if engine == "duckdb" else "PostgreSQL 15, sealed columns"
    print(
        f"building {shape.photos:,} photos, {shape.metrics:,} metrics, {shape.patients:,} patients ({label})"
    )
    with opened_clinic(engine) as clinic:
        started = time.perf_counter()
        build(
            clinic.db,
            clinic.settings,
            shape,
            lambda table, rows, seconds: print(f"  built {table:<20} {rows:>11,} rows in {seconds:6.1f} s"),
        )
        print(f"build total {time.perf_counter() - started:.1f} s")
        if engine == "duckdb":
            if duckdb_threads:
                # Small point queries gain nothing from parallel pipelines on a busy 2-core box.
                clinic.db.execute(f"SET threads = {int(duckdb_threads)}")
            print(f"duckdb threads: {clinic.db.scalar('SELECT current_setting(?)', ['threads'])}")
            print(f"file {clinic.settings.db_path.stat().st_size / 1e6:.0f} MB")
        else:
            size = clinic.db.scalar("SELECT pg_database_size(current_database())")
            print(f"database {size / 1e6:.0f} MB; shared_buffers {clinic.db.scalar('SHOW shared_buffers')}")
        archive = clinic.archive
        patient = shape.patient_of_case(shape.cases // 2)
        queries: dict[str, Callable[[], Any]] = {
            "timeline (one patient, all event kinds)": lambda: archive.patient_timeline(PHYSICIAN, patient),
            "chart data (one metric+region)": lambda: (
                archive.metric_series(PHYSICIAN, patient, "redness", "forehead").points
            ),
            "chart data (all metrics of the patient)": lambda: (
                archive.metric_series(PHYSICIAN, patient).points
            ),
            "patient photos (before/after picker)": lambda: archive.patient_photos(PHYSICIAN, patient),
        }
        results = {}
        for name, call in queries.items():
            results[name] = median, p95, rows = timed(runs, call)
            print(f"{name:<44} median {median:6.2f} ms  p95 {p95:6.2f} ms  ({rows} rows, {runs} runs)")
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=("duckdb", "postgres", "both"), default="duckdb")
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--metrics", type=int, default=10_000_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--duckdb-threads",
        type=int,
        default=0,
        help="SET threads for the timed queries (0 = the portal's setting: CLINIC_DUCKDB_THREADS, default 1)",
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    shape = Shape(args.photos, args.metrics, args.patients)
    engines = ["duckdb", "postgres"] if args.engine == "both" else [args.engine]
    results = {engine: run_engine(engine, shape, args.runs, args.duckdb_threads) for engine in engines}
    if len(engines) == 2:
        print(
            f"\nside by side ({shape.photos:,} photos / {shape.metrics:,} metric rows, {args.runs} runs, ms)"
        )
        print(f"{'query':<44} {'DuckDB median':>14} {'p95':>8}   {'PostgreSQL median':>18} {'p95':>8}  rows")
        for name, (median, p95, rows) in results["duckdb"].items():
            pg_median, pg_p95, pg_rows = results["postgres"][name]
            same = "" if rows == pg_rows else f" (PostgreSQL {pg_rows})"
            print(f"{name:<44} {median:14.2f} {p95:8.2f}   {pg_median:18.2f} {pg_p95:8.2f}  {rows}{same}")


if __name__ == "__main__":
    main()
