"""Backups: one tar archive of the encrypted database and the encrypted blobs, never the key.

The database part is a consistent snapshot taken online. DuckDB: `COPY FROM DATABASE` (it runs
in one transaction, so concurrent writes are either wholly in or wholly out) into a new file
encrypted with the same derived key. PostgreSQL (a clinic group): `pg_dump --format=custom` of
one exported snapshot, sealed with a key derived from the master key as it streams
(`core.backup_postgres`); the app servers keep running. Blobs are immutable once written and are
written before the rows that reference them commit, so copying the blob directory after the
snapshot includes every blob the snapshot references. Restore checks the archive with the
current master key (database and every blob) before it replaces anything (PostgreSQL: the
blobs and the sealed dump before, the restored chain right after, in the target).
`check_backup` is the nightly check: a restore into scratch (a directory, and for PostgreSQL a
scratch database on the same cluster) and `audit-verify` there.

The manifest carries the audit chain's head (last seq and HMAC) and is itself sealed with the
audit key: restore verifies the archived chain against it (so an archive whose newest audit rows
were cut is refused) and then makes it the clinic's checkpoint. Archives are written 0600.

An archive made before an erasure still holds that patient: the erasure ledger beside the key
file (core.erasure, never in an archive) is applied again right after a restore, and at every
open, so a restore never brings an erased patient back.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from typing import Protocol

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
from core.backup_errors import BackupError
from core.blobstore import BlobIntegrityError, BlobStore
from core.config import Settings
from core.db import Database, DatabaseError

ARCHIVE_FORMAT = "clinic-backup/1"
DUCKDB_MEMBER = "clinic.duckdb"
_MEMBER = re.compile(
    r"^(manifest\.json|clinic\.duckdb|clinic\.pgdump\.sealed|blobs/[A-Za-z0-9_-]{2}/[A-Za-z0-9_-]{16,64}\.blob)$"
)


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    blob_count: int
    db_bytes: int
    audit_rows: int
    erasures_reapplied: tuple[str, ...] = ()  # restore: ledger patients the archive still held


def create_backup(clinic, archive_path: Path) -> BackupSummary:  # clinic: core.clinic.Clinic
    """Write a consistent archive of `clinic`'s database and blobs to `archive_path` (online:
    DuckDB's `COPY FROM DATABASE`, or pg_dump of one snapshot for PostgreSQL)."""
    archive_path = Path(archive_path).resolve()
    data_dir = clinic.settings.data_dir.resolve()
    if archive_path.is_relative_to(data_dir):
        raise BackupError("write the backup outside the data directory")
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    master_key = crypto.load_or_create_master_key(
        clinic.settings.master_key_env, clinic.settings.key_file, create=False
    )
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=archive_path.parent) as work:
        if clinic.settings.database_url:
            snapshot = _snapshot_postgres(clinic.settings.database_url, Path(work), master_key)
        else:
            snapshot = _snapshot_duckdb(clinic, Path(work), master_key)
        head_seq, head_mac = snapshot.head or (0, GENESIS_HASH)
        # After the snapshot: every blob a snapshot row names was written before its row committed.
        blob_ids = clinic.blobs.list_ids()
        manifest = {
            "format": ARCHIVE_FORMAT,
            "engine": snapshot.engine,
            "created_at": datetime.now(UTC).isoformat(),
            "db_key_id": snapshot.key_id,  # a fingerprint, not the key
            "migrations": snapshot.migrations,
            "audit_rows": snapshot.audit_rows,
            "audit_head_hash": snapshot.head[1] if snapshot.head else None,
            "audit_head": ChainHead(head_seq, head_mac, clinic.audit.head.keyed_from).to_json(),
        }
        manifest["seal"] = seal_json(crypto.derive_key(master_key, KEY_INFO), manifest)
        temp_archive = Path(work) / "archive.tar"
        copied = 0
        with tarfile.open(temp_archive, "w") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
            tar.add(snapshot.path, arcname=snapshot.path.name, recursive=False)
            for blob_id in blob_ids:
                path = clinic.blobs.path_for(blob_id)
                with contextlib.suppress(FileNotFoundError):  # a blob rolled back meanwhile
                    tar.add(path, arcname=f"blobs/{path.parent.name}/{path.name}", recursive=False)
                    copied += 1
        os.chmod(temp_archive, private_files.PRIVATE_FILE)  # patient data, even encrypted
        with open(temp_archive, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp_archive, archive_path)
        db_bytes = snapshot.path.stat().st_size
    return BackupSummary(archive_path, copied, db_bytes, snapshot.audit_rows)


