"""Fixtures for the vision tests: landmarks of the astronaut face (computed once per session)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def face_landmarks(face_photo_bgr: np.ndarray):
    from core.vision.landmarks import detect_landmarks

    landmarks = detect_landmarks(face_photo_bgr)
    assert landmarks is not None, "the astronaut fixture must have a detectable face"
    return landmarks
