"""Files only the clinic's own account may read: patient data, exports, backups, the audit head.

The data directory is 0700, but a copy, a mount or a later chmod must not open its contents to
other accounts, so every file the clinic writes is 0600 itself.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def restrict_new_files() -> None:
    """Take group/other bits off the process umask, so files created by libraries (DuckDB's
    database and WAL, which it deletes and re-creates) are 0600 and directories 0700."""
    current = os.umask(0o077)
    os.umask(current | 0o077)


def tighten_tree(directory: Path) -> int:
    """Make `directory` 0700 and everything below it private; returns how many modes changed.

    For a data directory written by an older version (files 0644 under a 0700 directory).
    """
    changed = 0
    if not directory.is_dir():
        return 0
    for root, dirs, files in os.walk(directory):
        paths = [Path(root)] + [Path(root) / name for name in (*dirs, *files)]
        for path in paths:
            with contextlib.suppress(FileNotFoundError):  # a temp file removed meanwhile
                info = path.lstat()
                mode = stat.S_IMODE(info.st_mode)
                if stat.S_ISLNK(info.st_mode) or not mode & 0o077:
                    continue
                path.chmod(PRIVATE_DIR if stat.S_ISDIR(info.st_mode) else mode & 0o700)
                changed += 1
    return changed


def write_private(path: Path, payload: bytes, *, durable: bool = True) -> None:
    """Write `payload` to `path` atomically (temp file, rename) with mode 0600.

    `durable=False` skips the fsyncs, for small files rewritten very often.
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(temp, PRIVATE_FILE)  # whatever the umask was
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