@dataclass(frozen=True)
class _Snapshot:
    """The database part of an archive, written into the work directory."""

    engine: str  # "duckdb" | "postgresql" (core.db.Database.engine)
    path: Path  # its file; the name is its archive member
    key_id: str
    audit_rows: int
    head: tuple[int, str] | None  # (seq, mac) of the newest audit row
    migrations: list[str]


def _snapshot_duckdb(clinic, work: Path, master_key: bytes) -> _Snapshot:
    db_key = crypto.derive_key(master_key, "duckdb")
    snapshot = work / DUCKDB_MEMBER
    cursor = clinic.db.cursor()
    cursor.execute(f"ATTACH '{_literal(str(snapshot))}' AS backup_snapshot (ENCRYPTION_KEY '{db_key.hex()}')")
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
    return _Snapshot(
        "duckdb",
        snapshot,
        crypto.key_id(db_key),
        audit_rows,
        (head[0], head[1]) if head else None,
        migrations,
    )


def _snapshot_postgres(url: str, work: Path, master_key: bytes) -> _Snapshot:
    from core import backup_postgres

    dump_key = crypto.derive_key(master_key, backup_postgres.DUMP_KEY_INFO)
    path = work / backup_postgres.DUMP_MEMBER
    dumped = backup_postgres.dump_sealed(url, path, dump_key)
    return _Snapshot(
        "postgresql", path, crypto.key_id(dump_key), dumped.audit_rows, dumped.head, dumped.migrations
    )


