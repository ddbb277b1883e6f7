"""Tamper-evident audit log: every read or change of patient data appends one keyed, chained row.

Each row stores `prev_hash` (the previous row's value, or 64 zeros for the first) and `hash`, an
HMAC-SHA256 of the canonical JSON of all its other fields under a key derived from the master
key ("audit-chain"), so nobody with only the database can rewrite rows and recompute the chain.
The chain's head (last seq and HMAC) is also kept outside the database, in a checkpoint file
beside the key file (0600, replaced atomically after every committed append), and in every
backup's manifest: deleting the newest rows, or all of them, no longer leaves a valid chain.

Appends are serialised by a process-wide lock, and on PostgreSQL (several app servers) also by a
transaction-scoped advisory lock: an append takes it, then reads the chain's head as committed
(not from its transaction's snapshot nor from this process's memory), so writers of several
processes never take the same seq nor fork the chain. A change and its audit row commit together:
`record(..., tx=tx)` inside `db.transaction()` appends in the caller's transaction and holds
the lock until it ends (the head moves only if it commits). Without `tx` a row commits on its
own at once, as before.

A database from before keyed chains (no checkpoint yet, row 1 a plain SHA-256) is sealed once
at start: an `audit.chain_keyed` row links to the old head and starts the keyed chain; rows
before it are still checked with SHA-256 (so the old part stays exactly as it was).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.access import ADMIN, Principal, require_role
from core.db import Cursor, Database, from_db_time, to_db_time, utcnow
from core.private_files import write_private

GENESIS_HASH = "0" * 64
CHECKPOINT_FORMAT = "clinic-audit-head/1"
CHECKPOINT_NAME = "audit-head.json"
KEY_INFO = "audit-chain"  # HKDF label of the chain key (core.crypto.derive_key)
# pg_advisory_xact_lock key of the chain's appends on PostgreSQL ("clinicau" as an int64).
_APPEND_LOCK = 0x636C696E69636175

log = logging.getLogger(__name__)

_COLUMNS = (
    "seq, recorded_at, actor_id, actor_role, action, object_type, object_id, detail_json, prev_hash, hash"
)


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


@dataclass(frozen=True)
class ChainHead:
    """Where the chain ends (seq 0 = empty) and from which row on it is keyed."""

    seq: int
    mac: str
    keyed_from: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "mac": self.mac, "keyed_from": self.keyed_from}

    @classmethod
    def from_json(cls, value: Any) -> ChainHead:
        if not isinstance(value, dict):
            raise ValueError("not a chain head")
        seq, mac, keyed_from = value.get("seq"), value.get("mac"), value.get("keyed_from", 1)
        if not (isinstance(seq, int) and isinstance(mac, str) and isinstance(keyed_from, int)):
            raise ValueError("malformed chain head")
        return cls(seq, mac, keyed_from)


def _canonical(
    seq: int,
    at: datetime,
    actor_id: str | None,
    actor_role: str | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    detail_json: str,
    prev_hash: str,
) -> bytes:
    return json.dumps(
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
    ).encode("ascii")


def row_hash(*fields: Any) -> str:
    """The unkeyed SHA-256 of chains written before keyed chains (kept to verify their rows)."""
    return hashlib.sha256(_canonical(*fields)).hexdigest()


def row_mac(key: bytes, *fields: Any) -> str:
    """HMAC-SHA256 of one row's fields (same canonical JSON as `row_hash`)."""
    return hmac.new(key, _canonical(*fields), hashlib.sha256).hexdigest()


def checkpoint_path(settings: Any) -> Path:  # settings: core.config.Settings
    """The chain-head checkpoint: beside the key file (outside the database, never in backups).

    A key file kept elsewhere may serve several data directories (a restore test, a second
    clinic): each then gets its own checkpoint, named after its data directory.
    """
    key_dir = Path(settings.key_file).resolve().parent
    data_dir = Path(settings.data_dir).resolve()
    if key_dir == data_dir:
        return key_dir / CHECKPOINT_NAME
    tag = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return key_dir / f"audit-head-{tag}.json"


