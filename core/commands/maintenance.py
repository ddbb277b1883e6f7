"""Operator command: sweep-orphans (what a killed process left: unowned blobs, temp files)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from core.commands import CommandError, open_clinic


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = subparsers.add_parser(
        "sweep-orphans",
        help="remove blobs no row owns and leftover temp files older than the grace period",
    )
    sweep.add_argument(
        "--grace-minutes",
        type=float,
        default=60.0,
        help="only files older than this (default 60; a submission in progress is never touched)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    sweep.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from core.recovery import sweep_orphans

    if args.grace_minutes < 0:
        raise CommandError("--grace-minutes must be 0 or more")
    clinic = open_clinic()
    try:
        report = sweep_orphans(clinic, grace=timedelta(minutes=args.grace_minutes), dry_run=args.dry_run)
    finally:
        clinic.close()
    verb = "would remove" if report.dry_run else "removed"
    print(
        f"{verb} {len(report.orphan_blobs)} orphan blob(s) and {len(report.temp_files)} temp file(s);"
        f" kept {report.young_orphans} unowned blob(s) younger than {args.grace_minutes:g} min"
    )
    for blob_id in report.orphan_blobs:
        print(f"  blob {blob_id}")
    for path in report.temp_files:
        print(f"  temp {path}")
    return 0
