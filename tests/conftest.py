"""Fixtures shared by every test area.

Each area keeps its own fixtures in `tests/<area>/conftest.py`; only what several areas need
lives here. Real photos come from ../shared/testdata and are never copied into the repo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.paths import shared_testdata_dir

# Keep numeric libraries to one thread each: the machine has two cores and tests run beside
# a browser and a server.
os.environ.setdefault("OMP_NUM_THREADS", "1")


# CLINIC_TEST_ENGINE=postgres runs the same tests with the clinic's data in PostgreSQL (a
# throwaway cluster on loopback, tests/postgres_server.py); unset = the embedded DuckDB file.
TEST_ENGINE = os.environ.get("CLINIC_TEST_ENGINE", "duckdb").strip().lower() or "duckdb"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """One PostgreSQL cluster for the whole session (skips when the binaries are absent)."""
    from tests.postgres_server import start_server

    server = start_server()
    if isinstance(server, str):
        pytest.skip(server)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: object) -> Iterator[str]:
    """A fresh database with the migrated, empty clinic schema, dropped after the test."""
    from tests.postgres_server import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    name, url = postgres_server.fresh_database()
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """A fresh, empty clinic data directory with its own master key for this test.

    Under CLINIC_TEST_ENGINE=postgres the clinic's tables are in a fresh PostgreSQL database
    (CLINIC_DATABASE_URL); the directory still holds the key, blobs and audit checkpoint.
    """
    directory = tmp_path / "clinic-data"
    monkeypatch.setenv("CLINIC_DATA_DIR", str(directory))
    monkeypatch.delenv("CLINIC_MASTER_KEY", raising=False)
    monkeypatch.delenv("CLINIC_KEY_FILE", raising=False)
    if TEST_ENGINE == "postgres" and "duckdb_only" not in request.keywords:
        monkeypatch.setenv("CLINIC_DATABASE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("CLINIC_DATABASE_URL", raising=False)
    return directory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under CLINIC_TEST_ENGINE=postgres, tests of the DuckDB file itself do not apply."""
    if TEST_ENGINE != "postgres":
        return
    skip = pytest.mark.skip(reason="about the embedded DuckDB file (CLINIC_TEST_ENGINE=postgres)")
    for item in items:
        if "duckdb_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """../shared/testdata, or skip with a clear message when this checkout has none."""
    directory = shared_testdata_dir()
    if not (directory / "faces_labels.csv").is_file():
        pytest.skip(f"real test photos not available: {directory} is absent (only the core suite runs)")
    return directory


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """A real, public-domain frontal face shipped inside scikit-image (512x512 RGB)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def face_photo_bgr(astronaut_rgb: np.ndarray) -> np.ndarray:
    """The astronaut as a 1024x1024 BGR photo cropped around the face: a usable front view.

    Upscaled so the inter-pupil distance clears the quality gate's resolution minimum.
    """
    import cv2

    crop = astronaut_rgb[0:300, 90:340]  # head and shoulders
    bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    return cv2.resize(bgr, (820, 984), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(autouse=True)
def _labels_outside_script_runs_start_in_english() -> Iterator[None]:
    """components.i18n answers label calls made outside a script run (only AppTest harnesses make
    them) in the language of the last run; a test that ran a page in French must not leave the
    next test's labels in French."""
    import sys

    def reset() -> None:
        module = sys.modules.get("components.i18n")
        if module is not None:
            module._last_language = module.SOURCE_LANGUAGE  # type: ignore[attr-defined]

    reset()
    yield
    reset()
