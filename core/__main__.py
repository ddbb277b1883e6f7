"""Operator CLI: `python -m core <command>`.

Each module in `core/commands/` defines `register(subparsers)`, adding its sub-commands with
`set_defaults(handler=...)`; a handler takes the parsed arguments and returns an exit code.
Errors the operator can fix are raised as `CommandError` and printed without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from core import commands
from core.commands import CommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Clinic portal operator commands")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"core.commands.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    commands.quiet_native_logs()  # before any command imports MediaPipe or OpenCV
    args = build_parser().parse_args(argv)
    try:
        with commands.filtered_native_stderr():
            return int(args.handler(args) or 0)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
