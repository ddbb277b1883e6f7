"""The clinic's database: an encrypted DuckDB file by default, PostgreSQL for a clinic group.

`Database` is the interface every engine implements and, itself, the embedded engine;
`core.db_postgres.PostgresDatabase` is the other one, chosen by `CLINIC_DATABASE_URL`
(`core.db_engine.open_clinic_database`). Services only use `cursor()`, `transaction()`, `execute`/`fetchall`/
`fetchone`/`scalar` with `?` placeholders, and `Cursor`'s `execute`/`fetchone`/`fetchall`/
`description`; a transaction conflict is one of `CONFLICT_ERRORS` on both engines.

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
from typing import TYPE_CHECKING, Any, Protocol, overload

import duckdb

from core import crypto

if TYPE_CHECKING:
    pass

CATALOG = "clinic"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[A-Za-z0-9_]+\.sql$")


class DatabaseError(Exception):
    """The database cannot be opened (wrong key, missing extension, corrupt file)."""


class TransactionConflict(DatabaseError):
    """A concurrent transaction changed the same rows first (PostgreSQL's serialization failure)."""


# What a write racing another one raises, on either engine: callers that may lose a harmless race
# (two reruns touching one session) suppress exactly these.
CONFLICT_ERRORS: tuple[type[Exception], ...] = (duckdb.TransactionException, TransactionConflict)


class Cursor(Protocol):
    """What services use of a cursor: a DuckDB connection, or core.db_postgres.PgCursor."""

    @property
    def description(self) -> Any: ...

    def execute(self, query: str, parameters: Any = ...) -> Cursor: ...
    def executemany(self, query: str, parameters: Any = ...) -> Cursor: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...


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


def scalar(cursor: Cursor, sql: str, parameters: list | tuple | None = None) -> Any:
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

    cursor: Cursor
    on_end: list[Callable[[bool], None]] = field(default_factory=list)
    data: dict[object, object] = field(default_factory=dict)  # per-owner state (e.g. pending audit rows)


class Database:
    """An encrypted DuckDB file attached as catalog `clinic` (and the interface of every engine)."""

    engine = "duckdb"
    # PostgreSQL seals patient columns (core.db_sealing): SQL can match them for equality only.
    seals_columns = False
    # Errors of the engine itself, suppressed where a failed COMMIT leaves nothing to roll back.
    _engine_errors: tuple[type[Exception], ...] = (duckdb.Error,)

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
    def cursor(self) -> Cursor:
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

    def dedicated_cursor(self) -> Cursor:
        """A cursor of its own (not this thread's); the caller serialises its use with a lock."""
        with self._lock:
            if self._connection is None:
                raise DatabaseError("the database is closed")
            cursor = self._connection.cursor()
            cursor.execute(f"USE {CATALOG}")
            self._dedicated.append(cursor)
            return cursor

    def _begin_transaction(self) -> Cursor:
        cursor = self.cursor()
        cursor.execute("BEGIN TRANSACTION")
        return cursor

    def _end_transaction(self) -> None:
        """After COMMIT or ROLLBACK (an engine that lends connections takes it back here)."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """BEGIN … COMMIT on this thread's cursor; ROLLBACK on any exception."""
        cursor = self._begin_transaction()
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
                with contextlib.suppress(*self._engine_errors):  # a failed commit may leave it open
                    cursor.execute("ROLLBACK")
                raise
            committed = True
        finally:
            self._local.open_transaction = None
            self._end_transaction()
            for hook in state.on_end:
                hook(committed)

    def open_transaction(self) -> OpenTransaction | None:
        """This thread's open `transaction()`, if any."""
        return getattr(self._local, "open_transaction", None)

    def execute(self, sql: str, parameters: list | tuple | None = None) -> Cursor:
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
