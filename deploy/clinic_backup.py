"""The nightly backup job: an encrypted backup, a restore check of the newest one, retention.

    python deploy/clinic_backup.py --backup-dir /var/backups/clinic-portal --keep 14
        [--run-as clinic] [--pause-unit clinic-portal.service] [--check-only]

1. `python -m core backup` writes `clinic-<UTC time>.tar` (database and blobs, both encrypted with
   keys derived from the master key; the key itself is never in a backup). DuckDB lets one
   process open the database, so with `--pause-unit` the portal stops for the backup (seconds)
   and starts again at once; without it the portal must not be running. On PostgreSQL
   (CLINIC_DATABASE_URL set) pg_dump reads one snapshot while the app servers run: nothing is
   paused and `--pause-unit` is ignored.
2. `python -m core check-backup` restores the newest archive into scratch (a directory here;
   for PostgreSQL also a scratch database `clinic_restore_check_<time>` on the same cluster,
   which needs CREATEDB), decrypting the database and every blob with the master key, and
   verifies the restored audit chain there. The scratch copy is removed, whatever the outcome.
3. Only when the check passed: archives beyond the newest `--keep` are deleted. A failed backup
   or check deletes nothing and exits non-zero (systemd marks the unit failed).

The clinic's settings come from the environment as for the portal (CLINIC_DATA_DIR,
CLINIC_KEY_FILE or CLINIC_MASTER_KEY, CLINIC_DATABASE_URL). Run as root with `--run-as` (systemd), the clinic
commands run as that user; `--pause-unit` needs root. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ARCHIVE_NAME = re.compile(r"^clinic-\d{8}T\d{6}Z\.tar$")


class JobError(Exception):
    """A step failed; the message says which and why."""


def archives(backup_dir: Path) -> list[Path]:
    """This job's archives, oldest first (the names sort by time); other files are not ours."""
    return sorted(path for path in backup_dir.iterdir() if path.is_file() and ARCHIVE_NAME.match(path.name))


def apply_retention(backup_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives; returns the deleted ones."""
    doomed = archives(backup_dir)[:-keep] if keep > 0 else []
    for path in doomed:
        path.unlink()
    return doomed


class Job:
    def __init__(self, run_as: str | None, python: str = sys.executable) -> None:
        self.python = python
        self.user = pwd.getpwnam(run_as) if run_as else None

    def core(self, *args: str, env: dict[str, str] | None = None) -> str:
        """`python -m core ARGS` (as the service user when given); its output, or JobError."""
        command = [self.python, "-m", "core", *args]
        options: dict[str, object] = {}
        if self.user is not None:
            options = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env if env is not None else dict(os.environ),
            capture_output=True,
            text=True,
            timeout=3600,
            **options,  # type: ignore[arg-type]
        )
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0:
            raise JobError(f"`python -m core {' '.join(args)}` exited {result.returncode}: {output}")
        return output

    def give(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)


def _systemctl(*args: str) -> int:
    return subprocess.run(["systemctl", *args], check=False).returncode


def make_backup(job: Job, backup_dir: Path, pause_unit: str | None) -> Path:
    target = backup_dir / f"clinic-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar"
    if target.exists():
        raise JobError(f"{target} exists already (two backups in one second?)")
    if pause_unit is not None and os.environ.get("CLINIC_DATABASE_URL", "").strip():
        print(f"PostgreSQL: an online snapshot, {pause_unit} keeps running")
        pause_unit = None
    # Only a portal that was running is started again.
    paused = pause_unit is not None and _systemctl("is-active", "--quiet", pause_unit) == 0
    if paused:
        _systemctl("stop", pause_unit)  # type: ignore[arg-type]
    try:
        print(job.core("backup", str(target)))
    finally:
        if paused and _systemctl("start", pause_unit) != 0:  # type: ignore[arg-type]
            print(f"warning: could not start {pause_unit} again", file=sys.stderr)
    return target


def check_archive(job: Job, archive: Path, scratch_parent: Path) -> str:
    """Restore `archive` into scratch and verify the audit chain there (`core check-backup`)."""
    scratch = Path(tempfile.mkdtemp(prefix=".check-", dir=scratch_parent))
    try:
        job.give(scratch)
        return job.core("check-backup", str(archive), "--scratch-dir", str(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    backup_dir: Path = args.backup_dir
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    job = Job(args.run_as)
    try:
        if not args.check_only:
            make_backup(job, backup_dir, args.pause_unit)
        existing = archives(backup_dir)
        if not existing:
            raise JobError(f"no backup archive in {backup_dir} to check")
        newest = existing[-1]
        print(check_archive(job, newest, backup_dir))
        print(f"check passed: {newest}")
    except JobError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in apply_retention(backup_dir, args.keep):
        print(f"removed old backup {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backup-dir", type=Path, required=True)
    parser.add_argument("--keep", type=int, default=14, help="archives to keep (newest first)")
    parser.add_argument("--run-as", help="run the clinic commands as this user (the job runs as root)")
    parser.add_argument("--pause-unit", help="systemd unit to stop during the backup (the portal)")
    parser.add_argument("--check-only", action="store_true", help="no new backup: check the newest")
    args = parser.parse_args(argv)
    if args.keep < 1:
        parser.error("--keep must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
