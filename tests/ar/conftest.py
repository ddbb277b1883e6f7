"""Fixtures for the AR tests: landmarks of the generated face, region masks, real photos."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def face_landmarks(face_photo_bgr: np.ndarray):
    from core.vision.landmarks import detect_landmarks

    face = detect_landmarks(face_photo_bgr)
    assert face is not None, "the generated face fixture must have a detectable face"
    return face


def region_mask(landmarks, shape: tuple[int, ...], names: tuple[str, ...]) -> np.ndarray:
    """Union of region masks (bool) from the vision area's definitions."""
    from core.vision.regions import region_masks, skin_mask

    masks = region_masks(landmarks, shape[:2])
    masks["skin"] = skin_mask(landmarks, shape[:2])
    union = np.zeros(shape[:2], dtype=bool)
    for name in names:
        union |= np.asarray(masks[name]) > 0 if name in masks else False
    return union


def lab(image_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


@pytest.fixture(scope="session")
def real_front_faces(shared_testdata: Path) -> list[tuple[str, np.ndarray]]:
    """A few acceptable clinical front photos (labelled by a person) from ../shared/testdata."""
    with (shared_testdata / "faces_labels.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["clinical_front_ok"] == "yes"]
    photos = []
    for row in rows[:4]:
        image = cv2.imread(str(shared_testdata / row["file"]), cv2.IMREAD_COLOR)
        if image is not None:
            photos.append((row["file"], image))
    if not photos:
        pytest.skip("no clinical front photos in the shared test data")
    return photos


@pytest.fixture(scope="session")
def real_front_cases(real_front_faces: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray, object]]:
    """The real front photos with their landmarks (detected once per session)."""
    from core.vision.landmarks import detect_landmarks

    cases = [(name, image, detect_landmarks(image)) for name, image in real_front_faces]
    cases = [(name, image, landmarks) for name, image, landmarks in cases if landmarks is not None]
    if len(cases) < 2:
        pytest.fail("fewer than two clinical front photos with a detectable face in the shared test data")
    return cases