def restore_backup(settings: Settings, archive_path: Path, force: bool = False) -> BackupSummary:
    """Restore an archive into the clinic `settings` name, after checking it with the current key.

    DuckDB: into `settings.data_dir`; the archived file is opened and its audit chain checked
    before anything is replaced. PostgreSQL: into the database of `settings.database_url` (the
    portals stopped), in one transaction, its chain checked right after (`check_backup` checks
    an archive in a scratch database first). Blobs go to `settings.blob_dir` either way.

    Refuses when the target already holds a database or blobs, unless `force`; with `force` the
    old DuckDB file and blobs are moved aside to `<data_dir>/pre-restore-<time>/`, never
    deleted, and PostgreSQL's tables are replaced (`pg_restore --clean`).
    """
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"no backup archive at {archive_path}")
    data_dir = settings.data_dir
    target: _Target = (
        _PostgresTarget(settings.database_url) if settings.database_url else _DuckDBTarget(settings)
    )
    existing = target.holds_data() or any(settings.blob_dir.glob("*/*.blob"))
    if existing and not force:
        raise BackupError(
            f"{target.describe(data_dir)} already holds clinic data; use --force to replace it"
            f" ({target.replaced})"
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
        engine = manifest.get("engine", "duckdb")  # archives from before PostgreSQL name none
        if engine != target.engine:
            raise BackupError(
                f"the archive holds a {engine} database, this clinic uses {target.engine}"
                " (CLINIC_DATABASE_URL decides)"
            )
        db_key = crypto.derive_key(master_key, target.key_info)
        if manifest.get("db_key_id") != crypto.key_id(db_key):
            raise BackupError(
                "the backup was made with another master key; set CLINIC_MASTER_KEY to that key"
            )
        anchor = _audit_anchor(manifest, master_key)
        if not (staging / target.member).is_file():
            raise BackupError("the archive has no database")
        blob_count = _verify_blobs(staging / "blobs", master_key)
        target.refuse_if_in_use(master_key)
        database = target.load(staging / target.member, db_key, master_key, clean=existing)
        try:
            audit_rows = _verify_archived(database, staging / "blobs", master_key, anchor, manifest)
        finally:
            database.close()
        aside = data_dir / f"pre-restore-{datetime.now(UTC):%Y%m%dT%H%M%S}" if existing else None
        if aside is not None:
            aside.mkdir()
            if checkpoint_path(settings).exists():  # the old head, kept as evidence
                shutil.copy2(checkpoint_path(settings), aside / checkpoint_path(settings).name)
            if settings.blob_dir.exists():
                os.replace(settings.blob_dir, aside / "blobs")
        target.install(staging / target.member, aside)
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
    return BackupSummary(archive_path, blob_count, target.size(), audit_rows, tuple(reapplied))


@dataclass(frozen=True)
class CheckSummary:
    restored: BackupSummary
    audit_rows_verified: int


def check_backup(settings: Settings, archive_path: Path, scratch_dir: Path) -> CheckSummary:
    """The nightly restore check: restore `archive_path` into scratch (a data directory under
    `scratch_dir`, and for PostgreSQL a scratch database on the same cluster), open the clinic
    there and verify its audit chain; the scratch copy is removed again, whatever the outcome."""
    from core.clinic import Clinic
    from core.erasure import ledger_path

    scratch_dir = Path(scratch_dir)
    with contextlib.ExitStack() as stack:
        scratch_url = None
        if settings.database_url:
            from core import backup_postgres

            scratch_url = stack.enter_context(backup_postgres.scratch_database(settings.database_url))
        scratch = dataclasses.replace(
            settings, data_dir=scratch_dir / "data", key_file=settings.key_file, database_url=scratch_url
        )
        # The checkpoint and ledger a scratch data directory gets beside the key file go too.
        stack.callback(lambda: checkpoint_path(scratch).unlink(missing_ok=True))
        stack.callback(lambda: ledger_path(scratch).unlink(missing_ok=True))
        stack.callback(shutil.rmtree, scratch.data_dir, True)
        restored = restore_backup(scratch, archive_path)
        with Clinic.open(scratch) as clinic:
            verified = clinic.audit.verify()
        if not verified.ok:
            raise BackupError(
                f"the restored audit log is broken at row {verified.first_bad_row}: {verified.reason}"
            )
        return CheckSummary(restored, verified.rows_checked)


class _Target(Protocol):
    """Where a restore puts the database part of an archive."""

    engine: str
    member: str  # the archive member holding the database
    key_info: str  # HKDF label of the key sealing that member

    replaced: str  # what --force does to the data there

    def describe(self, data_dir: Path) -> str: ...
    def holds_data(self) -> bool: ...
    def refuse_if_in_use(self, master_key: bytes) -> None: ...
    def load(self, member: Path, db_key: bytes, master_key: bytes, *, clean: bool) -> Database:
        """The archived database, opened for the checks (PostgreSQL: restored into the target)."""
        ...

    def install(self, member: Path, aside: Path | None) -> None: ...
    def size(self) -> int: ...


class _DuckDBTarget:
    engine = "duckdb"
    member = DUCKDB_MEMBER
    key_info = "duckdb"
    replaced = "it is kept aside"

    def __init__(self, settings: Settings) -> None:
        self.db_path = settings.db_path

    def describe(self, data_dir: Path) -> str:
        return f"{data_dir}"

    def holds_data(self) -> bool:
        return self.db_path.exists()

    def refuse_if_in_use(self, master_key: bytes) -> None:
        if self.db_path.exists():
            _refuse_if_in_use(self.db_path, master_key)

    def load(self, member: Path, db_key: bytes, master_key: bytes, *, clean: bool) -> Database:
        try:
            return Database.open_with_master_key(member, master_key)
        except DatabaseError as error:
            raise BackupError(
                f"the archived database does not open with the current master key: {error}"
            ) from error

    def install(self, member: Path, aside: Path | None) -> None:
        if aside is not None:  # kept, never deleted
            for path in (self.db_path, self.db_path.with_name(self.db_path.name + ".wal")):
                if path.exists():
                    os.replace(path, aside / path.name)
        os.replace(member, self.db_path)

    def size(self) -> int:
        return self.db_path.stat().st_size


class _PostgresTarget:
    engine = "postgresql"
    key_info = "pg-dump"  # core.backup_postgres.DUMP_KEY_INFO
    member = "clinic.pgdump.sealed"  # core.backup_postgres.DUMP_MEMBER
    replaced = "its tables are replaced, its blobs kept aside"

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self, data_dir: Path) -> str:
        return "the clinic's PostgreSQL database (or the blob directory)"

    def holds_data(self) -> bool:
        from core import backup_postgres

        return backup_postgres.holds_clinic_data(self.url)

    def refuse_if_in_use(self, master_key: bytes) -> None:
        from core import backup_postgres

        if sessions := backup_postgres.other_sessions(self.url):
            raise BackupError(
                f"the clinic database is in use ({sessions} other connection(s)): stop every app server first"
            )

    def load(self, member: Path, db_key: bytes, master_key: bytes, *, clean: bool) -> Database:
        from core import backup_postgres
        from core.db_postgres import PostgresDatabase

        backup_postgres.restore_sealed(self.url, member, db_key, clean=clean)
        return PostgresDatabase(self.url, pool_size=2)  # ids and the chain: nothing sealed is read

    def install(self, member: Path, aside: Path | None) -> None:
        """Already in place (`load` restored it)."""

    def size(self) -> int:
        return 0  # no file; the archive member's size is in the backup summary


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


