"""The ISO/IEC 29794-5 components added to the gate: DynamicRange (entropy of the face's luma
histogram) and CompressionArtifacts (the JPEG quality read from the face's own 8x8 blocks), and the
close-up exposure judged on the skin's bright end rather than a fixed brightness band.

Photos with a known answer are made by construction (scripts/make_gate_degradations.py) from the
astronaut face or from ../shared/testdata (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.vision.quality import ISO_COMPONENTS, QualityOptions, QualityResult, check_photo
from core.vision.quality.compression import _jpeg_quality
from core.vision.quality.lighting import _entropy_bits
from scripts.make_gate_degradations import exposure, jpeg, squash_contrast
from tests.vision.gate_helpers import check_named as _check


@pytest.fixture(scope="module")
def front(face_photo_bgr: np.ndarray) -> QualityResult:
    return check_photo(face_photo_bgr, "front")


def test_the_new_checks_carry_their_components_names(front):
    assert ISO_COMPONENTS["dynamic_range"] == "DynamicRange"
    assert ISO_COMPONENTS["compression"] == "CompressionArtifacts"
    assert _check(front, "dynamic_range").component == "DynamicRange"
    assert _check(front, "compression").component == "CompressionArtifacts"
    assert _check(front, "dynamic_range").status == "pass"
    assert _check(front, "compression").status == "pass"


# --------------------------------------------------------------------------------------------
# dynamic range


def test_entropy_counts_the_bits_of_the_histogram():
    assert _entropy_bits(np.full(1000, 77, np.uint8)) == 0.0
    assert _entropy_bits(np.arange(256, dtype=np.uint8)) == pytest.approx(8.0)
    assert _entropy_bits(np.repeat(np.arange(16, dtype=np.uint8), 10)) == pytest.approx(4.0)
    assert _entropy_bits(np.zeros(0, np.uint8)) == 0.0


def test_a_quarter_of_the_contrast_is_refused_for_dynamic_range_and_named_first(face_photo_bgr, front):
    flat = check_photo(squash_contrast(face_photo_bgr, 0.25), "front")
    check = _check(flat, "dynamic_range")
    assert check.status == "fail"
    before = _check(front, "dynamic_range").value
    assert isinstance(before, float) and isinstance(check.value, float)
    assert check.value == pytest.approx(before - 2.0, abs=0.35)  # a quarter of the contrast: 2 bits
    main = flat.first_problem
    assert main is not None and main.name == "dynamic_range", [c.to_dict() for c in flat.failing]
    assert "washed out" in main.instruction
    # The sharpness and colour it spoils stay failing but are not the main problem.
    for name in ("sharpness", "colour"):
        spoiled = flat.check(name)
        if spoiled is not None and spoiled.status == "fail":
            assert spoiled.severity == 0.0


def test_dynamic_range_does_not_penalise_a_darker_rendering_of_the_same_face(face_photo_bgr, front):
    # A face 0.3 EV darker (accepted by construction) keeps its range: tone is not range.
    darker = check_photo(exposure(face_photo_bgr, -0.3), "front")
    assert _check(darker, "dynamic_range").status == "pass"
    value, before = _check(darker, "dynamic_range").value, _check(front, "dynamic_range").value
    assert isinstance(value, float) and isinstance(before, float) and abs(value - before) < 0.4


# --------------------------------------------------------------------------------------------
# compression


@pytest.mark.parametrize("quality", [10, 20, 30, 50, 80])
def test_the_jpeg_quality_is_read_back_from_the_pixels(face_photo_bgr, quality):
    gray = cv2.cvtColor(jpeg(face_photo_bgr, quality), cv2.COLOR_BGR2GRAY)
    assert _jpeg_quality(gray, 384) == pytest.approx(quality, abs=0.2 * quality + 2)


def test_the_estimate_follows_the_block_grid_of_a_cropped_photo(face_photo_bgr):
    cropped = jpeg(face_photo_bgr, 20)[3:, 5:]  # the 8x8 grid no longer starts at (0, 0)
    gray = cv2.cvtColor(np.ascontiguousarray(cropped), cv2.COLOR_BGR2GRAY)
    assert _jpeg_quality(gray, 384) == pytest.approx(20, abs=4)


def test_an_unquantised_image_shows_no_compression(face_photo_bgr):
    gray = cv2.cvtColor(face_photo_bgr, cv2.COLOR_BGR2GRAY)
    rng = np.random.default_rng(0)
    noisy = np.clip(gray.astype(np.float32) + rng.normal(0, 2, gray.shape), 0, 255).astype(np.uint8)
    assert _jpeg_quality(noisy, 384) >= QualityOptions().compression_quality_warn


def test_heavy_jpeg_is_refused_with_the_send_the_original_fix_and_q50_is_accepted(face_photo_bgr):
    for quality in (10, 20):
        result = check_photo(jpeg(face_photo_bgr, quality), "front")
        check = _check(result, "compression")
        assert check.status == "fail", check.to_dict()
        main = result.first_problem
        assert main is not None and main.name == "compression", [c.to_dict() for c in result.failing]
        assert "Send the original photo" in main.instruction and "messaging app" in main.instruction
    for quality in (50, 80):
        result = check_photo(jpeg(face_photo_bgr, quality), "front")
        assert _check(result, "compression").status != "fail"
        assert result.verdict != "fail", [c.to_dict() for c in result.failing]


def test_a_stored_result_with_the_new_checks_reads_back(face_photo_bgr):
    result = check_photo(jpeg(face_photo_bgr, 10), "front")
    loaded = QualityResult.from_json(result.to_json())
    assert loaded.to_dict() == result.to_dict()
    assert _check(loaded, "compression").component == "CompressionArtifacts"


def test_live_frames_get_the_dynamic_range_but_no_jpeg_check(face_photo_bgr):
    # A preview frame comes from a video decoder: no JPEG grid to read (and 2 ms of its budget).
    frame = cv2.resize(face_photo_bgr, (640, 640), interpolation=cv2.INTER_AREA)[80:560]
    result = check_photo(frame, "front", QualityOptions.live(), faces=[])
    assert result.check("compression") is None
    assert _check(result, "dynamic_range").status == "pass"
    still = check_photo(frame, "front", faces=[])
    assert _check(still, "compression").status == "pass"


# --------------------------------------------------------------------------------------------
# close-ups: exposure relative to the skin's own tone


def _skin_photos(shared_testdata: Path) -> list[Path]:
    photos = sorted((shared_testdata / "skin").glob("*.jpg"))
    assert len(photos) == 10
    return photos


@pytest.mark.shared
def test_close_ups_two_stops_too_dark_are_refused_as_too_dark(shared_testdata):
    for path in _skin_photos(shared_testdata):
        photo = cv2.imread(str(path))
        assert photo is not None
        taken = _check(check_photo(photo, "close_up"), "exposure")
        assert taken.status != "fail", (path.name, taken.to_dict())
        dark = check_photo(exposure(photo, -2.3), "close_up")
        assert _check(dark, "exposure").status == "fail", path.name
        assert dark.first_problem is not None and dark.first_problem.name == "exposure"
        assert "too dark" in dark.first_problem.instruction


@pytest.mark.shared
def test_close_ups_of_dark_and_brown_skin_are_not_taken_for_dark_photos(shared_testdata):
    from scripts.make_gate_degradations import face_close_up_cases

    cases = [
        case for split in ("tuning", "validation") for case in face_close_up_cases(shared_testdata, split)
    ]
    tones = {case.skin_tone for case in cases}
    assert {"dark", "brown", "light"} <= tones
    for case in cases:
        check = _check(check_photo(case.image, "close_up"), "exposure")
        if case.expected_ok:
            assert check.status != "fail", (case.name, check.to_dict())
        else:
            assert check.status == "fail", (case.name, check.to_dict())


@pytest.mark.shared
def test_a_heavily_compressed_close_up_is_refused_for_compression(shared_testdata):
    photo = cv2.imread(str(shared_testdata / "skin" / "acne_mild_cheek_04.jpg"))
    assert photo is not None
    assert _check(check_photo(jpeg(photo, 80), "close_up"), "compression").status == "pass"
    result = check_photo(jpeg(photo, 10), "close_up")
    assert _check(result, "compression").status == "fail"
    assert result.first_problem is not None and result.first_problem.name == "compression"


# --------------------------------------------------------------------------------------------
# sunglasses: a turned view is judged on the near eye


def _dark_eyes(image: np.ndarray, landmarks, contours) -> np.ndarray:
    out = image.copy()
    for contour in contours:
        cv2.fillPoly(out, [np.round(landmarks.xy[list(contour)]).astype(np.int32)], (8, 8, 8))
    return out


def test_sunglasses_need_both_eyes_on_a_front_and_the_near_eye_on_an_oblique(face_photo_bgr, face_landmarks):
    from core.vision.regions import EYE_LEFT, EYE_RIGHT

    def sunglasses(image: np.ndarray, view: str) -> str:
        return _check(check_photo(image, view, landmarks=face_landmarks, faces=[]), "sunglasses").status

    both = _dark_eyes(face_photo_bgr, face_landmarks, (EYE_LEFT, EYE_RIGHT))
    left_only = _dark_eyes(face_photo_bgr, face_landmarks, (EYE_LEFT,))
    right_only = _dark_eyes(face_photo_bgr, face_landmarks, (EYE_RIGHT,))
    assert sunglasses(face_photo_bgr, "front") == "pass"
    assert sunglasses(both, "front") == "fail"
    assert sunglasses(left_only, "front") == "pass"
    # A left oblique shows the patient's left eye: a dark right (far) eye is shadow, not a lens.
    assert sunglasses(left_only, "left_oblique") == "fail"
    assert sunglasses(right_only, "left_oblique") == "pass"
    assert sunglasses(right_only, "right_oblique") == "fail"
    assert sunglasses(left_only, "right_oblique") == "pass"
