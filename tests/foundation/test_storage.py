"""Encrypted DuckDB storage, migrations, per-thread cursors and encryption at rest."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core import crypto
from core.clinic import Clinic
from core.config import Settings
from core.db import Database, DatabaseError, list_migrations

from .conftest import Accounts, required_photos, valid_intake


def test_migrations_apply_once_in_order_and_reopen_is_idempotent(data_dir: Path) -> None:
    first = Clinic.open()
    applied = first.db.applied_migrations()
    numbers = [number for number, _ in applied]
    assert numbers == sorted(numbers) and numbers[:2] == [1, 2]
    first.close()
    second = Clinic.open()
    assert second.db.migrate() == []  # nothing left to apply
    assert second.db.applied_migrations() == applied
    second.close()


def test_migrations_run_in_numeric_not_lexical_order(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "010_second.sql").write_text("INSERT INTO log VALUES (10);")
    (migrations / "002_first.sql").write_text("CREATE TABLE log (n BIGINT);\nINSERT INTO log VALUES (2);")
    (migrations / "notes.txt").write_text("ignored")
    assert [n for n, _, _ in list_migrations(migrations)] == [2, 10]
    db = Database(tmp_path / "t.duckdb", b"k" * 32)
    assert db.migrate(migrations) == ["002_first", "010_second"]
    assert db.migrate(migrations) == []
    assert [r[0] for r in db.fetchall("SELECT n FROM log")] == [2, 10]  # each ran exactly once
    db.close()


def test_duplicate_migration_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "003_a.sql").write_text("SELECT 1;")
    (tmp_path / "003_b.sql").write_text("SELECT 1;")
    with pytest.raises(DatabaseError, match="share number 003"):
        list_migrations(tmp_path)


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_database_does_not_open_without_the_right_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clinic.open().close()
    with pytest.raises(DatabaseError):
        Database(Settings.from_env().db_path, b"\x00" * 32)
    import duckdb

    plain = duckdb.connect(":memory:")
    with pytest.raises(duckdb.Error):
        plain.execute(f"ATTACH '{Settings.from_env().db_path}' AS x")
    plain.close()
    monkeypatch.setenv("CLINIC_MASTER_KEY", crypto.os.urandom(32).hex())
    with pytest.raises(DatabaseError):
        Clinic.open()


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_patient_data_is_not_readable_in_the_database_or_wal(clinic: Clinic, accounts: Accounts) -> None:
    secret_text = "Unmistakable-concern-text-4711"
    clinic.cases.submit_case(accounts.patient_a, valid_intake(goals=secret_text), required_photos())
    wal = Path(f"{clinic.settings.db_path}.wal")
    assert wal.exists() and wal.stat().st_size > 0  # the newest rows are only in the WAL so far
    for path in (clinic.settings.db_path, wal):  # while open
        content = path.read_bytes()
        assert b"Quartermain" not in content and secret_text.encode() not in content
    clinic.close()
    content = clinic.settings.db_path.read_bytes()
    assert b"Quartermain" not in content and secret_text.encode() not in content
    for blob in clinic.settings.blob_dir.glob("*/*.blob"):
        assert b"JFIF" not in blob.read_bytes() and b"Exif" not in blob.read_bytes()


def test_each_thread_gets_its_own_cursor_and_concurrent_writes_work(clinic: Clinic) -> None:
    clinic.db.execute("CREATE TABLE thread_probe (thread TEXT, n BIGINT)")
    cursors: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            cursors[name] = id(clinic.db.cursor())
            assert clinic.db.cursor() is clinic.db.cursor()
            for n in range(20):
                clinic.db.execute("INSERT INTO thread_probe VALUES (?, ?)", [name, n])
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(cursors.values())) == 6
    assert clinic.db.fetchone("SELECT count(*) FROM thread_probe")[0] == 120


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_cursors_of_finished_threads_are_released(clinic: Clinic) -> None:
    import gc

    from core.db import live_cursor_count

    def one_rerun() -> None:  # Streamlit runs each script rerun in a new thread
        clinic.db.fetchone("SELECT count(*) FROM users")

    for _ in range(50):
        thread = threading.Thread(target=one_rerun)
        thread.start()
        thread.join()
    gc.collect()
    assert live_cursor_count(clinic.db) <= 2  # this thread's, perhaps one not yet collected


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_spilled_temp_files_are_encrypted_and_stay_in_the_data_dir(clinic: Clinic) -> None:
    settings = dict(
        clinic.db.fetchall(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('temp_file_encryption', 'temp_directory')"
        )
    )
    assert settings["temp_file_encryption"] == "true"
    assert Path(settings["temp_directory"]).resolve().is_relative_to(clinic.settings.data_dir.resolve())
