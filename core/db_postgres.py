"""PostgreSQL 15 for a clinic group: the `Database` interface over a psycopg_pool ConnectionPool.

Several app servers share one database. Services keep writing `?` placeholders (translated once
per statement text to psycopg's `%s`, with literal `%` doubled; `?` inside quotes is left alone).

Connections: a `transaction()` borrows one pooled connection for its whole length, on the thread
that opened it (`BEGIN ISOLATION LEVEL REPEATABLE READ`: the snapshot isolation services already
get from DuckDB; a concurrent update of the same row raises `TransactionConflict`). A statement
outside a transaction borrows a connection for that statement only (autocommit) and buffers its
rows, so an idle Streamlit thread never holds a connection. Migrations run under an advisory lock,
so servers starting together apply each one once.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString, cast

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from core import crypto
from core.db import MIGRATIONS_DIR, Cursor, Database, DatabaseError, TransactionConflict, to_db_time, utcnow
from core.db_sealing import Sealer, date_columns

# pg_advisory_lock key of the migration runner ("clinicmg" as an int64).
_MIGRATION_LOCK = 0x636C696E69636D67
_IDENTITY_INFO = "postgres-identity"  # derives the key whose fingerprint migration 006 keeps
_CONFLICTS = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


@functools.lru_cache(maxsize=4096)
def translate_placeholders(sql: str) -> str:
    """`?` -> `%s` and `%` -> `%%` outside quoted strings, identifiers and comments.

    Inside quotes `%` is doubled too (psycopg reads every `%` of a query with parameters).
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == char:
                    if end + 1 < n and sql[end + 1] == char:  # '' or "" escapes the quote
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        else:
            out.append("%s" if char == "?" else "%%" if char == "%" else char)
            i += 1
    return "".join(out)


class PgCursor:
    """A cursor with DuckDB's calling style (`execute` returns the cursor) and buffered rows."""

    def __init__(
        self, db: PostgresDatabase, *, dedicated: bool = False, connection: psycopg.Connection | None = None
    ) -> None:
        self._db = db
        self._dedicated = dedicated  # never joins the thread's open transaction
        self._connection = connection  # bound to this connection (`dedicated_transaction`)
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self.description: list[tuple[Any, ...]] | None = None
        self.rowcount = -1

    def execute(self, query: str, parameters: Any = None) -> PgCursor:
        sql = translate_placeholders(query)
        values = list(parameters or [])
        sealer = self._db._sealer
        if sealer is not None:
            values = sealer.seal_parameters(query, values)
        connection = self._bound_connection()
        try:
            if connection is not None:
                self._run(connection, sql, values)
            else:
                with self._db._borrow() as borrowed:
                    self._run(borrowed, sql, values)
        except _CONFLICTS as error:
            raise TransactionConflict(str(error)) from error
        return self

    def executemany(self, query: str, parameters: Any = None) -> PgCursor:
        """One statement over many parameter rows (in the open transaction, if any)."""
        sql = cast(LiteralString, translate_placeholders(query))
        rows = [list(row) for row in parameters or []]
        sealer = self._db._sealer
        if sealer is not None:
            rows = [sealer.seal_parameters(query, row) for row in rows]
        connection = self._bound_connection()
        try:
            with contextlib.ExitStack() as stack:
                if connection is None:
                    connection = stack.enter_context(self._db._borrow())
                with connection.cursor() as cursor:
                    cursor.executemany(sql, rows)
                    self.rowcount = cursor.rowcount
        except _CONFLICTS as error:
            raise TransactionConflict(str(error)) from error
        self.description, self._rows, self._next = None, [], 0
        return self

    def _bound_connection(self) -> psycopg.Connection | None:
        if self._connection is not None:
            return self._connection
        return None if self._dedicated else self._db._thread_connection()

    def _run(self, connection: psycopg.Connection, sql: str, values: list[Any]) -> None:
        with connection.cursor() as cursor:
            # The services' own statement texts (values always travel as parameters).
            cursor.execute(cast(LiteralString, sql), values)
            if cursor.description is None:
                self.description = None
                self._rows = []
            else:
                self.description = [(column.name, column.type_code) for column in cursor.description]
                rows = cursor.fetchall()
                sealer = self._db._sealer
                self._rows = rows if sealer is None else [sealer.open_row(row) for row in rows]
            self._next = 0
            self.rowcount = cursor.rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows


