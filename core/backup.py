"""Backups: one tar archive of the encrypted database and the encrypted blobs, never the key.

The database part is a consistent snapshot taken online with DuckDB's `COPY FROM DATABASE`
(it runs in one transaction, so concurrent writes are either wholly in or wholly out) into a
new file encrypted with the same derived key. Blobs are immutable once written and are written
before the rows that reference them commit, so copying the blob directory after the snapshot
includes every blob the snapshot references. Restore checks the archive opens with the current
master key (database and every blob) before it replaces anything.

The manifest carries the audit chain's head (last seq and HMAC) and is itself sealed with the
audit key: restore verifies the archived chain against it (so an archive whose newest audit rows
were cut is refused) and then makes it the clinic's checkpoint. Archives are written 0600.

An archive made before an erasure still holds that patient: the erasure ledger beside the key
file (core.erasure, never in an archive) is applied again right after a restore, and at every
open, so a restore never brings an erased patient back.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core import crypto, private_files
from core.audit import (
    GENESIS_HASH,
    KEY_INFO,
    ChainHead,
    checkpoint_path,
    seal_json,
    verify_rows,
    write_checkpoint,
)
from core.blobstore import BlobIntegrityError, BlobStore
from core.config import Settings
from core.db import Database, DatabaseError

ARCHIVE_FORMAT = "clinic-backup/1"
_MEMBER = re.compile(r"^(manifest\.json|clinic\.duckdb|blobs/[A-Za-z0-9_-]{2}/[A-Za-z0-9_-]{16,64}\.blob)$")


class BackupError(Exception):
    """Backup or restore cannot proceed; the message says why in one line."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    blob_count: int
    db_bytes: int
    audit_rows: int
    erasures_reapplied: tuple[str, ...] = ()  # restore: ledger patients the archive still held


def create_backup(clinic, archive_path: Path) -> BackupSummary:  # clinic: core.clinic.Clinic
    """Write a consistent archive of `clinic`'s database and blobs to `archive_path`."""
    archive_path = Path(archive_path).resolve()
    data_dir = clinic.settings.data_dir.resolve()
    if archive_path.is_relative_to(data_dir):
        raise BackupError("write the backup outside the data directory")
    if clinic.settings.database_url:
        raise BackupError(
            "this clinic's data is in PostgreSQL: back it up with pg_dump and copy the blob volume"
            " (docs/DEPLOY.md, A clinic group)"
        )
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    master_key = crypto.load_or_create_master_key(
        clinic.settings.master_key_env, clinic.settings.key_file, create=False
    )
    db_key = crypto.derive_key(master_key, "duckdb")
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=archive_path.parent) as work:
        snapshot = Path(work) / "clinic.duckdb"
        cursor = clinic.db.cursor()
        cursor.execute(
            f"ATTACH '{_literal(str(snapshot))}' AS backup_snapshot (ENCRYPTION_KEY '{db_key.hex()}')"
        )
        try:
            cursor.execute("COPY FROM DATABASE clinic TO backup_snapshot")
            audit_rows = cursor.execute("SELECT count(*) FROM backup_snapshot.audit_log").fetchone()[0]
            head = cursor.execute(
                "SELECT seq, hash FROM backup_snapshot.audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            migrations = [
                r[0]
                for r in cursor.execute(
                    "SELECT version FROM backup_snapshot.schema_migrations ORDER BY version"
                ).fetchall()
            ]
            cursor.execute("CHECKPOINT backup_snapshot")
        finally:
            cursor.execute("DETACH backup_snapshot")
        head_seq, head_mac = head or (0, GENESIS_HASH)
        blob_ids = clinic.blobs.list_ids()
        manifest = {
            "format": ARCHIVE_FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "db_key_id": crypto.key_id(db_key),  # a fingerprint, not the key
            "migrations": migrations,
            "audit_rows": audit_rows,
            "audit_head_hash": head[1] if head else None,
            "audit_head": ChainHead(head_seq, head_mac, clinic.audit.head.keyed_from).to_json(),
        }
        manifest["seal"] = seal_json(crypto.derive_key(master_key, KEY_INFO), manifest)
        temp_archive = Path(work) / "archive.tar"
        copied = 0
        with tarfile.open(temp_archive, "w") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
            tar.add(snapshot, arcname="clinic.duckdb", recursive=False)
            for blob_id in blob_ids:
                path = clinic.blobs.path_for(blob_id)
                with contextlib.suppress(FileNotFoundError):  # a blob rolled back meanwhile
                    tar.add(path, arcname=f"blobs/{path.parent.name}/{path.name}", recursive=False)
                    copied += 1
        os.chmod(temp_archive, private_files.PRIVATE_FILE)  # patient data, even encrypted
        with open(temp_archive, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp_archive, archive_path)
        db_bytes = snapshot.stat().st_size
    return BackupSummary(archive_path, copied, db_bytes, audit_rows)


