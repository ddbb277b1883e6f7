"""Files written private, a change and its audit row committed together, backups that carry the
audit head, parallel log-ins that cannot beat the lockout, the password policy, enumeration-safe
messages and session lifetimes."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import threading
from datetime import date
from pathlib import Path

import pytest

from core.__main__ import main as cli
from core.access import ValidationError
from core.auth import (
    LOGIN_FAILED_MESSAGE,
    REGISTRATION_REFUSED_MESSAGE,
    WEAK_PASSWORD_MESSAGE,
    AccountLocked,
    LoginFailed,
    SessionExpired,
)
from core.backup import BackupError, create_backup, restore_backup
from core.clinic import Clinic
from core.config import Settings

from .conftest import PASSWORD, Accounts, FakeClock, register, required_photos, valid_intake


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- files -------------------------------------------------------------------------------------
@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_database_blobs_backups_and_exports_are_private(
    clinic: Clinic, accounts: Accounts, tmp_path: Path
) -> None:
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    clinic.db.checkpoint()
    assert _mode(clinic.settings.db_path) == 0o600
    blobs = list(clinic.settings.blob_dir.glob("*/*.blob"))
    assert blobs and all(_mode(p) == 0o600 for p in blobs)
    assert all(_mode(p.parent) == 0o700 for p in blobs)
    archive = create_backup(clinic, tmp_path / "out" / "backup.tar").path
    assert _mode(archive) == 0o600
    clinic.close()
    export = tmp_path / "out" / "patient.zip"
    assert cli(["export-patient-data", accounts.patient_a.patient_id, str(export)]) == 0
    assert _mode(export) == 0o600
    fhir = tmp_path / "out" / "case.json"
    assert cli(["export-fhir", case_id, "--physician", "doc@clinic.test", "-o", str(fhir)]) == 0
    assert _mode(fhir) == 0o600


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_an_existing_data_directory_is_tightened_on_start(data_dir: Path, clock: FakeClock) -> None:
    Clinic.open(Settings.from_env(), clock=clock).close()
    # As an older version (or a careless copy) left it.
    loose = [data_dir, data_dir / "clinic.duckdb", data_dir / "blobs"]
    (data_dir / "blobs" / "ab").mkdir()
    old_blob = data_dir / "blobs" / "ab" / "abcdefghijklmnopqrstuvwx.blob"
    old_blob.write_bytes(b"x")
    for path in [*loose, data_dir / "blobs" / "ab", old_blob]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    Clinic.open(Settings.from_env(), clock=clock).close()
    assert _mode(data_dir) == 0o700 and _mode(data_dir / "blobs" / "ab") == 0o700
    assert _mode(data_dir / "clinic.duckdb") == 0o600 and _mode(old_blob) == 0o600


# -- a change and its audit row ----------------------------------------------------------------
def test_a_case_is_never_stored_without_its_audit_row(
    clinic: Clinic, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = clinic.audit._insert

    def failing_insert(cursor, head, fields):  # noqa: ANN001, ANN202 - test double
        if fields[3] == "case.submit":
            raise OSError("disk full while writing the audit row")
        return real_insert(cursor, head, fields)

    monkeypatch.setattr(clinic.audit, "_insert", failing_insert)
    with pytest.raises(OSError):
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    assert clinic.db.fetchone("SELECT count(*) FROM cases")[0] == 0
    assert clinic.db.fetchone("SELECT count(*) FROM photos")[0] == 0
    assert not list(clinic.settings.blob_dir.glob("*/*.blob"))
    monkeypatch.undo()
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    assert [e.action for e in clinic.audit.entries_for_object("case", case_id)] == ["case.submit"]
    assert clinic.audit.verify().ok


# -- backups carry the audit head --------------------------------------------------------------
def _rewrite_archive(source: Path, target: Path, change_manifest) -> Path:  # noqa: ANN001
    with tarfile.open(source) as tar_in, tarfile.open(target, "w") as tar_out:
        for member in tar_in.getmembers():
            payload = tar_in.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(payload)
                change_manifest(manifest)
                payload = json.dumps(manifest).encode()
                member.size = len(payload)
            tar_out.addfile(member, io.BytesIO(payload))
    return target


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_the_manifest_carries_a_sealed_audit_head(clinic: Clinic, accounts: Accounts, tmp_path: Path) -> None:
    archive = create_backup(clinic, tmp_path / "b.tar").path
    head = clinic.audit.head
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["audit_head"]["seq"] == head.seq and manifest["audit_head"]["mac"] == head.mac
    settings = clinic.settings
    clinic.close()
    forged = _rewrite_archive(archive, tmp_path / "forged.tar", lambda m: m["audit_head"].update(seq=1))
    with pytest.raises(BackupError, match="manifest was altered"):
        restore_backup(settings, forged, force=True)
    restore_backup(settings, archive, force=True)
    with Clinic.open(settings) as restored:
        assert restored.audit.verify().ok


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_restore_refuses_an_archive_whose_newest_audit_rows_were_cut(
    clinic: Clinic, accounts: Accounts, tmp_path: Path
) -> None:
    archive = create_backup(clinic, tmp_path / "b.tar").path
    settings = clinic.settings
    clinic.close()
    # Cut the archived database's newest rows (someone with the database key, not the master key).
    work = tmp_path / "work"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    from core.crypto import load_or_create_master_key
    from core.db import Database

    master_key = load_or_create_master_key(None, settings.key_file, create=False)
    database = Database.open_with_master_key(work / "clinic.duckdb", master_key)
    database.execute("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 3 FROM audit_log)")
    database.close()
    cut = tmp_path / "cut.tar"
    with tarfile.open(cut, "w") as tar:
        for path in sorted(work.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(work)))
    with pytest.raises(BackupError, match="audit log does not match"):
        restore_backup(settings, cut, force=True)


# -- log-in ------------------------------------------------------------------------------------
def test_parallel_guesses_get_no_more_password_checks_than_the_limit(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(clinic, "pat@example.test", "Pat")
    real_hash = clinic.db.fetchone("SELECT password_hash FROM users WHERE email = ?", ["pat@example.test"])[0]
    real_verify = clinic.auth._verify_quietly
    checks: list[str] = []
    lock = threading.Lock()

    def counting_verify(password_hash: str, password: str) -> bool:
        if password_hash == real_hash:
            with lock:
                checks.append(password)
        return real_verify(password_hash, password)

    monkeypatch.setattr(clinic.auth, "_verify_quietly", counting_verify)
    outcomes: list[BaseException] = []
    start = threading.Barrier(8)

    def guesser(n: int) -> None:
        start.wait()
        for i in range(6):
            try:
                clinic.auth.login("pat@example.test", f"wrong-guess-{n}-{i}")
            except BaseException as error:  # noqa: BLE001 - every outcome is inspected below
                outcomes.append(error)

    threads = [threading.Thread(target=guesser, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 48 and all(isinstance(e, LoginFailed) for e in outcomes), {
        type(e).__name__ for e in outcomes
    }
    assert len(checks) <= clinic.settings.max_failed_logins
    with pytest.raises(AccountLocked):
        clinic.auth.login("pat@example.test", PASSWORD)
    assert clinic.audit.verify().ok


def test_unknown_locked_and_wrong_fail_alike_with_the_same_work(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(clinic, "pat@example.test", "Pat")
    real_verify = clinic.auth._verify_quietly
    checks: list[str] = []

    def counting_verify(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(clinic.auth, "_verify_quietly", counting_verify)
    messages = []
    for email in ["nobody@example.test", "pat@example.test"] * clinic.settings.max_failed_logins + [
        "pat@example.test"
    ]:
        checks.clear()
        with pytest.raises(LoginFailed) as caught:
            clinic.auth.login(email, "wrong-password-x")
        assert len(checks) == 1  # one argon2 check whatever the outcome
        messages.append(str(caught.value))
    assert isinstance(caught.value, AccountLocked)  # the last one met a locked account
    assert set(messages) == {LOGIN_FAILED_MESSAGE}


@pytest.mark.parametrize("weak", ["aaaaaaaaaa", "1234567890", "password12", "qwertyuiop", "pat@example.test"])
def test_guessable_passwords_are_refused_with_a_helpful_message(clinic: Clinic, weak: str) -> None:
    with pytest.raises(ValidationError) as refused:
        clinic.auth.register_patient(
            "pat@example.test", weak, "Pat Example", date(1988, 5, 4), "en", "Europe/Amsterdam", True
        )
    message = refused.value.errors["password"]
    assert message in (WEAK_PASSWORD_MESSAGE, "The password needs at least 10 characters.")
    assert "words" in WEAK_PASSWORD_MESSAGE  # it says what to do instead


def test_registering_a_taken_address_does_not_tell_it_exists(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(clinic, "pat@example.test", "Pat")
    hashes: list[str] = []
    real = clinic.auth._hasher

    class CountingHasher:
        def hash(self, password: str) -> str:
            hashes.append(password)
            return real.hash(password)

    monkeypatch.setattr(clinic.auth, "_hasher", CountingHasher())
    with pytest.raises(ValidationError) as refused:
        clinic.auth.register_patient(
            "PAT@example.test",
            "Another-Strong-Phrase-77",
            "X",
            date(1990, 1, 1),
            "en",
            "Europe/Amsterdam",
            True,
        )
    assert refused.value.errors == {"": REGISTRATION_REFUSED_MESSAGE}
    assert "exist" not in REGISTRATION_REFUSED_MESSAGE
    assert len(hashes) == 1  # the same hashing work as a new account


def test_sessions_end_after_their_absolute_lifetime_and_are_purged(clinic: Clinic, clock: FakeClock) -> None:
    register(clinic, "pat@example.test", "Pat")
    _, token = clinic.auth.login("pat@example.test", PASSWORD)
    _, idle_token = clinic.auth.login("pat@example.test", PASSWORD)
    for _ in range(clinic.settings.session_max_hours * 3):
        clock.advance(minutes=20)
        clinic.auth.resume(token)  # active all along
    clock.advance(minutes=20)
    with pytest.raises(SessionExpired, match="lifetime"):
        clinic.auth.resume(token)
    # The idle ones (this log-in's and register's) are still stored until a purge.
    assert clinic.db.fetchone("SELECT count(*) FROM sessions")[0] == 2
    assert clinic.auth.purge_sessions() == 2
    assert clinic.db.fetchone("SELECT count(*) FROM sessions")[0] == 0
    with pytest.raises(SessionExpired):
        clinic.auth.resume(idle_token)


def test_a_poll_does_not_keep_a_session_alive(clinic: Clinic, clock: FakeClock) -> None:
    register(clinic, "pat@example.test", "Pat")
    _, token = clinic.auth.login("pat@example.test", PASSWORD)
    for _ in range(2):
        clock.advance(minutes=12)
        clinic.auth.resume(token, touch=False)  # a timed fragment checking, not activity
    clock.advance(minutes=7)
    with pytest.raises(SessionExpired, match="inactivity"):
        clinic.auth.resume(token, touch=False)
