"""A throwaway PostgreSQL cluster on loopback for the tests (CLINIC_TEST_ENGINE=postgres and the
PostgreSQL-only tests): `initdb` in a temp dir, a free port, `pg_ctl start`, stopped at the end.

The clinic schema is migrated once into a template database; each test gets its own database
copied from it (`CREATE DATABASE … TEMPLATE`, a file copy) and dropped afterwards, so tests stay
isolated without re-running migrations. Durability is off (fsync, full-page writes): test data.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = "clinic_template"
SUPERUSER = "clinic"


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl live (PATH, else Debian's /usr/lib/postgresql/<version>/bin)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path  # temp dir holding the cluster (data/) and its log
    port: int = 0
    _as_user: list[str] = field(default_factory=list)  # runuser prefix when tests run as root
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as_user, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self.port = _free_port()
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data_dir),
            "-l", str(self.root / "postgres.log"), "-o", options,
        )  # fmt: skip
        self.admin(f"CREATE DATABASE {TEMPLATE}")
        from core.db_postgres import PostgresDatabase

        schema = PostgresDatabase(self.url(TEMPLATE), pool_size=2)
        try:
            schema.migrate()
        finally:
            schema.close()

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run(str(self.bin_dir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data_dir))
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]  # our own fixed statements

    def fresh_database(self) -> tuple[str, str]:
        """(name, url) of a new database holding the migrated, empty clinic schema."""
        name = f"clinic_test_{os.getpid()}_{next(self._counter)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return name, self.url(name)

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def restore_check_databases(url: str) -> list[str]:
    """The scratch databases a backup's restore check left on the cluster of `url` (it drops them)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'clinic\\_restore\\_check\\_%'"
        ).fetchall()
    return [row[0] for row in rows]


def start_server() -> PostgresServer | str:
    """A started server, or why none can be started (the tests skip with that reason)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql-15"
    server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="clinic-pg-")))
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
