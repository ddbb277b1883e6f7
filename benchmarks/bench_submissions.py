"""Case submissions per second with 1 and with 2 app-server processes on one PostgreSQL.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_submissions.py [--threads 4] [--seconds 60] [--processes 1 2 1 2]

Starts a throwaway PostgreSQL 15 cluster on loopback (tests/postgres_server.py), then for each
process count (1, then 2) a fresh database and a fresh shared data directory (one master key, one
blob directory for all processes, as on a shared volume). Each process is an app server as the
portal runs it: `Clinic.open` on `CLINIC_DATABASE_URL` plus `start_background_work` (the durable
assessment queue's worker on, taking work `FOR UPDATE SKIP LOCKED`). Its `--threads` submitting
threads each loop over one patient's whole path: register (argon2id, consent recorded), log in,
intake + the demo's three photos (checked by the quality gate once at upload, before the timed
loop, as the upload page does; encrypted into the shared blob directory by the submission), case
submitted, assessment queued. Every process waits at a start line; submissions that finish inside
the `--seconds` window count. `--processes 1 2 1 2` alternates the counts (the ratio is of their
means), so a burst of other load on a shared machine does not fall on one count only. Prints
submissions/s per process count, the 2:1 ratio, latency median/p95 and per phase, the CPU time
one submission costs (argon2id's hash and verify measured alone, since they run in threads of their
own; the submitting thread's own time; the PostgreSQL cluster's processes), which does not depend
on what else the machine runs, and how many assessments the workers finished in the
window. Everything (PostgreSQL, the app servers, their
assessment workers) shares this machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

PASSWORD = "Bench-pass-123"
PHASES = ("register", "log-in", "submit")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


# -- one app-server process -------------------------------------------------------------------------
def app_server(threads: int, seconds: float) -> None:
    """Runs in a child process: prints `ready`, waits for `go` on stdin, submits, prints a JSON line."""
    from core.clinic import Clinic
    from core.config import Settings
    from core.demo import demo_intake, demo_intake_photos

    clinic = Clinic.open(Settings.from_env())
    clinic.start_background_work()
    photos = demo_intake_photos()
    intake = demo_intake()

    def submit_one() -> dict[str, float]:
        """One patient's path; the milliseconds of each phase, and the submitting thread's CPU
        time for the whole path (argon2 hashes in threads of its own: measured apart)."""
        email = f"bench-{uuid.uuid4().hex[:12]}@example.test"
        cpu_began = time.thread_time()
        marks = [time.perf_counter()]
        clinic.auth.register_patient(
            email, PASSWORD, "Bench Patient", date(1985, 6, 15), "en", "Europe/Amsterdam", True
        )
        marks.append(time.perf_counter())
        principal, token = clinic.auth.login(email, PASSWORD)
        marks.append(time.perf_counter())
        # The demo's side views are crops the gate fails: kept with their verdict, as the demo does.
        clinic.cases.submit_example_case(principal, intake, photos)
        marks.append(time.perf_counter())
        clinic.auth.logout(token)
        submit_cpu = time.thread_time() - cpu_began
        return {
            **{name: (marks[k + 1] - marks[k]) * 1000 for k, name in enumerate(PHASES)},
            "submit_cpu": submit_cpu * 1000,
        }

    submit_one()  # warm: imports, the pool, the statement caches
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    stop_at = start + seconds
    latencies: list[float] = []
    cpu_ms: list[float] = []  # the path's CPU time in its own thread, per counted submission
    phases: dict[str, list[float]] = {name: [] for name in PHASES}
    errors: list[str] = []
    lock = threading.Lock()

    def loop() -> None:
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            try:
                phase_ms = submit_one()
            except Exception as error:  # noqa: BLE001 - counted and reported, the loop goes on
                with lock:
                    errors.append(repr(error)[:200])
                continue
            ended = time.perf_counter()
            if ended <= stop_at:
                with lock:
                    latencies.append((ended - began) * 1000)
                    cpu_ms.append(phase_ms.pop("submit_cpu"))
                    for name, ms in phase_ms.items():
                        phases[name].append(ms)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(
        json.dumps(
            {
                "submitted": len(latencies),
                "latencies_ms": latencies,
                "cpu_ms": cpu_ms,
                "phases_ms": phases,
                "errors": errors[:5],
            }
        ),
        flush=True,
    )
    sys.stdout.flush()
    os._exit(0)  # skip teardown: a running assessment (MediaPipe, onnxruntime threads) may abort it


# -- the driver -------------------------------------------------------------------------------------
def run(server: Any, processes: int, threads: int, seconds: float) -> dict[str, Any]:
    from core.clinic import Clinic
    from core.config import Settings

    name, url = server.fresh_database()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-submissions-"))
    env = {**os.environ, "CLINIC_DATA_DIR": str(data_dir), "CLINIC_DATABASE_URL": url}
    for key in ("CLINIC_MASTER_KEY", "CLINIC_KEY_FILE"):
        env.pop(key, None)
    os.environ.update({"CLINIC_DATA_DIR": str(data_dir), "CLINIC_DATABASE_URL": url})
    Clinic.open(Settings.from_env()).close()  # the shared key and schema, made once
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--app-server", "--threads", str(threads), "--seconds", str(seconds)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        for _ in range(processes)
    ]
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"an app server did not start: {line!r}")
    with psycopg_connection(url) as connection:
        done_before = _done_assessments(connection)
        postgres_cpu = postgres_cpu_seconds(server.data_dir)
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            assert child.stdout is not None
            results.append(json.loads(child.stdout.readline()))
        postgres_cpu = postgres_cpu_seconds(server.data_dir) - postgres_cpu
        assessments_done = _done_assessments(connection) - done_before
        queued = connection.execute("SELECT count(*) FROM assessments WHERE status = 'queued'").fetchone()
    for child in children:
        child.wait(timeout=120)
    server.drop_database(name)
    latencies = [ms for result in results for ms in result["latencies_ms"]]
    submitted = sum(result["submitted"] for result in results)
    return {
        "processes": processes,
        "submitted": submitted,
        "per_second": submitted / seconds,
        "per_process": [result["submitted"] for result in results],
        "median_ms": statistics.median(latencies) if latencies else float("nan"),
        "p95_ms": percentile(latencies, 0.95),
        "phase_medians_ms": {
            name: statistics.median(values) if values else float("nan")
            for name in PHASES
            for values in [[ms for result in results for ms in result["phases_ms"][name]]]
        },
        "submit_cpu_ms": statistics.mean(cpu)
        if (cpu := [ms for r in results for ms in r["cpu_ms"]])
        else float("nan"),
        "postgres_cpu_ms": 1000 * postgres_cpu / submitted if submitted else float("nan"),
        "assessments_done": assessments_done,
        "still_queued": int(queued[0]) if queued else 0,
        "errors": [e for result in results for e in result["errors"]],
    }


def argon2_cpu_ms(repeats: int = 5) -> float:
    """Process CPU time of one registration's hash plus one log-in's verify, the portal's hasher
    (its threads included: CLOCK_PROCESS_CPUTIME_ID counts threads that already ended)."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    began = time.process_time()
    for _ in range(repeats):
        hasher.verify(hasher.hash(PASSWORD), PASSWORD)
    return 1000 * (time.process_time() - began) / repeats


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds used so far by this cluster: its postmaster and every process it started."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(stat.parent.name) == postmaster or int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def psycopg_connection(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _done_assessments(connection: Any) -> int:
    return int(connection.execute("SELECT count(*) FROM assessments WHERE status = 'done'").fetchone()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=4, help="submitting threads per app server")
    parser.add_argument("--seconds", type=float, default=60.0, help="the timed window per process count")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--app-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app_server:
        app_server(args.threads, args.seconds)
        return 0
    from tests.postgres_server import start_server

    server = start_server()
    if isinstance(server, str):
        raise SystemExit(server)
    try:
        print(
            f"PostgreSQL 15 on loopback; {args.threads} submitting threads per app server, {args.seconds:.0f} s window;"
            f" {os.cpu_count()} cores shared by PostgreSQL, the app servers and their assessment workers"
        )
        figures = []
        for processes in args.processes:
            figure = run(server, processes, args.threads, args.seconds)
            figures.append(figure)
            print(
                f"  {processes} app server(s): {figure['submitted']:5d} submissions  {figure['per_second']:6.2f}/s"
                f"  (per process {figure['per_process']})  latency median {figure['median_ms']:7.0f} ms"
                f"  p95 {figure['p95_ms']:7.0f} ms  assessments done in window {figure['assessments_done']}"
                f"  still queued {figure['still_queued']}"
            )
            print(
                "    median per phase: "
                + ", ".join(f"{name} {ms:.0f} ms" for name, ms in figure["phase_medians_ms"].items())
            )
            print(
                f"    CPU per submission: the submitting thread {figure['submit_cpu_ms']:.0f} ms,"
                f" PostgreSQL {figure['postgres_cpu_ms']:.0f} ms (all its processes)"
            )
            for error in figure["errors"]:
                print(f"    error: {error}")
        by_count: dict[int, list[float]] = {}
        for figure in figures:
            by_count.setdefault(figure["processes"], []).append(figure["per_second"])
        means = {count: statistics.mean(rates) for count, rates in by_count.items()}
        for count, rates in sorted(by_count.items()):
            print(f"{count} app server(s): mean {means[count]:.2f} submissions/s over {len(rates)} run(s)")
        if 1 in means and 2 in means and means[1]:
            print(f"ratio 2:1 app servers = {means[2] / means[1]:.2f}")
        hashing_ms = argon2_cpu_ms()
        cpu_ms = hashing_ms + statistics.mean(f["submit_cpu_ms"] + f["postgres_cpu_ms"] for f in figures)
        print(
            f"CPU per submission: {cpu_ms:.0f} ms = argon2id hash + verify {hashing_ms:.0f} ms (this process alone)"
            f" + the submitting thread + PostgreSQL; so at most {1000 * (os.cpu_count() or 1) / cpu_ms:.1f} submissions/s"
            f" on {os.cpu_count()} cores that do nothing else (the assessments they queue not included)"
        )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
