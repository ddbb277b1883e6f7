"""Operator commands: init, create-user, audit-verify, backup, restore, check-backup."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

import duckdb

from core.commands import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    init = subparsers.add_parser("init", help="create the data directory, master key and database")
    init.add_argument("--demo", action="store_true", help="also seed the demo accounts and case")
    init.set_defaults(handler=_init)

    create = subparsers.add_parser("create-user", help="create a physician or admin (password from stdin)")
    create.add_argument("--role", required=True, choices=["physician", "admin"])
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(handler=_create_user)

    verify = subparsers.add_parser("audit-verify", help="check the audit log's hash chain")
    verify.set_defaults(handler=_audit_verify)

    backup = subparsers.add_parser("backup", help="write a consistent archive of the database and blobs")
    backup.add_argument(
        "path", help="archive file, or an existing directory (or DIR/) to write clinic-<time>.tar in"
    )
    backup.add_argument("--force", action="store_true", help="replace an existing archive file")
    backup.set_defaults(handler=_backup)

    restore = subparsers.add_parser("restore", help="restore an archive made by `backup`")
    restore.add_argument("path")
    restore.add_argument("--force", action="store_true", help="replace existing data (kept aside)")
    restore.set_defaults(handler=_restore)

    check = subparsers.add_parser(
        "check-backup",
        help="restore an archive into scratch (a directory; PostgreSQL: a scratch database) and verify its audit log",
    )
    check.add_argument("path")
    check.add_argument(
        "--scratch-dir", required=True, help="an empty directory for the scratch data (removed after)"
    )
    check.set_defaults(handler=_check_backup)


def _open(create: bool = False):
    """Only `init` creates a clinic; see core.commands.open_clinic."""
    from core.commands import open_clinic

    return open_clinic(create=create)


def _init(args: argparse.Namespace) -> int:
    clinic = _open(create=True)
    try:
        print(f"clinic data ready in {clinic.settings.data_dir}")
        if args.demo:
            from core.demo import seed_demo

            seed_demo(clinic)
            _wait_for_background_work(clinic)
    finally:
        clinic.close()
    return 0


def _wait_for_background_work(clinic, timeout: float = 300.0) -> None:
    """Let services with a background queue (e.g. the demo case's pre-assessment) finish first:
    exiting while a worker thread is inside native code aborts the interpreter."""
    for service in list(vars(clinic).values()):
        wait_idle = getattr(service, "wait_idle", None)
        if callable(wait_idle) and not wait_idle(timeout=timeout):
            print(f"warning: {type(service).__name__} still busy after {timeout:.0f} s", file=sys.stderr)


def _create_user(args: argparse.Namespace) -> int:
    from core.access import SYSTEM_PRINCIPAL, ValidationError

    # A terminal gets a hidden prompt; scripts pipe the password on stdin (never an argument).
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    clinic = _open()
    try:
        principal = clinic.auth.create_staff(SYSTEM_PRINCIPAL, args.role, args.email, args.name, password)
    except ValidationError as error:
        raise CommandError(str(error)) from error
    finally:
        clinic.close()
    print(f"created {principal.role} {principal.email}")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    clinic = _open()
    try:
        result = clinic.audit.verify()
    finally:
        clinic.close()
    if result.ok:
        print(f"audit log intact: {result.rows_checked} rows verified")
        return 0
    print(f"audit log BROKEN at row {result.first_bad_row}: {result.reason}", file=sys.stderr)
    return 1


def _backup(args: argparse.Namespace) -> int:
    from core.backup import BackupError, create_backup

    target = _backup_target(args.path, force=args.force)
    clinic = _open()
    try:
        summary = create_backup(clinic, target)
    except (BackupError, OSError) as error:
        raise CommandError(f"backup failed: {error}") from error
    finally:
        clinic.close()
    print(f"backup written to {summary.path} ({summary.blob_count} blobs, {summary.audit_rows} audit rows)")
    return 0


def _backup_target(path: str, *, force: bool) -> Path:
    """Where the archive goes: `DIR/` or an existing directory gets a new timestamped file inside
    (never a file named like the directory); an existing file is replaced only with --force."""
    import os
    from datetime import UTC, datetime

    target = Path(path)
    if path.endswith(("/", os.sep)) or target.is_dir():
        if target.exists() and not target.is_dir():
            raise CommandError(f"{path} is a file, not a directory")
        stamp = f"clinic-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        target = target / f"{stamp}.tar"
        number = 1
        while target.exists():  # two backups within a second: never one over the other
            number += 1
            target = target.with_name(f"{stamp}-{number}.tar")
    if target.is_dir():
        raise CommandError(f"{target} is a directory")
    if target.exists() and not force:
        raise CommandError(f"{target} already exists; choose another name or pass --force to replace it")
    return target


def _restore(args: argparse.Namespace) -> int:
    from core.backup import BackupError, restore_backup
    from core.config import Settings

    try:
        summary = restore_backup(Settings.from_env(), args.path, force=args.force)
    except (BackupError, OSError, ValueError) as error:
        raise CommandError(f"restore failed: {error}") from error
    except duckdb.Error as error:  # a corrupted archived database: one line, no traceback
        raise CommandError(f"restore failed: the archived database cannot be read ({error})") from error
    print(f"restored {summary.path} ({summary.blob_count} blobs, {summary.audit_rows} audit rows)")
    if summary.erasures_reapplied:
        print(f"erased again {len(summary.erasures_reapplied)} patient(s) the erasure ledger lists")
    return 0


def _check_backup(args: argparse.Namespace) -> int:
    from core.backup import BackupError, check_backup
    from core.config import Settings
    from core.db import DatabaseError

    try:
        checked = check_backup(Settings.from_env(), Path(args.path), Path(args.scratch_dir))
    except (BackupError, DatabaseError, OSError, ValueError) as error:
        raise CommandError(f"restore check failed: {error}") from error
    except duckdb.Error as error:
        raise CommandError(f"restore check failed: the archived database cannot be read ({error})") from error
    restored = checked.restored
    print(
        f"restored {restored.path} ({restored.blob_count} blobs, {restored.audit_rows} audit rows) into scratch"
    )
    print(f"audit log intact: {checked.audit_rows_verified} rows verified")
    return 0
