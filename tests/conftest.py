"""Fixtures shared by every test area.

Each area keeps its own fixtures in `tests/<area>/conftest.py`; only what several areas need
lives here. Real photos come from ../shared/testdata and are never copied into the repo.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.paths import shared_testdata_dir

# Keep numeric libraries to one thread each: the machine has two cores and tests run beside
# a browser and a server.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty clinic data directory with its own master key for this test."""
    directory = tmp_path / "clinic-data"
    monkeypatch.setenv("CLINIC_DATA_DIR", str(directory))
    monkeypatch.delenv("CLINIC_MASTER_KEY", raising=False)
    monkeypatch.delenv("CLINIC_KEY_FILE", raising=False)
    return directory


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
