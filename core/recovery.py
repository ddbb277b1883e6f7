"""What a killed process leaves behind, swept at the portal's start and by `sweep-orphans`.

Blobs are written before the rows that reference them commit (files cannot join a database
transaction), and a failure deletes them again; a SIGKILL between the two leaves an orphan blob.
`write_private` writes a temp file and renames it; a kill before the rename leaves a `.tmp` file.
Both are removed here once they are older than a grace period (default one hour), so a blob of a
submission that is still running is never taken: a blob is an orphan when no row owns it, i.e.
no `blob_id` / `*_blob_id` column of any table names it (the same rule erasure and the data
export use; photos and `assessment_blobs` are such owners). What was removed is logged and
written to the audit log (ids and counts only).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.blobstore import BlobStore
    from core.config import Settings
    from core.db import Database


class SweepClinic(Protocol):
    """What the sweep uses of `core.clinic.Clinic`, structurally (the facade calls the sweep)."""

    settings: Settings
    db: Database
    blobs: BlobStore
    audit: AuditLog
    clock: Callable[[], datetime]


GRACE = timedelta(hours=1)
# `core.private_files.write_private`'s temp names: ".<name>.<8 hex>.tmp".
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
_AUDIT_IDS = 50  # at most this many blob ids named in the audit row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    orphan_blobs: list[str] = field(default_factory=list)  # removed (or, dry run, would be)
    temp_files: list[str] = field(default_factory=list)  # paths relative to the data directory
    young_orphans: int = 0  # unowned, but within the grace period: kept
    dry_run: bool = False
    expired_drafts: int = 0  # intake drafts past their retention, removed with their photos

    @property
    def removed(self) -> int:
        return len(self.orphan_blobs) + len(self.temp_files)


def blob_columns(db: Database) -> list[tuple[str, str]]:
    """(table, column) of every column that names a blob: `blob_id` or `*_blob_id`."""
    rows = db.fetchall(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = current_schema()"
        " AND (column_name = 'blob_id' OR column_name LIKE '%\\_blob\\_id' ESCAPE '\\')"
        " AND table_name IN (SELECT table_name FROM information_schema.tables"
        "  WHERE table_catalog = current_database() AND table_schema = current_schema() AND table_type = 'BASE TABLE')"
        " ORDER BY table_name, column_name"
    )
    return [(r[0], r[1]) for r in rows]


def owned_blob_ids(db: Database) -> set[str]:
    """Every blob some row owns."""
    owned: set[str] = set()
    for table, column in blob_columns(db):
        owned.update(r[0] for r in db.fetchall(f'SELECT DISTINCT "{column}" FROM "{table}"') if r[0])
    return owned


def sweep_orphans(
    clinic: SweepClinic, *, grace: timedelta = GRACE, now: datetime | None = None, dry_run: bool = False
) -> SweepReport:
    """Remove unowned blobs and leftover temp files older than `grace` (by file time against
    `now`, default the clinic's clock); log and audit what was removed."""
    now = now or clinic.clock()
    cutoff = (now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)) - grace
    settings = clinic.settings
    # Intake drafts past their retention first (rows and their blobs): core.consult.drafts.
    expired_drafts = 0
    if not dry_run:
        from core.consult.drafts import expire_drafts

        retention = timedelta(days=getattr(settings, "draft_retention_days", 30))
        expired_drafts = expire_drafts(clinic.db, clinic.blobs, clinic.audit, now, retention)
    # Files first, rows second: a blob written after the listing is not looked at, and one
    # whose row commits after the query is young, so the grace period keeps it.
    candidates = clinic.blobs.list_ids()
    owned = owned_blob_ids(clinic.db)
    orphans: list[str] = []
    young = 0
    for blob_id in candidates:
        if blob_id in owned:
            continue
        if not _older_than(clinic.blobs.path_for(blob_id), cutoff):
            young += 1
            continue
        if dry_run or clinic.blobs.delete(blob_id):
            orphans.append(blob_id)
    temps: list[str] = []
    data_dir = Path(settings.data_dir)
    for path in _temp_files(data_dir, Path(settings.blob_dir), Path(settings.key_file).parent):
        if not _older_than(path, cutoff):
            continue
        if not dry_run:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
        temps.append(_relative(path, data_dir))
    report = SweepReport(orphans, temps, young, dry_run, expired_drafts)
    if report.removed and not dry_run:
        log.warning(
            "removed %d orphan blob(s) and %d leftover temp file(s) older than %s (kept %d younger orphan(s))",
            len(orphans), len(temps), grace, young,
        )  # fmt: skip
        clinic.audit.record(
            None,
            "maintenance.orphans_swept",
            "blobstore",
            None,
            {
                "orphan_blobs": len(orphans),
                "blob_ids": orphans[:_AUDIT_IDS],
                "temp_files": len(temps),
                "kept_young": young,
                "grace_seconds": int(grace.total_seconds()),
            },
        )
    return report


def _temp_files(data_dir: Path, blob_dir: Path, key_dir: Path) -> list[Path]:
    found: dict[Path, None] = {}
    places = [(blob_dir, "*/.*.tmp"), (blob_dir, ".*.tmp"), (data_dir, ".*.tmp"), (key_dir, ".*.tmp")]
    for directory, pattern in places:
        if directory.is_dir():
            for path in sorted(directory.glob(pattern)):
                if path.is_file() and _TEMP_NAME.match(path.name):
                    found[path.resolve()] = None
    return list(found)


def _older_than(path: Path, cutoff: datetime) -> bool:
    try:
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return False
    return modified < cutoff


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base.resolve()))
    except ValueError:
        return str(path)
