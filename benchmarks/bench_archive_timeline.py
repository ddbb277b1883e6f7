"""Archive scale: one patient's timeline and progress-chart data at 1M photo rows / 10M metric rows.

Builds a synthetic clinic in an encrypted DuckDB database in a temporary directory (bulk
INSERT … SELECT over range(), so the build takes a few minutes at most), then times the real
storage-layer queries (`clinic.archive`) for one patient: median and p95 over N runs.
The rows of one case are contiguous (as a submission or an assessment run writes them), but each
patient's cases are spread through the tables (patient = case * prime mod patients), so zone maps
cannot help and the single-column patient_id indexes do the work.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_archive_timeline.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_archive_timeline.py --photos 100000 --metrics 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.access import SYSTEM_PRINCIPAL  # noqa: E402
from core.clinic import Clinic  # noqa: E402
from core.config import Settings  # noqa: E402

PRIME = 7919  # coprime with the patient counts used: scatters each patient's rows through the table


def build(clinic: Clinic, photos: int, metrics: int, patients: int) -> None:
    """Rows of one case are contiguous (a submission or an assessment run inserts them together);
    the cases of one patient are scattered through the tables (case c -> patient c * PRIME mod P)."""
    db = clinic.db
    db.execute("SET enable_progress_bar = false")
    cases = max(photos // 10, 1)  # 10 photos per case (baseline views + follow-up check-ins)
    metrics_per_case = max(metrics // cases, 1)
    owner = f"'p' || (((%s) * {PRIME}) %% {patients})"
    steps = [
        (
            "patients",
            f"""INSERT INTO patients SELECT 'p' || i, 'u' || i, 'Patient ' || i, DATE '1980-01-01' + CAST(i % 9000 AS INTEGER),
            'en', 'Europe/Amsterdam', TIMESTAMP '2024-01-01' FROM range({patients}) t(i)""",
        ),
        (
            "users",
            f"""INSERT INTO users (id, email, password_hash, role, display_name, patient_id, created_at)
            SELECT 'u' || i, 'patient' || i || '@example.test', 'x', 'patient', 'Patient ' || i, 'p' || i,
            TIMESTAMP '2024-01-01' FROM range({patients}) t(i)""",
        ),
        (
            "cases",
            f"""INSERT INTO cases SELECT 'c' || i, 'C-' || i, {owner % "i"},
            CASE WHEN i % 3 = 0 THEN 'report_sent' ELSE 'closed' END, '["lines_wrinkles"]', '["forehead"]', '{{}}',
            TIMESTAMP '2024-01-01' + INTERVAL (i % 700) DAY, TIMESTAMP '2024-01-01' + INTERVAL (i % 700) DAY, NULL
            FROM range({cases}) t(i)""",
        ),
        (
            "photos",
            f"""INSERT INTO photos SELECT 'ph' || i, 'c' || (i // 10), {owner % "i // 10"},
            CASE i % 3 WHEN 0 THEN 'front' WHEN 1 THEN 'left_oblique' ELSE 'right_oblique' END, 'blob' || i, 1024, 1024,
            'image/jpeg', CASE WHEN i % 10 < 3 THEN 'upload' ELSE 'followup' END, 'pass', NULL,
            TIMESTAMP '2024-01-01' + INTERVAL ((i // 10) % 700) DAY + INTERVAL (i % 10) DAY, 'u0' FROM range({photos}) t(i)""",
        ),
        (
            "reports",
            f"""INSERT INTO reports SELECT 'r' || i, 'c' || i, 'u0', 'Findings text', 'Assessment text',
            'Recommended treatments', 'Home care', i % 4 = 0, CASE WHEN i % 4 = 0 THEN 'visit' END, NULL,
            TIMESTAMP '2024-01-02' + INTERVAL (i % 700) DAY, TIMESTAMP '2024-01-02' + INTERVAL (i % 700) DAY,
            TIMESTAMP '2024-01-02' + INTERVAL (i % 700) DAY FROM range({cases}) t(i)""",
        ),
        (
            "assessments",
            f"""INSERT INTO assessments SELECT 'a' || i, 'c' || i, {owner % "i"}, 'done', 'bench',
            NULL, NULL, NULL, NULL, TIMESTAMP '2024-01-01' + INTERVAL (i % 700) DAY, NULL, NULL FROM range({cases}) t(i)""",
        ),
        (
            "assessment_metrics",
            f"""INSERT INTO assessment_metrics SELECT 'm' || i, 'a' || (i // {metrics_per_case}),
            {owner % f"i // {metrics_per_case}"}, 'c' || (i // {metrics_per_case}), 'ph' || (i // {metrics_per_case} * 10 + i % 10), 'front',
            CASE (i % 10) // 5 WHEN 0 THEN 'forehead' ELSE 'left_cheek' END,
            CASE i % 5 WHEN 0 THEN 'redness' WHEN 1 THEN 'wrinkle_density' WHEN 2 THEN 'pigment_spots' WHEN 3 THEN 'texture' ELSE 'evenness' END,
            (i % 1000) / 10.0, 'score', (i % 100)::DOUBLE, 'mild', 'bench',
            TIMESTAMP '2024-01-01' + INTERVAL ((i // {metrics_per_case}) % 700) DAY + INTERVAL (i % 10) DAY FROM range({metrics}) t(i)""",
        ),
        (
            "care_treatments",
            f"""INSERT INTO care_treatments SELECT 't' || i, 'c' || i, {owner % "i"}, 'u0',
            'botulinum_toxin', 'forehead', NULL, 10, 'U', DATE '2024-01-01' + CAST(i % 700 AS INTEGER), NULL, TIMESTAMP '2024-01-01'
            FROM range({cases // 2}) t(i)""",
        ),
        (
            "care_appointments",
            f"""INSERT INTO care_appointments SELECT 'ap' || i, 'c' || i, {owner % "i"},
            'u0', TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE * 30, TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE * 30 + INTERVAL 30 MINUTE,
            30, 'Europe/Amsterdam', 'Europe/Amsterdam', 'visit', 'Room 1', 'completed', 'physician',
            TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01', NULL FROM range({cases // 5}) t(i)""",
        ),
        (
            "care_checkins",
            f"""INSERT INTO care_checkins SELECT 'k' || i, 'c' || i, {owner % "i"}, 't' || i,
            DATE '2024-01-15' + CAST(i % 700 AS INTEGER), '2-week check-in', '["front"]', 'reviewed', NULL, NULL, NULL, NULL,
            TIMESTAMP '2024-01-01' FROM range({cases // 2}) t(i)""",
        ),
    ]
    for table, sql in steps:
        started = time.perf_counter()
        db.execute(sql)
        print(
            f"  built {table:<20} {db.fetchone(f'SELECT count(*) FROM {table}')[0]:>11,} rows in {time.perf_counter() - started:6.1f} s"
        )
    started = time.perf_counter()
    db.checkpoint()
    print(
        f"  checkpoint {time.perf_counter() - started:.1f} s; file {clinic.settings.db_path.stat().st_size / 1e6:.0f} MB"
    )


def timed(label: str, runs: int, call) -> None:
    call()  # warm the buffer pool and the plan
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    print(
        f"{label:<44} median {statistics.median(samples):6.2f} ms  p95 {p95:6.2f} ms  ({len(result)} rows, {runs} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as directory:
        os.environ["CLINIC_DATA_DIR"] = directory
        os.environ.pop("CLINIC_MASTER_KEY", None)
        os.environ.pop("CLINIC_KEY_FILE", None)
        clinic = Clinic.open(Settings.from_env())
        try:
            print(
                f"building {args.photos:,} photos, {args.metrics:,} metrics, {args.patients:,} patients (encrypted DuckDB)"
            )
            started = time.perf_counter()
            build(clinic, args.photos, args.metrics, args.patients)
            print(f"build total {time.perf_counter() - started:.1f} s")
            if args.duckdb_threads:
                # Small point queries gain nothing from parallel pipelines on a busy 2-core box.
                clinic.db.execute(f"SET threads = {int(args.duckdb_threads)}")
            print(f"duckdb threads: {clinic.db.fetchone('SELECT current_setting(?)', ['threads'])[0]}")
            archive = clinic.archive
            patient = "p1234"
            physician = SYSTEM_PRINCIPAL.__class__("u0", "physician", "bench@example.test", "Bench")
            timed(
                "timeline (one patient, all event kinds)",
                args.runs,
                lambda: archive.patient_timeline(physician, patient),
            )
            timed(
                "chart data (one metric+region)",
                args.runs,
                lambda: archive.metric_series(physician, patient, "redness", "forehead").points,
            )
            timed(
                "chart data (all metrics of the patient)",
                args.runs,
                lambda: archive.metric_series(physician, patient).points,
            )
            timed(
                "patient photos (before/after picker)",
                args.runs,
                lambda: archive.patient_photos(physician, patient),
            )
        finally:
            clinic.close()


if __name__ == "__main__":
    main()
