"""The gate's ISO/IEC 29794-5 names, small photos, tone-independent colour, distance and pitch,
and the committed tuning/validation split of the labelled photos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.vision.landmarks import HeadPose
from core.vision.quality import ISO_COMPONENTS, QualityOptions, QualityResult, check_photo
from core.vision.quality.framing import _check_pose


@pytest.fixture(scope="module")
def front(face_photo_bgr):
    return check_photo(face_photo_bgr, "front")


def test_every_check_names_its_iso_component(front):
    assert front.checks
    for check in front.checks:
        assert check.name in ISO_COMPONENTS, check.name
    assert front.check("sharpness").component == "Sharpness"
    assert front.check("distance").component == "InterEyeDistance"


def test_a_result_stored_before_keeps_reading_with_its_components():
    stored = {
        "verdict": "warn",
        "view": "front",
        "checks": [
            {"name": "exposure", "status": "warn", "value": 130.0, "threshold": 135.0, "instruction": "x"},
            {"name": "hair_or_hand", "status": "pass", "value": 0.9, "threshold": 0.6, "instruction": ""},
        ],
        "pose": None,
        "faces": [],
        "face_box": None,
        "image_size": [600, 800],
    }
    result = QualityResult.from_json(json.dumps(stored))
    assert result.check("exposure").status == "warn"
    assert result.check("hair_or_hand").component == "FaceOcclusionPrevention"


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (50, 40), (199, 150)])
def test_tiny_photos_fail_with_a_reason_instead_of_an_error(size):
    h, w = size
    image = np.full((h, w, 3), 128, np.uint8)
    result = check_photo(image, "front")
    assert result.verdict == "fail"
    assert result.instructions()


def test_a_small_face_photo_fails_as_too_small(face_photo_bgr):
    small = cv2.resize(face_photo_bgr, (180, 180), interpolation=cv2.INTER_AREA)
    result = check_photo(small, "front")
    assert result.verdict == "fail"
    assert result.check("image_size").status == "fail"
    assert "too small" in result.check("image_size").instruction


def test_magenta_cast_is_refused(face_photo_bgr):
    linear = (face_photo_bgr.astype(np.float32) / 255) ** 2.2 * np.array([1.25, 0.7, 1.25], np.float32)
    magenta = (np.clip(linear / 0.93, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
    result = check_photo(magenta, "front")
    assert result.check("colour").status == "fail"
    assert "magenta" in result.check("colour").instruction


def test_a_face_at_a_sixth_of_the_height_is_too_far(face_photo_bgr, front):
    h, w = face_photo_bgr.shape[:2]
    fraction = front.check("face_size").value
    canvas_h = round(h * fraction / 0.17)
    canvas = np.full((canvas_h, round(canvas_h * 4 / 3), 3), 170, np.uint8)
    top, left = (canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2
    canvas[top : top + h, left : left + w] = face_photo_bgr
    result = check_photo(canvas, "front")
    assert result.check("face_size").status == "fail"
    assert result.verdict == "fail"


def test_chin_up_fails_earlier_than_chin_down():
    options = QualityOptions()
    up = {c.name: c for c in _check_pose(HeadPose(0.0, 13.0, 0.0), "front", options)}
    down = {c.name: c for c in _check_pose(HeadPose(0.0, -13.0, 0.0), "front", options)}
    assert up["pitch"].status == "fail" and "Lower your chin" in up["pitch"].instruction
    assert down["pitch"].status == "warn"


def test_a_barely_turned_face_is_not_an_oblique():
    options = QualityOptions()
    checks = {c.name: c for c in _check_pose(HeadPose(20.0, 0.0, 0.0), "left_oblique", options)}
    assert checks["yaw"].status == "fail"
    checks = {c.name: c for c in _check_pose(HeadPose(30.0, 0.0, 0.0), "left_oblique", options)}
    assert checks["yaw"].status == "pass"


@pytest.mark.shared
def test_the_committed_split_follows_its_rule_and_names_files_only(shared_testdata: Path):
    from scripts.make_gate_degradations import SPLIT_PATH, make_split, read_labels, read_split

    committed = read_split()
    assert committed == make_split(read_labels(shared_testdata))
    assert set(committed.values()) == {"tuning", "validation"}
    assert all(name.startswith("faces/") for name in committed)
    assert SPLIT_PATH.stat().st_size < 10_000  # names, never photos
