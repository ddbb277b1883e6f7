"""The one error backups and restores raise, on either engine (core.backup, core.backup_postgres)."""

from __future__ import annotations


class BackupError(Exception):
    """Backup or restore cannot proceed; the message says why in one line."""
