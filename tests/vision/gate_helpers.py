"""Helpers shared by the photo-gate tests: read a labelled photo, find a check by name, a face's scale."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.vision.quality import QualityCheck, QualityResult

PORTRAIT = "faces/frontal_evenlight_03.png"  # the tuning split's evenly lit studio portrait
# The tuning split's correct fronts (the sources of its constructions).
CORRECT = (PORTRAIT, "faces/webcam_selfie_glasses_47.jpg", "faces/small_face_stage_44.jpg")


def read_photo(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def check_named(result: QualityResult, name: str) -> QualityCheck:
    check = result.check(name)
    assert check is not None, (name, [c.name for c in result.checks])
    return check


def pupil_distance(landmarks) -> float:
    """The pupils' distance, or the face height / 2.6 for a turned face (the degradations' scale)."""
    return max(landmarks.interpupil_px(), landmarks.face_height_px() / 2.6)


def photo_with_landmarks(path: Path) -> tuple[np.ndarray, object, float]:
    """A labelled photo, its landmarks and the face's width in pixels (the degradations' inputs)."""
    from core.vision.landmarks import detect_landmarks

    image = read_photo(path)
    landmarks = detect_landmarks(image)
    assert landmarks is not None, path
    return image, landmarks, float(landmarks.bbox()[2])