class PostgresDatabase(Database):
    """The clinic's data in PostgreSQL (CLINIC_DATABASE_URL); the same interface as DuckDB's."""

    engine = "postgresql"
    seals_columns = True
    _engine_errors = (psycopg.Error,)

    def __init__(self, url: str, *, pool_size: int = 10) -> None:  # noqa: D107 - no DuckDB file
        self.path = Path("postgresql")  # there is no database file; backups use pg_dump
        self.url = url
        self._sealer: Sealer | None = None  # set by bind_master_key (core.db_sealing)
        self._lock = threading.RLock()
        self._local = threading.local()
        try:
            self._pool: ConnectionPool | None = ConnectionPool(
                url,
                min_size=1,
                max_size=max(2, pool_size),  # migrate() holds one while it borrows another
                kwargs={"autocommit": True},
                open=True,
                name="clinic",
            )
            self._pool.wait(timeout=30)
        except (psycopg.Error, Exception) as error:
            raise DatabaseError(f"cannot connect to PostgreSQL: {_without_password(str(error))}") from error

    # -- connections ---------------------------------------------------------------------------
    def _open_pool(self) -> ConnectionPool:
        if self._pool is None:
            raise DatabaseError("the database is closed")
        return self._pool

    def _borrow(self) -> Any:
        return self._open_pool().connection(timeout=30)

    def _thread_connection(self) -> psycopg.Connection | None:
        return getattr(self._local, "connection", None)

    def cursor(self) -> Cursor:
        """This thread's cursor (it joins this thread's open transaction, as DuckDB's does)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            self._open_pool()
            cursor = self._local.cursor = PgCursor(self)
        return cursor

    def dedicated_cursor(self) -> Cursor:
        return PgCursor(self, dedicated=True)

    @contextlib.contextmanager
    def dedicated_transaction(self) -> Iterator[Cursor]:
        """A READ COMMITTED transaction on a pooled connection of its own, apart from this
        thread's open `transaction()` (the audit log's appends that are not part of a change:
        each statement sees every commit, so the chain's head read under its lock is current)."""
        try:
            with self._borrow() as connection, connection.transaction():
                yield PgCursor(self, connection=connection)
        except _CONFLICTS as error:
            raise TransactionConflict(str(error)) from error

    def _begin_transaction(self) -> Cursor:
        if self._thread_connection() is not None:
            raise DatabaseError("a transaction is already open on this thread")
        connection = self._open_pool().getconn(timeout=30)
        self._local.connection = connection
        cursor = PgCursor(self)
        try:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        except BaseException:
            self._end_transaction()
            raise
        return cursor

    def _end_transaction(self) -> None:
        connection = self._thread_connection()
        self._local.connection = None
        if connection is not None and self._pool is not None:
            self._pool.putconn(connection)  # the pool rolls back anything left open

    def checkpoint(self) -> None:
        """Write every dirty page out now (tests scan the data directory afterwards)."""
        self.dedicated_cursor().execute("CHECKPOINT")

    def close(self) -> None:
        with self._lock:
            if self._pool is None:
                return
            self._pool.close()
            self._pool = None
            self._local = threading.local()

    @property
    def closed(self) -> bool:
        return self._pool is None

    def bind_master_key(self, env_value: str | None, key_file: Path) -> bytes:
        """The master key of this clinic's data (migration 006): made only for a new database.

        A key whose fingerprint differs from the one recorded at the first open is refused, so
        an app server with another key never writes data the others cannot read.
        """
        cursor = self.dedicated_cursor()
        row = cursor.execute("SELECT key_id FROM clinic_identity WHERE id = 1").fetchone()
        master_key = crypto.load_or_create_master_key(env_value, key_file, create=row is None)
        fingerprint = crypto.key_id(crypto.derive_key(master_key, _IDENTITY_INFO))
        if row is None:
            cursor.execute(
                "INSERT INTO clinic_identity (id, key_id, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
                [fingerprint, to_db_time(utcnow())],
            )
            row = cursor.execute("SELECT key_id FROM clinic_identity WHERE id = 1").fetchone()
        if row is None or row[0] != fingerprint:
            raise DatabaseError(
                "the master key does not match this clinic's PostgreSQL database"
                " (every app server needs the same CLINIC_MASTER_KEY)"
            )
        self._sealer = Sealer(master_key)
        return master_key

    # -- migrations ----------------------------------------------------------------------------
    def migrate(self, directory: Path = MIGRATIONS_DIR) -> list[str]:
        """`Database.migrate` under a session advisory lock: servers starting together wait."""
        with self._open_pool().connection(timeout=60) as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
            try:
                applied = super().migrate(directory)
                # Sealed dates are text here (core.db_sealing); the migrations stay portable.
                for table, column in date_columns():
                    kind = self.scalar(
                        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()"
                        " AND table_name = ? AND column_name = ? AND data_type = 'date'",
                        [table, column],
                    )
                    if kind:
                        self.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE TEXT')
                return applied
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])


def _without_password(text: str) -> str:
    """Error text safe for logs: psycopg may echo the connection string."""
    import re

    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", re.sub(r"password=\S+", "password=***", text))
