"""Sub-commands of `python -m core`, one module per group (see core/__main__.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.clinic import Clinic


class CommandError(Exception):
    """A failure the operator can act on: printed as one line, exit code non-zero."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def open_clinic() -> Clinic:
    """The clinic from the environment's settings; any failure to open is one operator line."""
    from core.clinic import Clinic
    from core.config import Settings

    try:
        return Clinic.open(Settings.from_env())
    except Exception as error:  # noqa: BLE001 - any failure to open is reported as one line
        raise CommandError(f"cannot open the clinic: {error}") from error
