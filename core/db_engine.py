"""Which engine holds the clinic: the embedded DuckDB file, or PostgreSQL for a clinic group.

Kept apart from `core.db` so that `core.db` (the interface and the DuckDB engine) never imports
the PostgreSQL engine, which imports it.
"""

from __future__ import annotations

from core import crypto
from core.config import Settings
from core.db import Database


def open_clinic_database(settings: Settings) -> tuple[Database, bytes]:
    """The clinic's database and master key: PostgreSQL when `settings.database_url` is set.

    A new master key is made only for a new clinic (no DuckDB file, or an empty PostgreSQL
    database): with existing data a missing key is an operator error, never a reason to make a
    key that opens nothing.
    """
    if settings.database_url:
        from core.db_postgres import PostgresDatabase

        db = PostgresDatabase(settings.database_url, pool_size=settings.database_pool_size)
        try:
            db.migrate()
            master_key = db.bind_master_key(settings.master_key_env, settings.key_file)
        except BaseException:
            db.close()
            raise
        return db, master_key
    master_key = crypto.load_or_create_master_key(
        settings.master_key_env, settings.key_file, create=not settings.db_path.exists()
    )
    return Database.open_with_master_key(settings.db_path, master_key), master_key
