"""The archive benchmarks' synthetic clinic (benchmarks/synthetic_archive.py) on both engines.

A tiny build must leave the counts its shape promises, one patient's timeline must hold exactly
the events the row definitions give that patient (the same on DuckDB and PostgreSQL), and on
PostgreSQL the patient columns must be sealed as the services seal them (the log-in e-mail still
found by `email = ?`) with the migrations' indexes all back after the bulk load.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from benchmarks.synthetic_archive import PRIME, Shape, build
from core.access import Principal
from core.clinic import Clinic
from core.config import Settings
from core.db_sealing import PREFIX

SHAPE = Shape(photos=1000, metrics=5000, patients=50)
PHYSICIAN = Principal("u0", "physician", "bench@example.test", "Bench")


@pytest.fixture(params=["duckdb", "postgres"])
def clinic(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Clinic]:
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path / "clinic-data"))
    for name in ("CLINIC_MASTER_KEY", "CLINIC_KEY_FILE", "CLINIC_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "postgres":
        monkeypatch.setenv("CLINIC_DATABASE_URL", request.getfixturevalue("postgres_url"))
    opened = Clinic.open(Settings.from_env())
    yield opened
    opened.close()


def expected_timeline(patient: str) -> int:
    """Events the row definitions give `patient`: per case 1 case, 10 photos, 1 report, 1
    assessment, and a treatment and check-in (first half of the cases), a visit (first fifth)."""
    events = 0
    for case in range(SHAPE.cases):
        if f"p{(case * PRIME) % SHAPE.patients}" == patient:
            events += 1 + 10 + 1 + 1
            events += 2 if case < SHAPE.cases // 2 else 0
            events += 1 if case < SHAPE.cases // 5 else 0
    return events


def test_tiny_build_gives_the_promised_rows_and_timeline(clinic: Clinic) -> None:
    indexes_before = _index_names(clinic)
    build(clinic.db, clinic.settings, SHAPE)
    counts = {table: clinic.db.scalar(f"SELECT count(*) FROM {table}") for table in SHAPE.expected_counts()}
    assert counts == SHAPE.expected_counts()
    patient = SHAPE.patient_of_case(SHAPE.cases // 2)
    timeline = clinic.archive.patient_timeline(PHYSICIAN, patient)
    assert len(timeline) == expected_timeline(patient) > 0
    assert {event.kind for event in timeline} == {
        "case", "photo", "report", "assessment", "treatment", "appointment", "checkin",
    }  # fmt: skip
    points = clinic.archive.metric_series(PHYSICIAN, patient).points
    assert len(points) == SHAPE.metrics_per_case * sum(
        1 for case in range(SHAPE.cases) if f"p{(case * PRIME) % SHAPE.patients}" == patient
    )
    # Read back through the clinic (opened on PostgreSQL): the values as written.
    assert clinic.db.fetchone("SELECT name, date_of_birth FROM patients WHERE id = 'p7'") is not None
    assert clinic.db.fetchone("SELECT id FROM users WHERE email = ?", ["patient7@example.test"]) == ("u7",)
    assert _index_names(clinic) == indexes_before


def test_postgres_build_seals_patient_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path / "clinic-data"))
    for name in ("CLINIC_MASTER_KEY", "CLINIC_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLINIC_DATABASE_URL", postgres_url)
    with Clinic.open(Settings.from_env()) as clinic:
        build(clinic.db, clinic.settings, SHAPE)
        name, born = clinic.db.fetchone("SELECT name, date_of_birth FROM patients WHERE id = 'p7'") or (
            "",
            "",
        )
        assert name == "Patient 7" and str(born) == "1980-01-08"
    with psycopg.connect(postgres_url) as raw:
        stored = raw.execute(
            "SELECT p.name, p.date_of_birth, u.email, c.intake_json, r.findings FROM patients p"
            " JOIN users u ON u.id = p.user_id JOIN cases c ON c.patient_id = p.id JOIN reports r ON r.case_id = c.id"
            " LIMIT 20"
        ).fetchall()
    assert stored and all(str(value).startswith(PREFIX) for row in stored for value in row)


def _index_names(clinic: Clinic) -> set[str]:
    if clinic.db.engine == "postgresql":
        rows = clinic.db.fetchall("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    else:
        rows = clinic.db.fetchall("SELECT index_name FROM duckdb_indexes()")
    return {str(row[0]) for row in rows}
