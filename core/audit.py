"""Tamper-evident audit log: every read or change of patient data appends one hash-chained row.

Each row stores `prev_hash` (the previous row's hash, or 64 zeros for the first) and `hash`,
the SHA-256 of the canonical JSON of all its other fields. Editing a row breaks its hash;
deleting or reordering rows breaks the next row's `prev_hash` or the sequence. Appends are
serialised by a process-wide lock, so concurrent threads never fork the chain. (Deleting the
newest rows is only detectable against an external copy of the latest hash, e.g. in a backup.)
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from core.access import ADMIN, Principal, require_role
from core.db import Database, from_db_time, to_db_time, utcnow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor_id: str | None
    actor_role: str | None
    action: str
    object_type: str | None
    object_id: str | None
    detail: dict[str, Any]

    # Short names for display code.
    @property
    def actor(self) -> str | None:
        return self.actor_id

    @property
    def target(self) -> str | None:
        return f"{self.object_type}:{self.object_id}" if self.object_type else self.object_id

    @property
    def details(self) -> str:
        return json.dumps(self.detail, sort_keys=True) if self.detail else ""


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    rows_checked: int
    first_bad_row: int | None  # seq of the first row that fails, None when ok
    reason: str | None

    @property
    def checked(self) -> int:
        return self.rows_checked

    @property
    def first_bad_seq(self) -> int | None:
        return self.first_bad_row


def row_hash(
    seq: int,
    at: datetime,
    actor_id: str | None,
    actor_role: str | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    detail_json: str,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "at": to_db_time(at).isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "actor_role": actor_role,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "detail": detail_json,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class AuditLog:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._cursor: duckdb.DuckDBPyConnection | None = None

    def record(
        self,
        actor: Principal | None,
        action: str,
        target_type: str | None = None,
        target_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry (who, role, action, object, time, details); returns its seq.

        Keep patient data (names, free text) out of `details`: ids and codes only.
        """
        detail_json = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)
        actor_id = actor.user_id if actor else None
        actor_role = actor.role if actor else None
        # Microsecond precision is what the TIMESTAMP column keeps, so hash exactly that.
        at = to_db_time(self._clock())
        with self._lock:
            # Its own cursor, auto-committed under the lock: an append never joins (and waits
            # on) a caller's open transaction, so two threads can never commit the same seq.
            if self._cursor is None:
                self._cursor = self._db.dedicated_cursor()
            cursor = self._cursor
            last = cursor.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            digest = row_hash(
                seq, at, actor_id, actor_role, action, target_type, target_id, detail_json, prev_hash
            )
            cursor.execute(
                "INSERT INTO audit_log (seq, recorded_at, actor_id, actor_role, action, object_type, object_id,"
                " detail_json, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    seq,
                    at,
                    actor_id,
                    actor_role,
                    action,
                    target_type,
                    target_id,
                    detail_json,
                    prev_hash,
                    digest,
                ],
            )
            return seq

    def verify(self) -> AuditVerification:
        """Walk the whole chain in seq order; report the first row that does not fit."""
        rows = self._db.fetchall(
            "SELECT seq, recorded_at, actor_id, actor_role, action, object_type, object_id, detail_json, prev_hash, hash"
            " FROM audit_log ORDER BY seq"
        )
        expected_prev = GENESIS_HASH
        for index, row in enumerate(rows):
            seq, at, actor_id, actor_role, action, object_type, object_id, detail_json, prev_hash, stored = (
                row
            )
            if seq != index + 1:
                return AuditVerification(
                    False, index, seq, f"sequence gap: expected row {index + 1}, found {seq}"
                )
            if prev_hash != expected_prev:
                return AuditVerification(
                    False, index, seq, "previous-hash link broken (row deleted or reordered)"
                )
            computed = row_hash(
                seq, at, actor_id, actor_role, action, object_type, object_id, detail_json, prev_hash
            )
            if computed != stored:
                return AuditVerification(False, index, seq, "row content does not match its hash (edited)")
            expected_prev = stored
        return AuditVerification(True, len(rows), None, None)

    def verify_chain(self, principal: Principal) -> AuditVerification:
        """`verify` for an administrator (the audit page)."""
        require_role(principal, ADMIN)
        return self.verify()

    def recent(self, principal: Principal, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first; administrators only."""
        require_role(principal, ADMIN)
        rows = self._db.fetchall(
            "SELECT seq, recorded_at, actor_id, actor_role, action, object_type, object_id, detail_json"
            " FROM audit_log ORDER BY seq DESC LIMIT ?",
            [int(limit)],
        )
        return [_entry(row) for row in rows]

    def entries_for_object(self, object_type: str, object_id: str) -> list[AuditEntry]:
        """Internal/test helper: every entry about one object, oldest first."""
        rows = self._db.fetchall(
            "SELECT seq, recorded_at, actor_id, actor_role, action, object_type, object_id, detail_json"
            " FROM audit_log WHERE object_type = ? AND object_id = ? ORDER BY seq",
            [object_type, object_id],
        )
        return [_entry(row) for row in rows]

    def actions(self) -> list[str]:
        """Every action recorded so far, oldest first (handy in tests)."""
        return [row[0] for row in self._db.fetchall("SELECT action FROM audit_log ORDER BY seq")]


def _entry(row: tuple) -> AuditEntry:
    seq, at, actor_id, actor_role, action, object_type, object_id, detail_json = row
    return AuditEntry(
        seq,
        from_db_time(at),
        actor_id,
        actor_role,
        action,
        object_type,
        object_id,
        json.loads(detail_json or "{}"),
    )
