"""Backups of a clinic group's PostgreSQL database (core.backup, core.backup_postgres): an online
pg_dump snapshot sealed as it streams, the restore check in a scratch database, a restore into
the clinic's own database, a cut audit chain refused and the erasure ledger applied again.

Runs on the session's throwaway cluster (tests/postgres_server.py); skips without PostgreSQL.
"""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.access import SYSTEM_PRINCIPAL
from core.backup import BackupError, check_backup, create_backup, restore_backup
from core.clinic import Clinic
from core.config import Settings
from tests.postgres_server import restore_check_databases

from .conftest import Accounts, FakeClock, register, required_photos, valid_intake


@pytest.fixture
def clinic(
    data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> Iterator[Clinic]:
    """A clinic on a fresh PostgreSQL database (whatever CLINIC_TEST_ENGINE says)."""
    monkeypatch.setenv("CLINIC_DATABASE_URL", postgres_url)
    opened = Clinic.open(Settings.from_env(), clock=clock)
    opened.case_submitted_listeners.clear()
    yield opened
    opened.close()


def _archive_bytes(path: Path) -> bytes:
    with tarfile.open(path) as tar:
        return b"".join(
            tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        )


def test_backup_while_another_connection_writes_then_the_restore_check_passes(
    clinic: Clinic, accounts: Accounts, tmp_path: Path
) -> None:
    clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def keep_writing() -> None:  # pool connections of its own, committing all along
        try:
            while not stop.is_set():
                n = len(written)
                register(clinic, f"writer{n}@example.test", f"Wanda Writer{n}")
                written.append(n)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 2:  # the writer is under way
            stop.wait(0.01)
        before = len(written)
        summary = create_backup(clinic, tmp_path / "backups" / "clinic.tar")
        while len(written) < before + 2:  # and goes on after the snapshot
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert not errors, errors
    total_rows = clinic.db.scalar("SELECT count(*) FROM audit_log")
    assert 0 < summary.audit_rows < total_rows  # a snapshot, not the end state
    assert summary.blob_count == 3

    checked = check_backup(clinic.settings, summary.path, tmp_path / "scratch")
    assert checked.audit_rows_verified == summary.audit_rows  # the chain ends where the manifest says
    assert checked.restored.blob_count == 3
    assert restore_check_databases(clinic.settings.database_url or "") == []  # dropped again
    assert not (tmp_path / "scratch" / "data").exists()

    payload = _archive_bytes(summary.path)
    with tarfile.open(summary.path) as tar:
        assert sorted(n for n in tar.getnames() if "/" not in n) == ["clinic.pgdump.sealed", "manifest.json"]
    assert b"PGDMP" not in payload, "the dump is sealed, not pg_dump's plain custom format"
    for plain in (b"Alice Quartermain", b"alice@example.test", b"Wanda Writer", b"an even tone", b"master"):
        assert plain not in payload


def _splice(newer: Path, older: Path, out: Path) -> Path:
    """The newer archive's (sealed, genuine) manifest over the older archive's database: the
    archived audit log lacks the manifest's newest rows."""
    with tarfile.open(newer) as tar:
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
    with tarfile.open(older) as source, tarfile.open(out, "w") as target:
        for member in source.getmembers():
            if member.name == "manifest.json":
                member.size = len(manifest)
                target.addfile(member, io.BytesIO(manifest))
            else:
                target.addfile(member, source.extractfile(member))
    return out


def test_an_archive_whose_audit_chain_was_cut_is_refused(
    clinic: Clinic, accounts: Accounts, tmp_path: Path
) -> None:
    older = create_backup(clinic, tmp_path / "older.tar")
    register(clinic, "carol@example.test", "Carol Later")
    newer = create_backup(clinic, tmp_path / "newer.tar")
    assert newer.audit_rows > older.audit_rows
    cut = _splice(newer.path, older.path, tmp_path / "cut.tar")

    with pytest.raises(BackupError, match="audit log does not match its manifest"):
        check_backup(clinic.settings, cut, tmp_path / "scratch")
    assert restore_check_databases(clinic.settings.database_url or "") == []
    check_backup(clinic.settings, newer.path, tmp_path / "scratch")  # the genuine one passes


def test_a_flipped_byte_in_the_sealed_dump_is_refused(
    clinic: Clinic, accounts: Accounts, tmp_path: Path
) -> None:
    archive = create_backup(clinic, tmp_path / "b.tar").path
    with tarfile.open(archive) as tar:
        dump = tar.getmember("clinic.pgdump.sealed")
    with archive.open("r+b") as handle:
        handle.seek(dump.offset_data + dump.size // 2)
        byte = handle.read(1)
        handle.seek(dump.offset_data + dump.size // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(BackupError, match="does not decrypt"):
        check_backup(clinic.settings, archive, tmp_path / "scratch")


def test_restore_into_the_clinic_database_and_erased_patients_stay_erased(
    clinic: Clinic, accounts: Accounts, tmp_path: Path
) -> None:
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    archive = create_backup(clinic, tmp_path / "b.tar").path
    erased = accounts.patient_a.patient_id
    assert erased is not None
    clinic.exports.erase_patient(accounts.admin, erased)
    settings = clinic.settings

    # The portal (its pool) is still connected: a restore would pull the data from under it.
    with pytest.raises(BackupError, match="in use"):
        restore_backup(settings, archive, force=True)
    clinic.close()
    with pytest.raises(BackupError, match="already holds clinic data"):
        restore_backup(settings, archive)

    summary = restore_backup(settings, archive, force=True)

    assert summary.erasures_reapplied == (erased,)
    assert summary.blob_count == 3
    assert list(settings.data_dir.glob("pre-restore-*/blobs"))  # the replaced blobs are kept aside
    with Clinic.open(settings) as restored:
        assert restored.db.scalar("SELECT count(*) FROM patients WHERE id = ?", [erased]) == 0
        assert restored.db.scalar("SELECT count(*) FROM cases WHERE id = ?", [case_id]) == 0
        bob = restored.auth.login("bob@example.test", "correct-horse-battery").principal
        assert bob.display_name == "Bob Brightwater"  # the rest is back, sealed columns open
        assert restored.audit.verify().ok


def test_a_duckdb_archive_is_refused_by_a_postgresql_clinic(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLINIC_DATABASE_URL")
    embedded_settings = Settings.from_env()
    embedded_settings = Settings(
        data_dir=tmp_path / "embedded",
        model_dir=embedded_settings.model_dir,
        key_file=clinic.settings.key_file,
        master_key_env=None,
    )
    with Clinic.open(embedded_settings) as embedded:
        embedded.auth.create_staff(SYSTEM_PRINCIPAL, "admin", "a@clinic.test", "Ada", "correct-horse-battery")
        archive = create_backup(embedded, tmp_path / "embedded.tar").path
    with pytest.raises(BackupError, match="holds a duckdb database, this clinic uses postgresql"):
        check_backup(clinic.settings, archive, tmp_path / "scratch")
