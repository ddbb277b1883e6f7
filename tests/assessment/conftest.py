"""Assessment fixtures: the generated face with its landmarks, and helpers that edit skin in place."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.assessment import canonical as canon
from core.assessment.engine import AssessmentOptions, assess_photo
from core.assessment.report import PhotoAssessment
from core.vision.landmarks import detect_landmarks, points_px
from core.vision.quality import QualityResult

FAST = AssessmentOptions(run_registry=False, evidence=False)


def ita_of(metric) -> float:
    """The ITA the light handling produced, also where the report withholds it for lack of an
    exposure anchor (the astronaut's eye whites and teeth are too faint to anchor it): tests of
    the white balance compare the angle itself."""
    value = float(metric.value)
    return value if np.isfinite(value) else float(metric.details["measured_ita"])


def passed(view: str) -> QualityResult:
    """A pass from the gate with no checks listed (for photos the real gate would judge on size or pose)."""
    return QualityResult("pass", view, [], None, [], None)


def checked_photo(view: str, image_bgr: np.ndarray, quality: QualityResult | None = None):
    """A photo as the intake hands it to the consultation (JPEG bytes + the gate's result)."""
    from core.consult.photos import CheckedPhoto, encode_rgb

    jpeg = encode_rgb(np.ascontiguousarray(image_bgr[..., ::-1]))
    height, width = image_bgr.shape[:2]
    return CheckedPhoto(view, "upload", jpeg, "image/jpeg", width, height, quality or passed(view))


@pytest.fixture(scope="session")
def face_points(face_photo_bgr: np.ndarray) -> np.ndarray:
    landmarks = detect_landmarks(face_photo_bgr)
    assert landmarks is not None, "the astronaut face must be found"
    return points_px(landmarks, with_z=True, dtype=np.float64)


@pytest.fixture(scope="session")
def baseline(face_photo_bgr: np.ndarray, face_points: np.ndarray) -> PhotoAssessment:
    return assess_photo(face_photo_bgr, "front", face_points, options=FAST)


def to_source(points: np.ndarray, canonical_xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Canonical pixel positions -> source pixel positions, and the source px per canonical px."""
    matrix = canon.similarity_to_canonical(points)
    inverse = cv2.invertAffineTransform(matrix)
    xy = np.asarray(canonical_xy, dtype=np.float64).reshape(-1, 2) @ inverse[:, :2].T + inverse[:, 2]
    return xy, float(np.sqrt(abs(np.linalg.det(inverse[:, :2]))))


def region_centre(assessment: PhotoAssessment, region: str) -> np.ndarray:
    ys, xs = np.nonzero(assessment.region_masks[region])
    return np.array([xs.mean(), ys.mean()])


def region_box(assessment: PhotoAssessment, region: str) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(assessment.region_masks[region])
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def spread_points(mask: np.ndarray, count: int, spacing: float) -> np.ndarray:
    """`count` canonical points well inside `mask`, at least `spacing` px apart (greedy, deterministic)."""
    inner = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    ys, xs = np.nonzero(inner)
    chosen: list[np.ndarray] = []
    for index in np.argsort(xs * 1000 + ys):
        candidate = np.array([xs[index], ys[index]], dtype=float)
        if all(np.linalg.norm(candidate - c) >= spacing for c in chosen):
            chosen.append(candidate)
    assert len(chosen) >= count, f"region too small for {count} points"
    picks = np.linspace(0, len(chosen) - 1, count).round().astype(int)
    return np.array([chosen[i] for i in picks])