def restore_backup(settings: Settings, archive_path: Path, force: bool = False) -> BackupSummary:
    """Restore an archive into `settings.data_dir` after checking it opens with the current key.

    Refuses when the data directory already holds a database or blobs, unless `force`; with
    `force` the old files are moved aside to `<data_dir>/pre-restore-<time>/`, never deleted.
    """
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"no backup archive at {archive_path}")
    data_dir = settings.data_dir
    existing = settings.db_path.exists() or any(settings.blob_dir.glob("*/*.blob"))
    if existing and not force:
        raise BackupError(
            f"{data_dir} already holds clinic data; use --force to replace it (it is kept aside)"
        )
    try:
        master_key = crypto.load_or_create_master_key(
            settings.master_key_env, settings.key_file, create=False
        )
    except crypto.MasterKeyError as error:
        raise BackupError(f"{error} (restore needs the master key the backup was made with)") from error
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as work:
        staging = Path(work)
        manifest = _extract(archive_path, staging)
        if manifest.get("format") != ARCHIVE_FORMAT:
            raise BackupError(f"not a clinic backup (format {manifest.get('format')!r})")
        db_key = crypto.derive_key(master_key, "duckdb")
        if manifest.get("db_key_id") != crypto.key_id(db_key):
            raise BackupError(
                "the backup was made with another master key; set CLINIC_MASTER_KEY to that key"
            )
        anchor = _audit_anchor(manifest, master_key)
        audit_rows, blob_count = _verify_staging(staging, master_key, anchor, manifest)
        if settings.db_path.exists():
            _refuse_if_in_use(settings.db_path, master_key)
        if existing:
            aside = data_dir / f"pre-restore-{datetime.now(UTC):%Y%m%dT%H%M%S}"
            aside.mkdir()
            for name in ("clinic.duckdb", "clinic.duckdb.wal", "blobs"):
                if (data_dir / name).exists():
                    os.replace(data_dir / name, aside / name)
            if checkpoint_path(settings).exists():  # the old head, kept as evidence
                shutil.copy2(checkpoint_path(settings), aside / checkpoint_path(settings).name)
        os.replace(staging / "clinic.duckdb", settings.db_path)
        if (staging / "blobs").exists():
            if settings.blob_dir.exists():
                shutil.rmtree(settings.blob_dir)  # only reached when empty of blobs or moved aside
            os.replace(staging / "blobs", settings.blob_dir)
        # The restored chain's head becomes the checkpoint; an archive from before keyed chains
        # has none, and the next start seals its chain instead.
        if anchor is not None:
            audit_key = crypto.derive_key(master_key, KEY_INFO)
            write_checkpoint(checkpoint_path(settings), audit_key, anchor, durable=True)
        else:
            checkpoint_path(settings).unlink(missing_ok=True)
    private_files.tighten_tree(data_dir)
    reapplied = _reapply_erasures(settings)
    return BackupSummary(
        archive_path, blob_count, settings.db_path.stat().st_size, audit_rows, tuple(reapplied)
    )


