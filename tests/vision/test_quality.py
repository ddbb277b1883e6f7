"""The photo quality gate on the astronaut face and controlled transforms of it."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.vision.quality import QualityOptions, check_photo
from core.vocabulary import normalise_view


def _status(result, name: str) -> str:
    check = result.check(name)
    assert check is not None, f"no {name} check in {[c.name for c in result.checks]}"
    return check.status


@pytest.fixture(scope="module")
def front_result(face_photo_bgr):
    return check_photo(face_photo_bgr, "front")


def test_good_front_photo_is_accepted(front_result):
    assert front_result.verdict in ("pass", "warn")
    assert not front_result.failing, [c.to_dict() for c in front_result.failing]
    assert len(front_result.faces) == 1 and front_result.face_box is not None
    assert front_result.pose is not None and abs(front_result.pose.yaw) < 10


def test_result_serialises_to_json(front_result):
    data = json.loads(front_result.to_json())
    assert data["verdict"] == front_result.verdict
    assert {"name", "status", "value", "threshold", "instruction"} <= set(data["checks"][0])
    assert set(data["pose"]) == {"yaw", "pitch", "roll"} and len(data["faces"]) == 1


def test_view_names_accept_dashes():
    assert normalise_view("left-oblique") == "left_oblique"
    assert normalise_view("Close-Up") == "close_up"
    with pytest.raises(ValueError):
        normalise_view("top")


def test_dark_photo_fails_exposure(face_photo_bgr):
    dark = (face_photo_bgr.astype(np.float32) * 0.25).astype(np.uint8)
    result = check_photo(dark, "front")
    assert result.verdict == "fail" and _status(result, "exposure") == "fail"
    assert "too dark" in result.check("exposure").instruction


def test_overexposed_photo_fails_exposure(face_photo_bgr):
    bright = np.clip(face_photo_bgr.astype(np.float32) * 2.2 + 40, 0, 255).astype(np.uint8)
    result = check_photo(bright, "front")
    assert _status(result, "exposure") == "fail"
    assert "too bright" in result.check("exposure").instruction


def test_blurred_photo_fails_sharpness(face_photo_bgr):
    result = check_photo(cv2.GaussianBlur(face_photo_bgr, (0, 0), 6), "front")
    assert _status(result, "sharpness") == "fail"
    assert "blurry" in result.check("sharpness").instruction


def test_colour_cast_is_flagged(face_photo_bgr):
    tinted = face_photo_bgr.astype(np.float32)
    tinted[..., 0] *= 0.35  # remove most blue: strong orange cast
    tinted[..., 2] = np.clip(tinted[..., 2] * 1.15, 0, 255)
    result = check_photo(tinted.astype(np.uint8), "front")
    assert _status(result, "colour") == "fail"
    assert "colours" in result.check("colour").instruction


def test_black_and_white_photo_fails_colour(face_photo_bgr):
    gray = cv2.cvtColor(cv2.cvtColor(face_photo_bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    result = check_photo(gray, "front")
    assert _status(result, "colour") == "fail" and "colour photo" in result.check("colour").instruction


def test_small_face_in_frame_asks_to_move_closer(face_photo_bgr):
    small = cv2.resize(face_photo_bgr, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    canvas = np.full((1200, 1600, 3), 200, np.uint8)
    canvas[450 : 450 + small.shape[0], 700 : 700 + small.shape[1]] = small
    result = check_photo(canvas, "front")
    assert result.verdict == "fail"
    assert _status(result, "distance") == "fail"
    assert "closer" in result.check("distance").instruction


def test_two_faces_fail_the_one_face_check(face_photo_bgr):
    pair = np.concatenate([face_photo_bgr, face_photo_bgr], axis=1)
    result = check_photo(pair, "front")
    assert _status(result, "one_face") == "fail" and len(result.faces) == 2
    assert "Only you" in result.check("one_face").instruction


def test_blank_image_has_no_face():
    result = check_photo(np.full((768, 1024, 3), 120, np.uint8), "front")
    assert result.verdict == "fail" and result.faces == [] and result.pose is None
    assert _status(result, "one_face") == "fail"


def test_roll_follows_rotation_with_instruction(face_photo_bgr):
    h, w = face_photo_bgr.shape[:2]
    rotated = cv2.warpAffine(
        face_photo_bgr,
        cv2.getRotationMatrix2D((w / 2, h / 2), -25, 1.0),
        (w, h),
        borderMode=cv2.BORDER_REFLECT,
    )
    result = check_photo(rotated, "front")
    assert result.pose.roll > 18
    assert _status(result, "roll") == "fail" and "tilt" in result.check("roll").instruction


def test_front_photo_is_not_an_oblique(face_photo_bgr):
    result = check_photo(face_photo_bgr, "left_oblique")
    assert _status(result, "yaw") == "fail"
    assert "your right" in result.check("yaw").instruction  # turn to the right to show the left side


def test_close_up_without_face_checks_the_whole_frame(face_photo_bgr):
    skin_patch = cv2.resize(face_photo_bgr[560:760, 250:450], (1024, 768), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(1).normal(0, 6, skin_patch.shape)
    patch = np.clip(skin_patch + noise, 0, 255).astype(np.uint8)
    result = check_photo(patch, "close-up")
    names = [c.name for c in result.checks]
    assert "yaw" not in names and "one_face" not in names
    assert {"exposure", "colour", "sharpness"} <= set(names)
    blurred = check_photo(cv2.GaussianBlur(patch, (0, 0), 12), "close_up")
    assert _status(blurred, "sharpness") == "fail"


def test_live_fast_path_reuses_landmarks(face_photo_bgr, face_landmarks):
    frame = cv2.resize(face_photo_bgr, (400, 480))
    from core.vision.landmarks import detect_landmarks

    landmarks = detect_landmarks(frame)
    result = check_photo(frame, "front", QualityOptions.live(), landmarks=landmarks, faces=[])
    assert _status(result, "one_face") == "pass" and result.pose is not None


def _blurred(face_photo_bgr: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(face_photo_bgr, (0, 0), 8)


def test_stored_result_reads_back_as_the_same_result(front_result, face_photo_bgr):
    from core.vision.quality import QualityCheck, QualityResult

    for result in (front_result, check_photo(_blurred(face_photo_bgr), "front")):
        loaded = QualityResult.from_json(result.to_json())
        assert loaded.to_dict() == result.to_dict()
        assert loaded.verdict == result.verdict and loaded.instructions() == result.instructions()
        assert [c.name for c in loaded.checks] == [c.name for c in result.checks]
        assert loaded.landmarks is None  # not stored
        for check in result.checks:
            assert QualityCheck.from_dict(check.to_dict()).to_dict() == check.to_dict()


def test_a_check_names_the_measure_it_read_and_keeps_it_in_storage(face_photo_bgr):
    """The verdict weighs and orders failures by the measure each names (`QualityCheck.measure`),
    not by recognising its threshold; stored results keep it, older ones read back without it."""
    from core.vision.quality import QualityCheck

    dark = check_photo((face_photo_bgr.astype(np.float32) * 0.25).astype(np.uint8), "front")
    exposure = dark.check("exposure")
    assert exposure is not None and exposure.status == "fail" and exposure.measure == "dark_p90"
    assert exposure.severity is not None and exposure.severity > 0
    stored = exposure.to_dict()
    assert stored["measure"] == "dark_p90" and QualityCheck.from_dict(stored).measure == "dark_p90"
    older = {key: value for key, value in stored.items() if key != "measure"}
    assert QualityCheck.from_dict(older).measure == ""
    bright = check_photo(
        np.clip(face_photo_bgr.astype(np.float32) * 2.2 + 40, 0, 255).astype(np.uint8), "front"
    )
    # So bright that no face is found: the whole frame's exposure is what failed.
    assert bright.check("exposure").measure == "frame_clipped"


@pytest.mark.parametrize("view", ["front", "close_up"])
def test_any_array_of_pixels_gets_a_verdict_with_its_reason(view: str, face_photo_bgr):
    """Grey photos in every layout, grey with alpha, BGRA and 16-bit are photos; an empty one is
    too small (a verdict with its instruction, not an error); other shapes are refused by name."""
    grey = cv2.cvtColor(face_photo_bgr, cv2.COLOR_BGR2GRAY)
    layouts = {
        "grey": grey,
        "grey, one channel": grey[..., None],
        "grey and alpha": np.dstack([grey, np.full_like(grey, 255)]),
        "BGRA": np.dstack([face_photo_bgr, np.full_like(grey, 255)]),
        "16-bit": face_photo_bgr.astype(np.uint16),
    }
    for name, image in layouts.items():
        result = check_photo(image, view)
        assert result.image_size == face_photo_bgr.shape[:2], name
        if view == "front":
            assert result.check("one_face").status == "pass", name
    for empty in (np.zeros((0, 0, 3), np.uint8), np.zeros((0, 40), np.uint8)):
        result = check_photo(empty, view)
        assert result.verdict == "fail" and result.first_problem.name == "image_size"
        assert "too small" in result.first_problem.instruction
    with pytest.raises(ValueError, match="not a photo"):
        check_photo(np.zeros((20, 20, 5), np.uint8), view)


def test_a_blurred_photo_fails_with_its_instruction_after_storage(face_photo_bgr):
    from core.vision.quality import QualityResult

    stored = QualityResult.from_json(check_photo(_blurred(face_photo_bgr), "front").to_json())
    assert stored.verdict == "fail"
    sharpness = stored.check("sharpness")
    assert sharpness is not None and sharpness.status == "fail"
    assert "blurry" in sharpness.instruction


@pytest.mark.parametrize(
    "text",
    ["[]", "{}", '{"verdict": "maybe", "view": "front", "checks": [], "pose": null, "faces": [],'
     ' "face_box": null, "image_size": [1, 1]}', "not json"],
)  # fmt: skip
def test_something_else_is_not_read_as_a_quality_result(text):
    from core.vision.quality import QualityResult

    with pytest.raises(ValueError):
        QualityResult.from_json(text)
