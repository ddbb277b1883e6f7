"""The encrypted DuckDB database: one process-wide connection per file, one cursor per thread.

DuckDB encrypts the database file (and its WAL) with AES-GCM when it is attached with an
ENCRYPTION_KEY; writing encrypted files needs the httpfs extension loaded, which we load from
the `duckdb_extension_httpfs` wheel (never downloaded at run time). The key is derived from the
master key (HKDF, info "duckdb"), so without the master key the file does not open.

A DuckDB connection is not thread-safe: `Database.cursor()` hands each thread its own cursor
(a duplicate connection to the same database) and each cursor runs `USE clinic` first.
Migrations `core/migrations/NNN_name.sql` are applied once each, in numeric order.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import duckdb

from core import crypto

CATALOG = "clinic"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[A-Za-z0-9_]+\.sql$")


class DatabaseError(Exception):
    """The database cannot be opened (wrong key, missing extension, corrupt file)."""


def httpfs_extension_path() -> Path:
    """The httpfs extension shipped inside the `duckdb-extension-httpfs` wheel."""
    spec = importlib.util.find_spec("duckdb_extension_httpfs")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError("duckdb-extension-httpfs is not installed (pip install -r requirements.txt)")
    version = duckdb.__version__
    for location in spec.submodule_search_locations:
        candidates = sorted(Path(location).glob("extensions/*/httpfs.duckdb_extension"))
        exact = [c for c in candidates if c.parent.name == f"v{version}"]
        if exact or candidates:
            return (exact or candidates)[-1]
    raise DatabaseError("httpfs.duckdb_extension not found inside duckdb_extension_httpfs")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db_time(value: datetime) -> datetime:
    """Timestamps are stored as naive UTC TIMESTAMP (portable; no pytz needed to read them)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


@overload
def from_db_time(value: datetime) -> datetime: ...
@overload
def from_db_time(value: None) -> None: ...
def from_db_time(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def scalar(cursor: duckdb.DuckDBPyConnection, sql: str, parameters: list | tuple | None = None) -> Any:
    """The one value of a query that always returns exactly one row (`SELECT count(*) ...`)."""
    row = cursor.execute(sql, parameters or []).fetchone()
    if row is None:
        raise DatabaseError(f"no row from a single-row query: {sql}")
    return row[0]


def list_migrations(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, Path]]:
    """(number, name, path) of each migration file, in numeric order; duplicates are refused."""
    found: dict[int, tuple[int, str, Path]] = {}
    for path in directory.glob("*.sql"):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in found:
            raise DatabaseError(
                f"two migrations share number {number:03d}: {found[number][2].name}, {path.name}"
            )
        found[number] = (number, path.stem, path)
    return [found[n] for n in sorted(found)]


@dataclass
class OpenTransaction:
    """This thread's open `Database.transaction()`: its cursor and what runs when it ends.

    `on_end` hooks get whether it committed; they run after COMMIT or ROLLBACK, also when the
    commit itself fails (the audit log releases its lock and moves its head only then).
    """

    cursor: duckdb.DuckDBPyConnection
    on_end: list[Callable[[bool], None]] = field(default_factory=list)
    data: dict[object, object] = field(default_factory=dict)  # per-owner state (e.g. pending audit rows)


