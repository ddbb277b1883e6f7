"""The PostgreSQL side of backups (`core.backup`): a clinic group's database in an archive.

`pg_dump --format=custom` reads one snapshot exported by a REPEATABLE READ transaction of ours
(`pg_export_snapshot`), so the audit head, row count and migrations the manifest records are
those of the dump exactly, and the portals keep running (no pause, nothing locked but DDL). The
dump is sealed as it streams out of pg_dump (`core.crypto.encrypt_stream`, a key derived from the
master key): it never lies on disk or in memory in the clear, however large.

A restore streams the sealed dump through `decrypt_stream` into `pg_restore --single-transaction`
(a chunk reaches pg_restore only once it authenticated; a failure anywhere rolls back all of it).
The restore check makes a scratch database on the same cluster (`clinic_restore_check_<time>`,
the clinic's role needs CREATEDB) and drops it again.

Tools: pg_dump and pg_restore from PATH, else Debian's /usr/lib/postgresql/<version>/bin (the
newest), as tests/postgres_server.py finds initdb; a client older than the server refuses.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core import crypto
from core.backup_errors import BackupError

DUMP_MEMBER = "clinic.pgdump.sealed"
DUMP_KEY_INFO = "pg-dump"  # HKDF label of the dump's sealing key
SCRATCH_PREFIX = "clinic_restore_check_"


def find_tool(name: str) -> Path:
    """pg_dump / pg_restore: PATH first, then Debian's versioned directories, newest first."""
    found = shutil.which(name)
    if found:
        return Path(found)
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / name).is_file():
            return candidate / name
    raise BackupError(
        f"{name} not found: install PostgreSQL's client tools (apt-get install postgresql-client-15)"
    )


def _client(url: str) -> tuple[str, dict[str, str]]:
    """The connection string without its password (process arguments are visible to every
    user of the server) and an environment that carries it instead."""
    params = {key: str(value) for key, value in conninfo_to_dict(url).items() if value is not None}
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


def with_database(url: str, name: str) -> str:
    """The same server, user and options, another database."""
    return make_conninfo(url, dbname=name)


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0)
    lines = handle.read().decode(errors="replace").strip().splitlines()
    return " / ".join(lines[-3:]) or "no message"


@dataclass(frozen=True)
class DumpSnapshot:
    """What the manifest records of the dumped snapshot."""

    audit_rows: int
    head: tuple[int, str] | None  # (seq, mac) of the newest audit row
    migrations: list[str]
    sealed_bytes: int


def dump_sealed(url: str, target: Path, key: bytes) -> DumpSnapshot:
    """pg_dump of one consistent snapshot, sealed with `key` into `target` as it streams."""
    pg_dump = find_tool("pg_dump")
    conninfo, env = _client(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot_id = _one(connection, "SELECT pg_export_snapshot()")
        audit_rows = int(_one(connection, "SELECT count(*) FROM audit_log"))
        head = connection.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        migrations = [
            str(row[0])
            for row in connection.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        ]
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                [str(pg_dump), "--format=custom", f"--snapshot={snapshot_id}", f"--dbname={conninfo}"],
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
            )
            assert process.stdout is not None
            try:
                with open(target, "xb") as out:
                    crypto.encrypt_stream(key, process.stdout, out)
                    out.flush()
                    os.fsync(out.fileno())
            finally:
                process.stdout.close()
                code = process.wait()
            if code != 0:
                raise BackupError(f"pg_dump exited {code}: {_tail(errors)}")
        connection.execute("COMMIT")  # the snapshot stays valid until pg_dump is done
    return DumpSnapshot(
        audit_rows, (int(head[0]), str(head[1])) if head else None, migrations, target.stat().st_size
    )


def restore_sealed(url: str, dump: Path, key: bytes, *, clean: bool) -> None:
    """Open the sealed dump into pg_restore, in one transaction; `clean` replaces the objects
    the database holds (`--clean --if-exists`)."""
    pg_restore = find_tool("pg_restore")
    conninfo, env = _client(url)
    command = [
        str(pg_restore), "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
        f"--dbname={conninfo}", *(["--clean", "--if-exists"] if clean else []),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
        )
        assert process.stdin is not None
        try:
            with open(dump, "rb") as source:
                crypto.decrypt_stream(key, source, process.stdin)
            process.stdin.close()
        except crypto.DecryptionError as error:
            process.kill()  # before it sees the end of its input: nothing is committed
            process.wait()
            raise BackupError(f"the archived database dump does not decrypt: {error}") from error
        except BrokenPipeError:
            pass  # pg_restore stopped early; its exit code and message say why
        code = process.wait()
        if code != 0:
            raise BackupError(f"pg_restore exited {code}: {_tail(errors)}")


@contextlib.contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    from core.db_postgres import _without_password

    try:
        with psycopg.connect(url, autocommit=True) as connection:
            yield connection
    except psycopg.OperationalError as error:
        raise BackupError(f"cannot connect to PostgreSQL: {_without_password(str(error))}") from error


def holds_clinic_data(url: str) -> bool:
    """Whether the database has any table in its schema (a migrated clinic, or anything else)."""
    with _connect(url) as connection:
        return bool(
            _one(
                connection,
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_catalog = current_database()",
            )
        )


def other_sessions(url: str) -> int:
    """Connections to this database besides ours (running portals, workers)."""
    with _connect(url) as connection:
        return int(
            _one(
                connection,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
        )


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new, empty database beside the clinic's (the restore check), dropped at the end."""
    name = f"{SCRATCH_PREFIX}{datetime.now(UTC):%Y%m%dt%H%M%S}_{os.getpid()}"
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege as error:
        raise BackupError(
            "the restore check needs a scratch database: grant the clinic's PostgreSQL role CREATEDB"
            " (docs/DEPLOY.md, A clinic group)"
        ) from error
    except psycopg.Error as error:
        raise BackupError(f"cannot create the scratch database {name}: {error}") from error
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _one(connection: psycopg.Connection[Any], query: str) -> Any:
    row = connection.execute(query).fetchone()  # type: ignore[arg-type]  # our own fixed statements
    assert row is not None
    return row[0]
