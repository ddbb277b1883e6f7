"""Sub-commands of `python -m core`, one module per group (see core/__main__.py)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.clinic import Clinic


class CommandError(Exception):
    """A failure the operator can act on: printed as one line, exit code non-zero."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def open_clinic(*, create: bool = False) -> Clinic:
    """The clinic from the environment's settings; any failure to open is one operator line.

    Only `init` passes `create=True`: every other command pointed at a data directory without a
    clinic database stops (a typo in CLINIC_DATA_DIR must not make a new clinic with a new key
    and then report an empty audit log as intact).
    """
    from core.clinic import Clinic
    from core.config import Settings

    try:
        settings = Settings.from_env()
    except Exception as error:  # noqa: BLE001 - a bad setting is reported as one line
        raise CommandError(f"cannot read the settings: {error}") from error
    # With PostgreSQL (CLINIC_DATABASE_URL) the data directory still holds the key and blobs.
    exists = settings.data_dir.is_dir() if settings.database_url else settings.db_path.is_file()
    if not create and not exists:
        missing = settings.data_dir.name if settings.database_url else settings.db_path.name
        raise CommandError(
            f"no clinic in {settings.data_dir} (no {missing}); check CLINIC_DATA_DIR,"
            " or run `python -m core init` to create a new clinic"
        )
    try:
        return Clinic.open(settings)
    except Exception as error:  # noqa: BLE001 - any failure to open is reported as one line
        raise CommandError(f"cannot open the clinic: {error}") from error


def quiet_native_logs() -> None:
    """Silence MediaPipe (glog/absl), TensorFlow Lite and OpenCV chatter on the operator's
    terminal: set before those libraries load (the CLI calls this first); warnings that matter
    reach the operator as the command's own messages."""
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging: errors only
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)


# What MediaPipe, TensorFlow Lite and OpenCV print on every model load, whatever the settings
# above (absl logs before its InitializeLog go straight to the process's stderr).
_NATIVE_NOISE = re.compile(
    r"^(?:[WI]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|INFO: Created TensorFlow Lite"
    r"|\[ WARN:\S* *global )"
)


@contextlib.contextmanager
def filtered_native_stderr() -> Iterator[None]:
    """Run a command with the libraries' routine chatter kept off the operator's terminal: the
    process's stderr (file descriptor 2, where C++ code writes) goes to a temporary file, and
    every line that is not known noise is passed on afterwards, errors included."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if not _NATIVE_NOISE.match(line):
                    print(line, file=sys.stderr)
