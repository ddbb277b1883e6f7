"""The synthetic clinic archive of the archive benchmarks, built the same way on both engines.

One definition of the rows (`steps`: a SELECT per table over a generated series), rendered for
DuckDB or PostgreSQL by a small `Dialect` (integer division is `//` in DuckDB and `/` between
integers in PostgreSQL; everything else is written in SQL both engines read). Rows of one case are
contiguous (a submission or an assessment run writes them together) while each patient's cases are
scattered through the tables (case c belongs to patient c * PRIME mod patients), so only the
patient_id indexes can answer a patient's queries.

DuckDB: `INSERT INTO t (cols) SELECT ...` into the encrypted file.
PostgreSQL: the clinic's real migrations made the schema (so the real indexes); tables without a
sealed column are filled by `INSERT ... SELECT` on the server; a table with sealed columns
(`core.db_sealing.SEALED_COLUMNS`) is streamed out of the same SELECT, its patient text sealed with
the clinic's key exactly as the services write it (AES-GCM; the log-in e-mail as a blind index) and
loaded with COPY. Secondary indexes are dropped for the load and recreated from their own
definitions afterwards (the usual bulk-load order; the same indexes in the end), then VACUUM ANALYZE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, LiteralString, cast

from core.config import Settings
from core.crypto import load_or_create_master_key
from core.db import Database
from core.db_sealing import SEALED_COLUMNS, Sealer, SealKind

PRIME = 7919  # coprime with the patient counts used: scatters each patient's rows through the table
PHOTOS_PER_CASE = 10  # baseline views + follow-up check-ins


@dataclass(frozen=True)
class Dialect:
    name: str  # "duckdb" | "postgresql"
    integer_division: str  # the operator for integer division

    def series(self, count: int) -> str:
        return f"generate_series(0, {int(count) - 1}) t(i)"

    def div(self, left: str, right: int | str) -> str:
        return f"(({left}) {self.integer_division} {right})"


DUCKDB = Dialect("duckdb", "//")
POSTGRES = Dialect("postgresql", "/")


@dataclass(frozen=True)
class Step:
    table: str
    columns: tuple[str, ...]
    select: str  # one row per i of the series, the values in `columns` order


@dataclass(frozen=True)
class Shape:
    """How many rows of each kind; `expected_counts` is what a build must leave behind."""

    photos: int
    metrics: int
    patients: int

    @property
    def cases(self) -> int:
        return max(self.photos // PHOTOS_PER_CASE, 1)

    @property
    def metrics_per_case(self) -> int:
        return max(self.metrics // self.cases, 1)

    def patient_of_case(self, case: int) -> str:
        """The id of the patient owning case number `case` (every patient owns cases / patients)."""
        return f"p{(case * PRIME) % self.patients}"

    def expected_counts(self) -> dict[str, int]:
        return {
            "patients": self.patients,
            "users": self.patients,
            "cases": self.cases,
            "photos": self.photos,
            "reports": self.cases,
            "assessments": self.cases,
            "assessment_metrics": self.metrics,
            "care_treatments": self.cases // 2,
            "care_appointments": self.cases // 5,
            "care_checkins": self.cases // 2,
        }


def _cols(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


def steps(shape: Shape, dialect: Dialect) -> list[Step]:
    """The tables' rows as engine-neutral SELECTs (days as `n * INTERVAL '1 day'`, casts spelled out)."""
    patients, cases, per_case = shape.patients, shape.cases, shape.metrics_per_case

    def owner(case_expression: str) -> str:
        return f"'p' || ((({case_expression}) * {PRIME}) % {patients})"

    def day(expression: str) -> str:
        return f"({expression}) * INTERVAL '1 day'"

    photo_case = dialect.div("i", PHOTOS_PER_CASE)
    metric_case = dialect.div("i", per_case)
    series = dialect.series
    return [
        Step(
            "patients",
            _cols("id, user_id, name, date_of_birth, preferred_language, time_zone, created_at"),
            "SELECT 'p' || i, 'u' || i, 'Patient ' || i, DATE '1980-01-01' + CAST(i % 9000 AS INTEGER),"
            f" 'en', 'Europe/Amsterdam', TIMESTAMP '2024-01-01' FROM {series(patients)}",
        ),
        Step(
            "users",
            _cols("id, email, password_hash, role, display_name, patient_id, created_at"),
            "SELECT 'u' || i, 'patient' || i || '@example.test', 'x', 'patient', 'Patient ' || i, 'p' || i,"
            f" TIMESTAMP '2024-01-01' FROM {series(patients)}",
        ),
        Step(
            "cases",
            _cols(
                "id, reference, patient_id, status, concerns, areas, intake_json, created_at, updated_at,"
                " assigned_physician_id"
            ),
            f"SELECT 'c' || i, 'C-' || i, {owner('i')},"
            " CASE WHEN i % 3 = 0 THEN 'report_sent' ELSE 'closed' END, '[\"lines_wrinkles\"]', '[\"forehead\"]',"
            f" '{{}}', TIMESTAMP '2024-01-01' + {day('i % 700')}, TIMESTAMP '2024-01-01' + {day('i % 700')},"
            f" NULL FROM {series(cases)}",
        ),
        Step(
            "photos",
            _cols(
                'id, case_id, patient_id, "view", blob_id, width, height, mime, source, quality_verdict,'
                " quality_json, created_at, created_by"
            ),
            f"SELECT 'ph' || i, 'c' || {photo_case}, {owner(photo_case)},"
            " CASE i % 3 WHEN 0 THEN 'front' WHEN 1 THEN 'left_oblique' ELSE 'right_oblique' END, 'blob' || i,"
            " 1024, 1024, 'image/jpeg', CASE WHEN i % 10 < 3 THEN 'upload' ELSE 'followup' END, 'pass', NULL,"
            f" TIMESTAMP '2024-01-01' + {day(f'{photo_case} % 700')} + {day('i % 10')}, 'u0'"
            f" FROM {series(shape.photos)}",
        ),
        Step(
            "reports",
            _cols(
                "id, case_id, physician_id, findings, assessment, recommended_treatments, home_care,"
                " in_person_needed, in_person_reason, follow_up_suggestion, created_at, updated_at, sent_at"
            ),
            "SELECT 'r' || i, 'c' || i, 'u0', 'Findings text', 'Assessment text', 'Recommended treatments',"
            " 'Home care', i % 4 = 0, CASE WHEN i % 4 = 0 THEN 'visit' END, NULL,"
            f" TIMESTAMP '2024-01-02' + {day('i % 700')}, TIMESTAMP '2024-01-02' + {day('i % 700')},"
            f" TIMESTAMP '2024-01-02' + {day('i % 700')} FROM {series(cases)}",
        ),
        Step(
            "assessments",
            _cols("id, case_id, patient_id, status, engine_version, created_at"),
            f"SELECT 'a' || i, 'c' || i, {owner('i')}, 'done', 'bench', TIMESTAMP '2024-01-01' + {day('i % 700')}"
            f" FROM {series(cases)}",
        ),
        Step(
            "assessment_metrics",
            _cols(
                'id, assessment_id, patient_id, case_id, photo_id, "view", region, metric, value, unit, score,'
                " band, engine_version, measured_at"
            ),
            f"SELECT 'm' || i, 'a' || {metric_case}, {owner(metric_case)}, 'c' || {metric_case},"
            f" 'ph' || ({metric_case} * {PHOTOS_PER_CASE} + i % 10), 'front',"
            " CASE WHEN i % 10 < 5 THEN 'forehead' ELSE 'left_cheek' END,"
            " CASE i % 5 WHEN 0 THEN 'redness' WHEN 1 THEN 'wrinkle_density' WHEN 2 THEN 'pigment_spots'"
            " WHEN 3 THEN 'texture' ELSE 'evenness' END,"
            " CAST(i % 1000 AS DOUBLE PRECISION) / 10.0, 'score', CAST(i % 100 AS DOUBLE PRECISION), 'mild', 'bench',"
            f" TIMESTAMP '2024-01-01' + {day(f'{metric_case} % 700')} + {day('i % 10')}"
            f" FROM {series(shape.metrics)}",
        ),
        Step(
            "care_treatments",
            _cols(
                "id, case_id, patient_id, physician_id, treatment_type, area, product, amount, unit, treated_on,"
                " notes, created_at"
            ),
            f"SELECT 't' || i, 'c' || i, {owner('i')}, 'u0', 'botulinum_toxin', 'forehead', NULL, 10, 'U',"
            f" DATE '2024-01-01' + CAST(i % 700 AS INTEGER), NULL, TIMESTAMP '2024-01-01' FROM {series(cases // 2)}",
        ),
        Step(
            "care_appointments",
            _cols(
                "id, case_id, patient_id, physician_id, start_utc, end_utc, duration_min, clinic_timezone,"
                " patient_timezone, reason, location, status, booked_by, created_at, updated_at, confirmed_at,"
                " cancel_reason"
            ),
            f"SELECT 'ap' || i, 'c' || i, {owner('i')}, 'u0',"
            " TIMESTAMP '2024-01-01' + i * INTERVAL '30 minutes', TIMESTAMP '2024-01-01' + (i + 1) * INTERVAL '30 minutes',"
            " 30, 'Europe/Amsterdam', 'Europe/Amsterdam', 'visit', 'Room 1', 'completed', 'physician',"
            f" TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01', NULL FROM {series(cases // 5)}",
        ),
        Step(
            "care_checkins",
            _cols(
                "id, case_id, patient_id, treatment_id, due_date, label, views_json, status, photo_ids_json,"
                " match_json, submitted_at, reviewed_at, created_at"
            ),
            f"SELECT 'k' || i, 'c' || i, {owner('i')}, 't' || i, DATE '2024-01-15' + CAST(i % 700 AS INTEGER),"
            " '2-week check-in', '[\"front\"]', 'reviewed', NULL, NULL, NULL, NULL, TIMESTAMP '2024-01-01'"
            f" FROM {series(cases // 2)}",
        ),
    ]