def _verify_blobs(blob_dir: Path, master_key: bytes) -> int:
    """Every archived blob decrypts with the current key; their count."""
    blobs = BlobStore(blob_dir, master_key)
    present = blobs.list_ids()
    for blob_id in present:
        try:
            blobs.get(blob_id)
        except BlobIntegrityError as error:
            raise BackupError(
                f"archived blob does not decrypt with the current master key: {error}"
            ) from error
    return len(present)


def _verify_archived(
    database: Database, blob_dir: Path, master_key: bytes, anchor: ChainHead | None, manifest: dict
) -> int:
    """The archived chain ends where the sealed manifest says and every owned blob is there;
    the number of audit rows."""
    from core.recovery import owned_blob_ids

    audit_rows = database.scalar("SELECT count(*) FROM audit_log")
    blob_rows = owned_blob_ids(database)  # photos, overlays: every blob a row owns
    chain = database.fetchall(
        "SELECT seq, recorded_at, actor_id, actor_role, action, object_type, object_id, detail_json,"
        " prev_hash, hash FROM audit_log ORDER BY seq"
    )
    if anchor is not None:
        result = verify_rows(chain, crypto.derive_key(master_key, KEY_INFO), anchor)
        if not result.ok or len(chain) != anchor.seq:
            reason = result.reason or f"it has {len(chain)} rows, the manifest records {anchor.seq}"
            raise BackupError(f"the archive's audit log does not match its manifest: {reason}")
    elif manifest.get("audit_head_hash") != (chain[-1][9] if chain else None):
        raise BackupError("the archive's audit log does not end where its manifest says")
    present = set(BlobStore(blob_dir, master_key).list_ids())
    if missing := blob_rows - present:
        raise BackupError(f"the archive lacks {len(missing)} blob(s), e.g. {sorted(missing)[0]}")
    return audit_rows


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
