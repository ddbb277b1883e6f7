"""PostgreSQL for a clinic group (CLINIC_DATABASE_URL): what differs from the embedded file.

These run on every pass against a throwaway cluster (tests/postgres_server.py; skipped with a
message when PostgreSQL is not installed). The rest of the core suites run on PostgreSQL too
under CLINIC_TEST_ENGINE=postgres (`make test`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core import crypto
from core.access import ValidationError
from core.auth import REGISTRATION_REFUSED_MESSAGE
from core.clinic import Clinic
from core.config import Settings
from core.db import DatabaseError, TransactionConflict
from core.db_postgres import PostgresDatabase, translate_placeholders

from .conftest import PASSWORD, FakeClock, register


@pytest.fixture
def pg_data_dir(data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clinic whose tables are in a fresh PostgreSQL database, whatever the test engine."""
    monkeypatch.setenv("CLINIC_DATABASE_URL", postgres_url)
    return data_dir


def test_placeholders_become_psycopg_ones_outside_quotes_only() -> None:
    sql = "SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE '%a''?%' AND z = ? -- why?\n AND w % 2 = ?"
    assert translate_placeholders(sql) == (
        "SELECT '?', \"a?\" FROM t WHERE x = %s AND y LIKE '%%a''?%%' AND z = %s -- why?\n AND w %% 2 = %s"
    )


def test_the_same_services_run_on_postgresql(pg_data_dir: Path, clock: FakeClock) -> None:
    with Clinic.open(Settings.from_env(), clock=clock) as clinic:
        assert clinic.db.engine == "postgresql"
        assert not (pg_data_dir / "clinic.duckdb").exists()
        patient = register(clinic, "pg@example.test", "Petra Postgres")
        assert clinic.auth.login("pg@example.test", PASSWORD).principal.user_id == patient.user_id
        assert clinic.audit.verify().ok  # the chain is written and read back the same way


def test_a_server_with_another_master_key_is_refused(
    pg_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clinic.open().close()
    assert (pg_data_dir / "master.key").exists()
    monkeypatch.setenv("CLINIC_MASTER_KEY", crypto.os.urandom(32).hex())
    with pytest.raises(DatabaseError, match="master key does not match"):
        Clinic.open()
    monkeypatch.delenv("CLINIC_MASTER_KEY")
    (pg_data_dir / "master.key").unlink()
    with pytest.raises(crypto.MasterKeyError):  # an existing clinic never gets a new key
        Clinic.open()
    assert not (pg_data_dir / "master.key").exists()


def test_transactions_are_per_thread_and_conflicts_are_typed(postgres_url: str) -> None:
    db = PostgresDatabase(postgres_url, pool_size=4)
    try:
        db.execute("CREATE TABLE probe (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
        db.execute("INSERT INTO probe VALUES (1, 0)")
        with db.transaction() as tx:
            tx.execute("UPDATE probe SET n = n + 1 WHERE id = 1")
            assert db.scalar("SELECT n FROM probe WHERE id = 1") == 1  # this thread sees its write
            seen: list[int] = []
            reader = threading.Thread(
                target=lambda: seen.append(db.scalar("SELECT n FROM probe WHERE id = 1"))
            )
            reader.start()
            reader.join()
            assert seen == [0]  # another thread does not, until COMMIT
        assert db.scalar("SELECT n FROM probe WHERE id = 1") == 1

        entered, release = threading.Event(), threading.Event()
        outcome: list[BaseException | None] = []

        def slow_writer() -> None:
            try:
                with db.transaction() as tx:
                    tx.execute("SELECT n FROM probe WHERE id = 1")  # takes its snapshot
                    entered.set()
                    release.wait(10)
                    tx.execute("UPDATE probe SET n = n + 10 WHERE id = 1")
                outcome.append(None)
            except BaseException as error:  # noqa: BLE001 - checked below
                outcome.append(error)

        writer = threading.Thread(target=slow_writer)
        writer.start()
        assert entered.wait(10)
        db.execute("UPDATE probe SET n = n + 100 WHERE id = 1")  # commits first
        release.set()
        writer.join()
        assert isinstance(outcome[0], TransactionConflict)  # snapshot isolation, as on DuckDB
        assert db.scalar("SELECT n FROM probe WHERE id = 1") == 101
        with pytest.raises(ValueError), db.transaction() as tx:
            tx.execute("UPDATE probe SET n = 0 WHERE id = 1")
            raise ValueError("rolled back")
        assert db.scalar("SELECT n FROM probe WHERE id = 1") == 101
    finally:
        db.close()


def test_patient_data_is_sealed_before_it_reaches_postgresql(
    pg_data_dir: Path, clock: FakeClock, postgres_server: object
) -> None:
    from tests.postgres_server import PostgresServer

    from .conftest import required_photos, valid_intake

    assert isinstance(postgres_server, PostgresServer)
    secret_text = "Unmistakable-concern-text-4711"
    with Clinic.open(Settings.from_env(), clock=clock) as clinic:
        clinic.case_submitted_listeners.clear()
        patient = register(clinic, "Quinn.Quartermain@Example.test", "Quinn Quartermain")
        case_id = clinic.cases.submit_case(patient, valid_intake(goals=secret_text), required_photos())
        # Everything reads back in the clear through the services (log-in by e-mail included)...
        again = clinic.auth.login("quinn.quartermain@example.test", PASSWORD).principal
        assert again.user_id == patient.user_id and again.display_name == "Quinn Quartermain"
        assert clinic.cases.get_case(patient, case_id).intake.goals == secret_text
        dob = clinic.db.scalar("SELECT date_of_birth FROM patients WHERE id = ?", [patient.patient_id])
        assert str(dob) == "1988-05-04"
        with pytest.raises(ValidationError) as refused:  # the duplicate check still finds the address
            register(clinic, "quinn.quartermain@example.test", "Someone Else")
        assert refused.value.errors == {"": REGISTRATION_REFUSED_MESSAGE}
        # ...while PostgreSQL holds only sealed text, in its tables and its WAL.
        stored = clinic.db.fetchall("SELECT name FROM patients")  # opened by the engine
        assert stored == [("Quinn Quartermain",)]
        clinic.db.checkpoint()
    needles = [b"Quartermain", b"quinn.quartermain@example.test", secret_text.encode(), b"1988-05-04"]
    scanned = 0
    for path in postgres_server.data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            scanned += len(content)
            for needle in needles:
                assert needle not in content, f"{needle!r} in plain text in {path}"
    assert scanned > 10_000_000  # the whole cluster was read: tables, indexes, WAL


def test_the_parameters_bound_for_sealed_columns_are_found() -> None:
    from core.db_sealing import sealing_plan

    assert sealing_plan(
        "INSERT INTO patients (id, user_id, name, date_of_birth, preferred_language) VALUES"
        " (?, ?, ?, ?, 'en'), (?, ?, ?, ?, ?)"
    ) == ((2, "text"), (3, "date"), (6, "text"), (7, "date"))
    assert sealing_plan(
        "UPDATE reports SET findings = ?, sent_at = (SELECT max(x) FROM t WHERE y = ?), home_care = ?"
        " WHERE id = ? AND findings = '?'"
    ) == ((0, "text"), (2, "text"))
    assert sealing_plan("SELECT id FROM users u WHERE u.email = ? AND role = ?") == ((0, "lookup"),)
    assert sealing_plan("SELECT id FROM cases WHERE patient_id = ?") == ()