def _insert_sql(step: Step) -> str:
    return f"INSERT INTO {step.table} ({', '.join(step.columns)}) {step.select}"


def _sql(text: str) -> LiteralString:
    """The builder's own statement texts (no outside values in them)."""
    return cast(LiteralString, text)


def dialect_of(db: Database) -> Dialect:
    return POSTGRES if db.engine == "postgresql" else DUCKDB


Progress = Callable[[str, int, float], None]  # (table, rows, seconds)


def build(db: Database, settings: Settings, shape: Shape, progress: Progress | None = None) -> None:
    """Fill the migrated, empty clinic database `db` (opened with `settings`) with `shape`'s rows."""
    dialect = dialect_of(db)
    if dialect is POSTGRES:
        _build_postgres(db, settings, shape, progress)
        return
    db.execute("SET enable_progress_bar = false")
    for step in steps(shape, dialect):
        started = time.perf_counter()
        db.execute(_insert_sql(step))
        if progress:
            progress(step.table, count(db, step.table), time.perf_counter() - started)
    db.checkpoint()


def count(db: Database, table: str) -> int:
    return int(db.scalar(f"SELECT count(*) FROM {table}"))


def _build_postgres(db: Database, settings: Settings, shape: Shape, progress: Progress | None) -> None:
    import psycopg

    url = getattr(db, "url", None)
    if not isinstance(url, str):
        raise TypeError("a PostgreSQL clinic database carries its url")
    sealer = Sealer(load_or_create_master_key(settings.master_key_env, settings.key_file, create=False))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        for step in steps(shape, POSTGRES):
            started = time.perf_counter()
            indexes = connection.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
                " AND i.tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                [step.table],
            ).fetchall()
            for name, _ in indexes:
                connection.execute(_sql(f"DROP INDEX {name}"))  # names from pg_indexes
            sealed = SEALED_COLUMNS.get(step.table, {})
            if not any(column in sealed for column in step.columns):
                connection.execute(_sql(_insert_sql(step)))
            else:
                _copy_sealed(connection, url, step, sealer)
            for _, definition in indexes:
                connection.execute(_sql(definition))  # as pg_indexes gives it
            connection.execute(_sql(f"VACUUM ANALYZE {step.table}"))
            if progress:
                progress(step.table, count(db, step.table), time.perf_counter() - started)
    db.checkpoint()


def _copy_sealed(connection: Any, url: str, step: Step, sealer: Sealer) -> None:
    """The step's rows read out of PostgreSQL, sealed as the services seal them, and COPYed in
    (a server-side cursor on `connection` streams them; the COPY runs on a second connection)."""
    import psycopg

    kinds = SEALED_COLUMNS[step.table]
    positions: list[tuple[int, SealKind]] = [
        (k, kinds[column]) for k, column in enumerate(step.columns) if column in kinds
    ]
    with (
        psycopg.connect(url, autocommit=True) as writer,
        connection.transaction(),
        connection.cursor(name=f"bench_{step.table}") as source,
    ):
        source.itersize = 5000
        source.execute(_sql(step.select))
        with (
            writer.cursor() as target,
            target.copy(_sql(f"COPY {step.table} ({', '.join(step.columns)}) FROM STDIN")) as copy,
        ):
            for row in source:
                values = list(row)
                for k, kind in positions:
                    values[k] = sealer.seal(values[k], kind)
                copy.write_row(values)
