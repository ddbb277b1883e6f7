"""In-process checks of backup archives: hostile or foreign archives are refused before anything changes."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from core.backup import BackupError, create_backup, restore_backup
from core.clinic import Clinic
from core.config import Settings

from .conftest import Accounts, required_photos, valid_intake

# These use the embedded DuckDB file; the PostgreSQL archive (pg_dump) is tested in test_backup_postgres.py.
pytestmark = pytest.mark.duckdb_only


def _tar_with(path: Path, entries: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, payload in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "blobs/../../evil.blob", "master.key"])
def test_archives_with_unexpected_entries_are_refused(tmp_path: Path, data_dir: Path, name: str) -> None:
    Clinic.open().close()  # creates the key
    settings = Settings.from_env()
    settings.db_path.unlink()
    archive = _tar_with(tmp_path / "evil.tar", {"manifest.json": b"{}", name: b"x"})
    with pytest.raises(BackupError, match="unexpected entry"):
        restore_backup(settings, archive)
    assert not (tmp_path / "evil.txt").exists()


def test_not_an_archive_is_refused(tmp_path: Path, data_dir: Path) -> None:
    Clinic.open().close()
    settings = Settings.from_env()
    settings.db_path.unlink()
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is no tar file" * 100)
    with pytest.raises(BackupError, match="cannot read"):
        restore_backup(settings, junk)


def test_online_backup_while_open_and_restore(clinic: Clinic, accounts: Accounts, tmp_path: Path) -> None:
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    summary = create_backup(clinic, tmp_path / "b.tar")
    assert summary.blob_count == 3 and summary.audit_rows == clinic.audit.verify().rows_checked
    with tarfile.open(summary.path) as tar:
        assert sorted(n.split("/")[0] for n in tar.getnames() if "/" in n) == ["blobs"] * 3
    key_file = clinic.settings.key_file
    clinic.close()
    target = Settings(
        data_dir=tmp_path / "restored",
        model_dir=clinic.settings.model_dir,
        key_file=key_file,
        master_key_env=None,
    )
    restore_backup(target, summary.path)
    with Clinic.open(target) as restored:
        detail = restored.cases.get_case(
            restored.auth.login("doc@clinic.test", "correct-horse-battery").principal, case_id
        )
        assert len(detail.photos) == 3
