"""Archive scale: the physician queue and a patient's history over 100k patients / 300k cases / 900k photos.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_archive_scale.py [--scale 1.0] [--runs 200]

Builds a synthetic, encrypted clinic database in a temp dir with the real migrations (so the
real indexes), bulk-loaded by DuckDB from generated ranges, then times the same query
functions the services use (`core.consult.cases.query_queue`, `core.consult.cases.query_patient_cases`).
Prints median and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.consult.cases import OPEN_STATUSES, STATUSES, query_patient_cases, query_queue  # noqa: E402
from core.db import Database  # noqa: E402

CONCERN_LISTS = [
    '["lines_wrinkles"]',
    '["pigmentation_melasma"]',
    '["acne_scars"]',
    '["redness_rosacea"]',
    '["volume_loss", "lines_wrinkles"]',
    '["skin_quality_texture"]',
    '["pigmentation_melasma", "redness_rosacea"]',
]


def build(db: Database, patients: int, cases: int, photos_per_case: int) -> None:
    cursor = db.cursor()
    concern_sql = "[" + ", ".join("'" + c + "'" for c in CONCERN_LISTS) + "]"
    cursor.execute(
        "INSERT INTO patients (id, user_id, name, date_of_birth, preferred_language, time_zone, created_at) SELECT 'p' || i, 'u' || i, 'Patient ' || i, DATE '1950-01-01' + CAST(i % 20000 AS INTEGER),"
        " 'en', 'Europe/Amsterdam', TIMESTAMP '2020-01-01' FROM range(?) t(i)",
        [patients],
    )
    # ~4% of cases open (the live queue), the rest reported or closed: an archive after years.
    cursor.execute(
        "INSERT INTO cases (id, reference, patient_id, status, concerns, areas, intake_json, created_at,"
        " updated_at, assigned_physician_id)"
        f" SELECT 'c' || i, 'C-' || i, 'p' || ((i * 7919) % ?),"
        " CASE WHEN i % 100 < 2 THEN 'submitted' WHEN i % 100 < 3 THEN 'in_review'"
        "      WHEN i % 100 < 4 THEN 'in_person_requested' WHEN i % 100 < 30 THEN 'report_sent' ELSE 'closed' END,"
        f" {concern_sql}[1 + i % {len(CONCERN_LISTS)}], '[\"cheeks\"]', '{{}}',"
        " TIMESTAMP '2021-01-01' + to_minutes(i * 3), TIMESTAMP '2021-01-01' + to_minutes(i * 3), NULL"
        " FROM range(?) t(i)",
        [patients, cases],
    )
    cursor.execute(
        'INSERT INTO photos (id, case_id, patient_id, "view", width, height, mime, source, quality_verdict,'
        " quality_json, blob_id, created_at, created_by) SELECT 'ph' || i, 'c' || (i // ?), 'p' || (((i // ?) * 7919) % ?),"
        " CASE i % 3 WHEN 0 THEN 'front' WHEN 1 THEN 'left_oblique' ELSE 'right_oblique' END,"
        " 1024, 1280, 'image/jpeg', 'upload', 'pass', NULL,"
        " 'blob' || i, TIMESTAMP '2021-01-01' + to_minutes((i // ?) * 3), 'u0' FROM range(?) t(i)",
        [photos_per_case, photos_per_case, patients, photos_per_case, cases * photos_per_case],
    )
    db.checkpoint()


def timed(function, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(f"{name:<48} median {statistics.median(ordered):8.2f} ms   p95 {p95:8.2f} ms   (n={len(ordered)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 100k patients / 300k cases / 900k photos"
    )
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    patients, cases = int(100_000 * args.scale), int(300_000 * args.scale)
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as work:
        db = Database(Path(work) / "clinic.duckdb", os.urandom(32))
        db.migrate()
        start = time.perf_counter()
        build(db, patients, cases, 3)
        load_s = time.perf_counter() - start
        counts = [db.fetchone(f"SELECT count(*) FROM {t}")[0] for t in ("patients", "cases", "photos")]
        size_mb = (Path(work) / "clinic.duckdb").stat().st_size / 1e6
        print(
            f"loaded {counts[0]:,} patients / {counts[1]:,} cases / {counts[2]:,} photos in {load_s:.1f} s"
            f" (encrypted file {size_mb:.0f} MB)"
        )
        cursor = db.cursor()
        rng = random.Random(7)
        for _ in range(5):  # warm-up
            query_queue(cursor, OPEN_STATUSES)
        report(
            "queue page 1 (open cases, oldest first, 50)",
            timed(lambda: query_queue(cursor, OPEN_STATUSES), args.runs),
        )
        report(
            "queue page 20 (offset 950)",
            timed(lambda: query_queue(cursor, OPEN_STATUSES, offset=950), args.runs),
        )
        report(
            "queue filtered by concern",
            timed(lambda: query_queue(cursor, OPEN_STATUSES, concern="acne_scars"), args.runs),
        )
        report("queue incl. closed (all statuses)", timed(lambda: query_queue(cursor, STATUSES), args.runs))
        report(
            "one patient's history (random patient)",
            timed(lambda: query_patient_cases(cursor, f"p{rng.randrange(patients)}"), args.runs),
        )
        report(
            "one case's photos (random case)",
            timed(
                lambda: cursor.execute(
                    'SELECT id, "view" FROM photos WHERE case_id = ?', [f"c{rng.randrange(cases)}"]
                ).fetchall(),
                args.runs,
            ),
        )
        db.close()


if __name__ == "__main__":
    main()
