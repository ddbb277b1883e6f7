"""Where the project's files live; every path can be moved by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The clinic's data directory (database, blob store, key file): `CLINIC_DATA_DIR` or ./data."""
    return Path(os.environ.get("CLINIC_DATA_DIR", REPO_ROOT / "data")).resolve()


def model_dir() -> Path:
    """Model files prepared by `make setup`: `CLINIC_MODEL_DIR` or <repo>/data/models.

    Kept apart from `data_dir()` so a test or a second clinic with its own data directory
    still finds the models prepared once for the checkout.
    """
    return Path(os.environ.get("CLINIC_MODEL_DIR", REPO_ROOT / "data" / "models")).resolve()


def shared_testdata_dir() -> Path:
    """Real photos for tests and benchmarks (never copied into the repo)."""
    return Path(os.environ.get("CLINIC_SHARED_TESTDATA", REPO_ROOT.parent / "shared" / "testdata")).resolve()
