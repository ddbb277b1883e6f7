"""Sub-commands of `python -m core`, one module per group (see core/__main__.py)."""


class CommandError(Exception):
    """A failure the operator can act on: printed as one line, exit code non-zero."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