def seal_json(key: bytes, payload: dict[str, Any]) -> str:
    """HMAC of a JSON document (without its "seal" field), e.g. a checkpoint or backup manifest."""
    body = {k: v for k, v in payload.items() if k != "seal"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def write_checkpoint(path: Path, key: bytes, head: ChainHead, *, durable: bool = False) -> None:
    document: dict[str, Any] = {"format": CHECKPOINT_FORMAT, **head.to_json()}
    document["seal"] = seal_json(key, document)
    write_private(path, json.dumps(document).encode(), durable=durable)


class CheckpointError(Exception):
    """The checkpoint file is missing, unreadable or altered."""


def read_checkpoint(path: Path, key: bytes) -> ChainHead | None:
    """The head recorded in `path`; None when there is no file; CheckpointError when altered."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise CheckpointError(f"the audit checkpoint {path} cannot be read: {error}") from error
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"the audit checkpoint {path} has an unknown format")
    if not hmac.compare_digest(str(document.get("seal", "")), seal_json(key, document)):
        raise CheckpointError(f"the audit checkpoint {path} was altered")
    try:
        return ChainHead.from_json(document)
    except ValueError as error:
        raise CheckpointError(f"the audit checkpoint {path} is malformed") from error


def verify_rows(rows: list[tuple], key: bytes, anchor: ChainHead | None) -> AuditVerification:
    """Check a chain (rows in seq order, `_COLUMNS`) against its key and its external head.

    Rows before `anchor.keyed_from` are an old unkeyed chain, checked with SHA-256. Rows after
    the anchor's seq are accepted when keyed and linked: a crash may come between a commit and
    the checkpoint's update, and nobody without the key can make such rows.
    """
    keyed_from = anchor.keyed_from if anchor else 1
    expected_prev = GENESIS_HASH
    for index, row in enumerate(rows):
        seq, at, actor_id, actor_role, action, object_type, object_id, detail_json, prev_hash, stored = row
        if seq != index + 1:
            return AuditVerification(
                False, index, seq, f"sequence gap: expected row {index + 1}, found {seq}"
            )
        if prev_hash != expected_prev:
            return AuditVerification(
                False, index, seq, "previous-hash link broken (row deleted or reordered)"
            )
        fields = (seq, at, actor_id, actor_role, action, object_type, object_id, detail_json, prev_hash)
        computed = row_hash(*fields) if seq < keyed_from else row_mac(key, *fields)
        if not hmac.compare_digest(computed, stored):
            return AuditVerification(
                False, index, seq, "row content does not match its hash (edited or forged)"
            )
        expected_prev = stored
    if anchor is None:
        first = 1 if rows else None
        return AuditVerification(
            False, len(rows), first, "no checkpoint of the chain's head outside the database"
        )
    if anchor.seq > len(rows):
        return AuditVerification(
            False,
            len(rows),
            len(rows) + 1,
            f"the log ends at row {len(rows)} but its checkpoint records row {anchor.seq}"
            " (newest rows deleted)",
        )
    if anchor.seq > 0 and not hmac.compare_digest(rows[anchor.seq - 1][9], anchor.mac):
        return AuditVerification(
            False, len(rows), anchor.seq, f"row {anchor.seq} differs from the checkpoint (chain rewritten)"
        )
    return AuditVerification(True, len(rows), None, None)


@dataclass
class _Pending:
    """Rows appended inside one open transaction: the head they lead to if it commits."""

    head: ChainHead


class AuditLog:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime] = utcnow,
        *,
        key: bytes,
        checkpoint: Path,
    ) -> None:
        self._db = db
        self._clock = clock
        self._key = key
        self._checkpoint = Path(checkpoint)
        # Re-entrant: a thread holding it for an open transaction may append again.
        self._lock = threading.RLock()
        self._cursor: Cursor | None = None
        self._head = ChainHead(0, GENESIS_HASH)
        # False while the database does not reach the checkpoint's head (rows deleted or
        # rewritten while the portal was stopped): the checkpoint is then kept as evidence.
        self._anchored = True
        # (actor, action, object) already recorded by `record_once` in this process.
        self._once: set[tuple[str | None, str, str | None, str | None]] = set()
        self._open_chain()

    @classmethod
    def for_settings(
        cls, db: Database, settings: Any, master_key: bytes, clock: Callable[[], datetime] = utcnow
    ) -> AuditLog:
        """The clinic's log: key derived from the master key, checkpoint beside the key file."""
        from core.crypto import derive_key

        return cls(db, clock, key=derive_key(master_key, KEY_INFO), checkpoint=checkpoint_path(settings))

    @property
    def head(self) -> ChainHead:
        return self._head

    @property
    def checkpoint_file(self) -> Path:
        return self._checkpoint

    # -- appending -----------------------------------------------------------------------------
    def record(
        self,
        actor: Principal | None,
        action: str,
        target_type: str | None = None,
        target_id: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        tx: Cursor | None = None,
    ) -> int:
        """Append one entry (who, role, action, object, time, details); returns its seq.

        With `tx` (the cursor of this thread's open `db.transaction()`) the row is part of that
        transaction: it exists exactly when the change it describes does. Keep patient data
        (names, free text) out of `details`: ids and codes only.
        """
        detail_json = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)
        actor_id = actor.user_id if actor else None
        actor_role = actor.role if actor else None
        # Microsecond precision is what the TIMESTAMP column keeps, so hash exactly that.
        at = to_db_time(self._clock())
        fields = (at, actor_id, actor_role, action, target_type, target_id, detail_json)
        state = self._db.open_transaction()
        if tx is not None and (state is None or state.cursor is not tx):
            raise ValueError("tx must be the cursor of this thread's open db.transaction()")
        if tx is None and (state is None or self not in state.data):
            return self._append_alone(fields)
        assert state is not None
        pending = state.data.get(self)
        if pending is None:
            # Held until the transaction ends: no other row can take this seq meanwhile.
            self._lock.acquire()
            try:
                pending = _Pending(self._locked_head(state.cursor))
            except BaseException:
                self._lock.release()
                raise
            state.data[self] = pending
            state.on_end.append(lambda committed, p=pending: self._end_transaction(p, committed))
        assert isinstance(pending, _Pending)
        pending.head = self._insert(state.cursor, pending.head, fields)
        return pending.head.seq

    def record_once(
        self,
        actor: Principal | None,
        action: str,
        target_type: str | None = None,
        target_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int | None:
        """`record`, but only the first time this actor does this action on this object in this
        process (returns None after that). For status polls that return no patient data (the
        assessment card asks every 2 s): the log shows who watched which case, without a row
        per poll. Reads that return patient data use `record`, every time."""
        key = (actor.user_id if actor else None, action, target_type, target_id)
        with self._lock:
            if key in self._once:
                return None
            if len(self._once) >= 100_000:  # bounded: a long-running portal starts over
                self._once.clear()
            self._once.add(key)
        return self.record(actor, action, target_type, target_id, details)

    def _locked_head(self, cursor: Cursor) -> ChainHead:
        """The head a transaction appends after (this process's lock held). On PostgreSQL the
        advisory lock is taken in the caller's transaction and the head is read as committed, on
        a connection of its own (the transaction's snapshot may predate another server's append)."""
        if not self._shared:
            return self._head
        cursor.execute("SELECT pg_advisory_xact_lock(?)", [_APPEND_LOCK])
        return self._committed_head(self._db.dedicated_cursor())

    def _committed_head(self, cursor: Cursor) -> ChainHead:
        last = cursor.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, mac = last or (0, GENESIS_HASH)
        if seq < self._head.seq:
            # Rows this process committed are gone (deleted): link to the last one it wrote, so
            # the cut stays visible to verify instead of being papered over.
            return self._head
        return ChainHead(int(seq), str(mac), self._head.keyed_from)

    @property
    def _shared(self) -> bool:
        return self._db.engine == "postgresql"

    def _append_alone(self, fields: tuple) -> int:
        if self._shared:
            from core.db_postgres import PostgresDatabase

            assert isinstance(self._db, PostgresDatabase)
            with self._lock:
                with self._db.dedicated_transaction() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(?)", [_APPEND_LOCK])
                    head = self._insert(cursor, self._committed_head(cursor), fields)
                self._advance(head)
                return head.seq
        with self._lock:
            # Its own cursor, auto-committed under the lock: an append never joins (and waits
            # on) a caller's open transaction, so two threads can never commit the same seq.
            if self._cursor is None:
                self._cursor = self._db.dedicated_cursor()
            head = self._insert(self._cursor, self._head, fields)
            self._advance(head)
            return head.seq

    def _insert(self, cursor: Cursor, head: ChainHead, fields: tuple) -> ChainHead:
        at, actor_id, actor_role, action, target_type, target_id, detail_json = fields
        seq = head.seq + 1
        mac = row_mac(
            self._key, seq, at, actor_id, actor_role, action, target_type, target_id, detail_json, head.mac
        )
        cursor.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, at, actor_id, actor_role, action, target_type, target_id, detail_json, head.mac, mac],
        )
        return ChainHead(seq, mac, head.keyed_from)

    def _end_transaction(self, pending: _Pending, committed: bool) -> None:
        try:
            if committed:
                self._advance(pending.head)
        finally:
            self._lock.release()

    def _advance(self, head: ChainHead) -> None:
        """The chain now ends at `head` (committed): move the checkpoint with it."""
        self._head = head
        if not self._anchored:
            return
        if self._shared:
            # Several processes may write this file: never move it back behind another's append.
            try:
                current = read_checkpoint(self._checkpoint, self._key)
            except CheckpointError:
                current = None
            if current is not None and current.seq >= head.seq:
                return
        try:
            # No fsync: after a power cut the checkpoint may only lag, which verify accepts.
            write_checkpoint(self._checkpoint, self._key, head)
        except OSError:  # the change is committed; a stale checkpoint shows up in verify
            log.exception("cannot update the audit checkpoint %s", self._checkpoint)

    # -- start-up ------------------------------------------------------------------------------
    def _open_chain(self) -> None:
        """Load the head; anchor a new chain, seal an old unkeyed one, or keep a mismatch."""
        with self._lock:
            cursor = self._db.cursor()
            last = cursor.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            try:
                anchor = read_checkpoint(self._checkpoint, self._key)
            except CheckpointError:
                log.error(
                    "audit checkpoint %s is unreadable; left as it is for audit-verify", self._checkpoint
                )
                self._anchored = False
                anchor = None
                if last:
                    self._head = ChainHead(last[0], last[1], self._find_keyed_from() or 1)
                return
            if anchor is not None:
                # New rows link to what the database really holds (so a cut stays visible).
                last_seq, last_mac = last or (0, GENESIS_HASH)
                self._head = ChainHead(last_seq, last_mac, anchor.keyed_from)
                at_anchor = (
                    cursor.execute("SELECT hash FROM audit_log WHERE seq = ?", [anchor.seq]).fetchone()
                    if anchor.seq
                    else (GENESIS_HASH,)
                )
                if at_anchor is None or not hmac.compare_digest(at_anchor[0], anchor.mac):
                    log.error(
                        "the audit log does not reach its checkpoint (row %s); run audit-verify", anchor.seq
                    )
                    self._anchored = False
                return
            if last is None:  # a new clinic
                self._advance(ChainHead(0, GENESIS_HASH, 1))
                return
            keyed_from = self._find_keyed_from()
            if keyed_from is not None:  # keyed rows, but the checkpoint file was lost
                self._head = ChainHead(last[0], last[1], keyed_from)
                self._append_alone(self._system_fields("audit.checkpoint_recreated", {"head_seq": last[0]}))
                return
            self._seal_legacy_chain(last[0], last[1])

    def _find_keyed_from(self) -> int | None:
        """First seq of the keyed part: 1, the `audit.chain_keyed` row, or None (all unkeyed)."""
        first = self._db.fetchone(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq LIMIT 1")
        if first is not None and hmac.compare_digest(row_mac(self._key, *first[:9]), first[9]):
            return 1
        for row in self._db.fetchall(
            f"SELECT {_COLUMNS} FROM audit_log WHERE action = 'audit.chain_keyed' ORDER BY seq"
        ):
            if hmac.compare_digest(row_mac(self._key, *row[:9]), row[9]):
                return row[0]
        return None

    def _seal_legacy_chain(self, last_seq: int, last_hash: str) -> None:
        """Start the keyed chain after an unkeyed one (written by an earlier version), once."""
        rows = self._db.fetchall(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq")
        legacy = verify_rows(rows, self._key, ChainHead(last_seq, last_hash, keyed_from=last_seq + 1))
        self._head = ChainHead(last_seq, last_hash, keyed_from=last_seq + 1)
        # Recorded, not repaired: a break found here stays visible to audit-verify.
        details = {"unkeyed_rows": last_seq, "unkeyed_head": last_hash, "unkeyed_chain_ok": legacy.ok}
        if not legacy.ok:
            details["unkeyed_first_bad_row"] = legacy.first_bad_row
        self._append_alone(self._system_fields("audit.chain_keyed", details))

    def _system_fields(self, action: str, details: dict[str, Any]) -> tuple:
        detail_json = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
        return (to_db_time(self._clock()), None, "system", action, "audit_log", None, detail_json)

    # -- checking ------------------------------------------------------------------------------
    def verify(self) -> AuditVerification:
        """Walk the whole chain in seq order against the key and the checkpoint outside the
        database; report the first row that does not fit."""
        rows = self._db.fetchall(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq")
        try:
            anchor = read_checkpoint(self._checkpoint, self._key)
        except CheckpointError as error:
            return AuditVerification(False, 0, None, str(error))
        return verify_rows(rows, self._key, anchor)

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
