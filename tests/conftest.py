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


@pytest.fixture(scope="session", autouse=True)
def _apptest_compiles_pages_like_the_server() -> Iterator[None]:
    """AppTest runs compile each page as the portal's server does, and a page that does not compile
    fails its run loudly.

    The server compiles pages from their text, without Streamlit's "magic" (runner.magicEnabled =
    false in .streamlit/config.toml; no page relies on it). With magic, a page is compiled through
    `ast.parse`, and CPython 3.11.7 keeps the AST constructor's recursion counter per interpreter
    (python/cpython#106905, fixed in 3.11.8): a garbage collection during that parse whose
    finalizers format a traceback (3.11's traceback calls `ast.parse`; e.g. an asyncio task an
    earlier test left pending on a closed loop) raises "SystemError: AST constructor recursion
    depth mismatch". AppTest reports a compile error nowhere: such a run came back with no
    elements and no exception. Magic is switched off here too, so the tests do not depend on
    being started from the repository root (where Streamlit finds .streamlit/config.toml).
    """
    from streamlit.runtime.scriptrunner import ScriptRunnerEvent
    from streamlit.testing.v1.app_test import AppTest
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner
    from streamlit.testing.v1.util import patch_config_options

    compile_errors: list[tuple[str, BaseException | None]] = []
    runner_run = LocalScriptRunner.run
    app_run = AppTest._run

    def run_recording_compile_errors(self: LocalScriptRunner, *args: object, **kwargs: object) -> object:
        try:
            return runner_run(self, *args, **kwargs)
        finally:
            compile_errors.extend(
                (self.script_path, data.get("exception"))
                for event, data in zip(self.events, self.event_data, strict=False)
                if event == ScriptRunnerEvent.SCRIPT_STOPPED_WITH_COMPILE_ERROR
            )

    def run_failing_on_compile_errors(self: AppTest, *args: object, **kwargs: object) -> AppTest:
        compile_errors.clear()
        # The original _run restores the mocked runtime and secrets before this raises.
        result = app_run(self, *args, **kwargs)
        if compile_errors:
            path, error = compile_errors[0]
            raise RuntimeError(f"AppTest: {path} did not compile: {error!r}") from error
        return result

    with pytest.MonkeyPatch.context() as patch, patch_config_options({"runner.magicEnabled": False}):
        patch.setattr(LocalScriptRunner, "run", run_recording_compile_errors)
        patch.setattr(AppTest, "_run", run_failing_on_compile_errors)
        yield
