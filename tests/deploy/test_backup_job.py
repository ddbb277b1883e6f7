"""deploy/clinic_backup.py, the job the backup timer runs, without systemd: a real backup of a
temporary clinic, the restore check of the newest archive, retention, and a corrupted archive
failing the check; the same on PostgreSQL (an online pg_dump, the check in a scratch database),
and the backup unit of several app servers pausing nothing."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from core.access import SYSTEM_PRINCIPAL
from core.clinic import Clinic
from core.config import Settings
from deploy.render import Profile, render_units
from tests.postgres_server import restore_check_databases

REPO_ROOT = Path(__file__).resolve().parents[2]
JOB = REPO_ROOT / "deploy" / "clinic_backup.py"


def _seed_clinic() -> None:
    """Accounts (audit rows) and an encrypted blob in the clinic the environment names; closed again."""
    clinic = Clinic.open(Settings.from_env())
    try:
        clinic.auth.create_staff(
            SYSTEM_PRINCIPAL,
            role="physician",
            email="dr@example.test",
            name="Dr Test",
            password="Backup-Pass-123",
        )
        clinic.auth.register_patient(
            email="pat@example.test",
            password="Backup-Pass-123",
            name="Pat Backup",
            date_of_birth=datetime.date(1980, 1, 2),
            language="en",
            timezone="Europe/Amsterdam",
            accepted_telemedicine_consent=True,
        )
        clinic.blobs.put(b"photo bytes " * 1000)
    finally:
        clinic.close()


@pytest.fixture
def clinic_with_data(data_dir: Path) -> Path:
    """A clinic data directory with accounts (audit rows) and an encrypted blob; closed again."""
    _seed_clinic()
    return data_dir


@pytest.fixture
def postgres_clinic_with_data(data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The same clinic on a fresh PostgreSQL database (the blobs and key in `data_dir`); its URL."""
    monkeypatch.setenv("CLINIC_DATABASE_URL", postgres_url)
    _seed_clinic()
    return postgres_url


def run_job(backup_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    # The job reads the clinic's settings from the environment, like the systemd unit gives them.
    env = {key: value for key, value in os.environ.items()}
    return subprocess.run(
        [sys.executable, str(JOB), "--backup-dir", str(backup_dir), *extra],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def fake_old_archive(backup_dir: Path, stamp: str) -> Path:
    path = backup_dir / f"clinic-{stamp}.tar"
    path.write_bytes(b"an older backup")
    return path


def test_backup_check_and_retention(clinic_with_data: Path, tmp_path: Path) -> None:
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    oldest = fake_old_archive(backup_dir, "20200101T030000Z")
    older = fake_old_archive(backup_dir, "20200102T030000Z")
    unrelated = backup_dir / "notes.txt"
    unrelated.write_text("not a backup")

    result = run_job(backup_dir, "--keep", "2")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit log intact" in result.stdout
    assert "check passed" in result.stdout
    remaining = sorted(path.name for path in backup_dir.iterdir())
    new = [name for name in remaining if name.startswith("clinic-2") and not name.startswith("clinic-2020")]
    assert len(new) == 1, remaining
    # Retention: the newest two archives stay (the new one and the newer fake); other files stay.
    assert not oldest.exists()
    assert older.exists() and unrelated.exists()
    assert not [name for name in remaining if name.startswith(".check-")], "scratch directory left behind"
    # The archive holds the encrypted database and blob, never the key or plaintext.
    with tarfile.open(backup_dir / new[0]) as tar:
        names = tar.getnames()
        assert "clinic.duckdb" in names and any(name.startswith("blobs/") for name in names)
        assert not any("master.key" in name for name in names)
        payload = b"".join(_member_bytes(tar, member) for member in tar.getmembers() if member.isfile())
    assert b"Pat Backup" not in payload and b"photo bytes" not in payload


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()


def _flip_byte_in_blob(archive: Path) -> None:
    with tarfile.open(archive) as tar:
        blob = next(member for member in tar.getmembers() if member.name.startswith("blobs/"))
    offset = blob.offset_data + blob.size // 2
    with archive.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def _truncate(archive: Path) -> None:
    with archive.open("r+b") as handle:
        handle.truncate(archive.stat().st_size // 2)


@pytest.mark.parametrize("corrupt", [_flip_byte_in_blob, _truncate], ids=["flipped-blob-byte", "truncated"])
def test_a_corrupted_newest_backup_fails_the_check(clinic_with_data: Path, tmp_path: Path, corrupt) -> None:
    backup_dir = tmp_path / "backups"
    first = run_job(backup_dir, "--keep", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    (archive,) = [path for path in backup_dir.iterdir() if path.name.startswith("clinic-")]
    corrupt(archive)

    result = run_job(backup_dir, "--keep", "1", "--check-only")

    assert result.returncode != 0
    assert "restore" in result.stderr, result.stderr
    assert archive.exists(), "a failed check must not delete anything"


def test_without_any_backup_the_check_fails(clinic_with_data: Path, tmp_path: Path) -> None:
    result = run_job(tmp_path / "empty", "--check-only")
    assert result.returncode != 0
    assert "no backup archive" in result.stderr


def test_postgresql_backup_runs_online_and_is_checked_in_a_scratch_database(
    postgres_clinic_with_data: str, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    older = fake_old_archive(backup_dir, "20200101T030000Z")

    # The unit of one server passes --pause-unit; on PostgreSQL the job pauses nothing.
    result = run_job(backup_dir, "--keep", "1", "--pause-unit", "clinic-portal.service")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "clinic-portal.service keeps running" in result.stdout
    assert "into scratch" in result.stdout and "audit log intact" in result.stdout
    assert "check passed" in result.stdout
    assert not older.exists()  # retention after a passed check
    (archive,) = [path for path in backup_dir.iterdir() if path.name.startswith("clinic-")]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        payload = b"".join(_member_bytes(tar, member) for member in tar.getmembers() if member.isfile())
    assert "clinic.pgdump.sealed" in names and any(name.startswith("blobs/") for name in names)
    assert (
        b"Pat Backup" not in payload and b"pat@example.test" not in payload and b"photo bytes" not in payload
    )
    assert restore_check_databases(postgres_clinic_with_data) == []
    assert not [path.name for path in backup_dir.iterdir() if path.name.startswith(".check-")]

    _truncate(archive)
    failed = run_job(backup_dir, "--keep", "1", "--check-only")
    assert failed.returncode != 0
    assert "restore check failed" in failed.stderr, failed.stderr
    assert archive.exists(), "a failed check must not delete anything"
    assert restore_check_databases(postgres_clinic_with_data) == []


def test_the_backup_unit_of_several_app_servers_pauses_nothing() -> None:
    profile = Profile(sites=("clinic.lan",), lan=True, app_servers=3)
    unit = render_units(profile)["clinic-backup.service"]
    assert "clinic-portal.service" not in unit and "--pause-unit" not in unit
    assert "After=clinic-portal@8501.service clinic-portal@8502.service clinic-portal@8503.service" in unit
    single = render_units(Profile(sites=("clinic.lan",), lan=True))["clinic-backup.service"]
    assert "--pause-unit clinic-portal.service" in single  # one server on DuckDB still pauses