class Database:
    """An encrypted DuckDB file attached as catalog `clinic`."""

    def __init__(self, path: Path, key: bytes, temp_dir: Path | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._local = threading.local()
        # Weak: Streamlit runs every script rerun in a fresh thread, and a dead thread's cursor
        # must be freed with its thread-local storage rather than kept alive here.
        self._cursors: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
        self._dedicated: list[duckdb.DuckDBPyConnection] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = duckdb.connect(
                ":memory:",
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
            connection.execute(f"LOAD '{_sql_literal(str(httpfs_extension_path()))}'")
            temp = temp_dir or self.path.parent / ".duckdb-tmp"
            connection.execute(f"SET temp_directory = '{_sql_literal(str(temp))}'")
            connection.execute("SET temp_file_encryption = true")  # spilled pages hold patient data too
            # The portal's queries are small point lookups from many sessions at once: one DuckDB
            # thread per query keeps their p95 steady (parallel scans only added scheduling
            # jitter in benchmarks/bench_archive_timeline.py). CLINIC_DUCKDB_THREADS=0 = DuckDB default.
            threads = int(os.environ.get("CLINIC_DUCKDB_THREADS", "1"))
            if threads > 0:
                connection.execute(f"SET threads = {threads}")
            connection.execute(
                f"ATTACH '{_sql_literal(str(self.path))}' AS {CATALOG} (ENCRYPTION_KEY '{key.hex()}')"
            )
            connection.execute(f"USE {CATALOG}")
        except duckdb.Error as error:
            hint = ""
            if "already attached" in str(error):
                hint = " (already open in this process: share one Clinic, see core.clinic.shared_clinic)"
            elif "lock" in str(error).lower():
                hint = " (another process has it open: stop the portal first)"
            raise DatabaseError(f"cannot open the clinic database {self.path}: {error}{hint}") from error
        self._connection: duckdb.DuckDBPyConnection | None = connection

    @classmethod
    def open_with_master_key(cls, path: Path, master_key: bytes) -> Database:
        return cls(path, crypto.derive_key(master_key, "duckdb"))

    # -- connections ---------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (created on first use)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._lock:
                if self._connection is None:
                    raise DatabaseError("the database is closed")
                cursor = self._connection.cursor()
                cursor.execute(f"USE {CATALOG}")
                self._cursors.add(cursor)
            self._local.cursor = cursor
        return cursor

    def dedicated_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own (not this thread's); the caller serialises its use with a lock."""
        with self._lock:
            if self._connection is None:
                raise DatabaseError("the database is closed")
            cursor = self._connection.cursor()
            cursor.execute(f"USE {CATALOG}")
            self._dedicated.append(cursor)
            return cursor

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT on this thread's cursor; ROLLBACK on any exception."""
        cursor = self.cursor()
        cursor.execute("BEGIN TRANSACTION")
        state = OpenTransaction(cursor)
        self._local.open_transaction = state
        committed = False
        try:
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            try:
                cursor.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):  # a failed commit may leave it open
                    cursor.execute("ROLLBACK")
                raise
            committed = True
        finally:
            self._local.open_transaction = None
            for hook in state.on_end:
                hook(committed)

    def open_transaction(self) -> OpenTransaction | None:
        """This thread's open `transaction()`, if any."""
        return getattr(self._local, "open_transaction", None)

    def execute(self, sql: str, parameters: list | tuple | None = None) -> duckdb.DuckDBPyConnection:
        return self.cursor().execute(sql, parameters or [])

    def fetchall(self, sql: str, parameters: list | tuple | None = None) -> list[tuple]:
        return self.cursor().execute(sql, parameters or []).fetchall()

    def fetchone(self, sql: str, parameters: list | tuple | None = None) -> tuple | None:
        return self.cursor().execute(sql, parameters or []).fetchone()

    def scalar(self, sql: str, parameters: list | tuple | None = None) -> Any:
        """The one value of a query that always returns exactly one row (see `scalar`)."""
        return scalar(self.cursor(), sql, parameters)

    def checkpoint(self) -> None:
        """Fold the WAL into the (encrypted) database file, e.g. before a backup copy."""
        self.cursor().execute(f"CHECKPOINT {CATALOG}")

    def close(self) -> None:
        with self._lock:
            if self._connection is None:
                return
            with contextlib.suppress(duckdb.Error):
                self._connection.execute(f"CHECKPOINT {CATALOG}")
            for cursor in [*self._cursors, *self._dedicated]:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self._cursors = weakref.WeakSet()
            self._dedicated.clear()
            self._connection.close()
            self._connection = None
            self._local = threading.local()

    @property
    def closed(self) -> bool:
        return self._connection is None

    # -- migrations ----------------------------------------------------------------------------
    def migrate(self, directory: Path = MIGRATIONS_DIR) -> list[str]:
        """Apply pending migrations in numeric order, each once in its own transaction."""
        with self._lock:
            cursor = self.cursor()
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            done = {row[0] for row in cursor.execute("SELECT version FROM schema_migrations").fetchall()}
            applied: list[str] = []
            for number, name, path in list_migrations(directory):
                if number in done:
                    continue
                with self.transaction() as tx:
                    for statement in _split_sql(path.read_text(encoding="utf-8")):
                        tx.execute(statement)
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        [number, name, to_db_time(utcnow())],
                    )
                applied.append(name)
            return applied

    def applied_migrations(self) -> list[tuple[int, str]]:
        return [
            tuple(r) for r in self.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
        ]


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations keep ';' out of string literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def live_cursor_count(database: Database) -> int:
    """How many per-thread cursors are still alive (tests: dead threads must not leak them)."""
    return len(database._cursors)