def _reapply_erasures(settings: Settings) -> list[str]:
    """Erase again every patient of the erasure ledger the restored archive still holds (opening
    the clinic does it; done here so the restore reports it and nothing waits for the portal)."""
    from core.clinic import Clinic
    from core.erasure import ErasureLedger, LedgerError

    master_key = crypto.load_or_create_master_key(settings.master_key_env, settings.key_file, create=False)
    try:
        erased = ErasureLedger.for_settings(settings, master_key).erased_ids()
    except LedgerError as error:
        raise BackupError(f"restored, but erasures could not be re-applied: {error}") from error
    if not erased:
        return []
    with Clinic.open(settings) as clinic:
        return list(clinic.reapplied_erasures)


def _audit_anchor(manifest: dict, master_key: bytes) -> ChainHead | None:
    """The audit head the manifest records (its seal checked); None for an older archive."""
    if "audit_head" not in manifest:
        return None
    audit_key = crypto.derive_key(master_key, KEY_INFO)
    if not hmac.compare_digest(str(manifest.get("seal", "")), seal_json(audit_key, manifest)):
        raise BackupError("the backup's manifest was altered (its seal does not match)")
    try:
        return ChainHead.from_json(manifest["audit_head"])
    except ValueError as error:
        raise BackupError("the backup's manifest has a malformed audit head") from error


def _verify_staging(
    staging: Path, master_key: bytes, anchor: ChainHead | None, manifest: dict
) -> tuple[int, int]:
    if not (staging / "clinic.duckdb").is_file():
        raise BackupError("the archive has no database")
    try:
        database = Database.open_with_master_key(staging / "clinic.duckdb", master_key)
    except DatabaseError as error:
        raise BackupError(
            f"the archived database does not open with the current master key: {error}"
        ) from error
    try:
        audit_rows = database.scalar("SELECT count(*) FROM audit_log")
        from core.recovery import owned_blob_ids

        blob_rows = owned_blob_ids(database)  # photos, overlays: every blob a row owns
        chain = database.fetchall(
            "SELECT seq, recorded_at, actor_id, actor_role, action, object_type, object_id, detail_json,"
            " prev_hash, hash FROM audit_log ORDER BY seq"
        )
    finally:
        database.close()
    if anchor is not None:
        result = verify_rows(chain, crypto.derive_key(master_key, KEY_INFO), anchor)
        if not result.ok or len(chain) != anchor.seq:
            reason = result.reason or f"it has {len(chain)} rows, the manifest records {anchor.seq}"
            raise BackupError(f"the archive's audit log does not match its manifest: {reason}")
    elif manifest.get("audit_head_hash") != (chain[-1][9] if chain else None):
        raise BackupError("the archive's audit log does not end where its manifest says")
    blobs = BlobStore(staging / "blobs", master_key)
    present = set(blobs.list_ids())
    if missing := blob_rows - present:
        raise BackupError(f"the archive lacks {len(missing)} blob(s), e.g. {sorted(missing)[0]}")
    for blob_id in present:
        try:
            blobs.get(blob_id)
        except BlobIntegrityError as error:
            raise BackupError(
                f"archived blob does not decrypt with the current master key: {error}"
            ) from error
    return audit_rows, len(present)


def _refuse_if_in_use(db_path: Path, master_key: bytes) -> None:
    """Replacing the files under a running portal would corrupt both: DuckDB's lock tells."""
    try:
        Database.open_with_master_key(db_path, master_key).close()
    except DatabaseError as error:
        if "lock" in str(error).lower() or "already open" in str(error):
            raise BackupError("the clinic database is in use (stop the portal before restoring)") from error


def _extract(archive_path: Path, staging: Path) -> dict:
    try:
        with tarfile.open(archive_path, "r") as tar:
            members = tar.getmembers()
            for member in members:
                if not member.isfile() or not _MEMBER.match(member.name):
                    raise BackupError(f"unexpected entry in archive: {member.name!r}")
            tar.extractall(staging, members=members, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise BackupError(f"cannot read the backup archive: {error}") from error
    try:
        return json.loads((staging / "manifest.json").read_text())
    except (OSError, ValueError) as error:
        raise BackupError("the archive has no readable manifest") from error


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(payload))


def _literal(text: str) -> str:
    return text.replace("'", "''")
