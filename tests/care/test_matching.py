"""Baseline match and landmark alignment on the public-domain astronaut face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.care.matching import NoFaceFound, align_pair, baseline_match, eye_centres


def transformed(image: np.ndarray, angle_deg: float = 0.0, scale: float = 1.0) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle_deg, scale)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def test_same_photo_is_a_perfect_match(face_photo_bgr, landmark_detector) -> None:
    match = baseline_match(face_photo_bgr, face_photo_bgr.copy(), landmark_detector)
    assert match.score == pytest.approx(100.0, abs=0.5)
    assert match.ok
    assert match.pose_difference_deg == pytest.approx(0.0, abs=0.3)
    assert match.scale_ratio == pytest.approx(1.0, abs=0.005)
    assert match.colour_delta_e == pytest.approx(0.0, abs=0.1)


def test_rotated_copy_degrades_pose(face_photo_bgr, landmark_detector) -> None:
    match = baseline_match(face_photo_bgr, transformed(face_photo_bgr, angle_deg=12), landmark_detector)
    assert match.pose_difference_deg > 8
    assert match.components["pose"] < 50
    assert match.components["scale"] > 85 and match.components["colour"] > 85
    assert not match.ok
    assert "tilted" in match.instruction
    # cv2 rotates counter-clockwise: the patient's left eye (image right) rises, so the fix is to
    # tilt towards the left shoulder.
    assert "left shoulder" in match.instruction


def test_scaled_copy_degrades_scale(face_photo_bgr, landmark_detector) -> None:
    match = baseline_match(face_photo_bgr, transformed(face_photo_bgr, scale=0.75), landmark_detector)
    assert match.scale_ratio == pytest.approx(0.75, abs=0.04)
    assert match.components["scale"] < 30
    assert match.components["pose"] > 80
    assert not match.ok
    assert "closer" in match.instruction


def test_colour_shifted_copy_degrades_colour(face_photo_bgr, landmark_detector) -> None:
    shifted = face_photo_bgr.astype(np.int16)
    shifted[..., 0] += 45  # bluer light
    shifted[..., 2] -= 30
    shifted = np.clip(shifted, 0, 255).astype(np.uint8)
    match = baseline_match(face_photo_bgr, shifted, landmark_detector)
    assert match.colour_delta_e > 8
    assert match.components["colour"] < 60
    assert match.components["pose"] > 80 and match.components["scale"] > 85
    assert match.score < 95


def test_no_face_asks_for_a_retake(face_photo_bgr, landmark_detector) -> None:
    blank = np.full_like(face_photo_bgr, 128)
    match = baseline_match(face_photo_bgr, blank, landmark_detector)
    assert not match.ok and match.score == 0
    assert "No face" in match.instruction


def test_alignment_puts_the_eyes_on_the_same_pixels(face_photo_bgr, landmark_detector) -> None:
    after = transformed(face_photo_bgr, angle_deg=10, scale=0.8)
    before_eyes = eye_centres(landmark_detector(face_photo_bgr))
    moved_eyes = eye_centres(landmark_detector(after))
    assert np.linalg.norm(before_eyes[0] - moved_eyes[0]) > 15  # really displaced before aligning
    before_aligned, after_aligned = align_pair(face_photo_bgr, after, landmark_detector)
    assert before_aligned.shape == after_aligned.shape == face_photo_bgr.shape
    aligned_eyes = eye_centres(landmark_detector(after_aligned))
    for before_eye, aligned_eye in zip(before_eyes, aligned_eyes, strict=True):
        assert np.linalg.norm(before_eye - aligned_eye) < 4.0  # pixels, in a 820x984 photo


def test_alignment_needs_a_face(face_photo_bgr, landmark_detector) -> None:
    with pytest.raises(NoFaceFound):
        align_pair(face_photo_bgr, np.zeros_like(face_photo_bgr), landmark_detector)


def test_hint_is_a_catalog_sentence_filled_in_the_readers_language(face_photo_bgr, landmark_detector) -> None:
    """The hint is one catalog message with named numbers, translated and formatted where shown."""
    from core.care.matching import hint_in
    from core.i18n import PSEUDO_CLOSE, PSEUDO_OPEN, translator

    match = baseline_match(face_photo_bgr, transformed(face_photo_bgr, scale=0.75), landmark_detector)
    assert "{" in match.message and "percent" in match.message_values
    pseudo = match.instruction_in(translator("en_XA"))
    assert pseudo.startswith(PSEUDO_OPEN) and pseudo.endswith(PSEUDO_CLOSE)  # went through the catalog
    assert "%" in pseudo and "{" not in pseudo  # the placeholder filled, as a percentage
    # stored as JSON with the check-in, shown later from message + values in the reader's language
    assert hint_in(translator("en"), match.message, dict(match.message_values)) == match.instruction
    german = match.instruction_in(translator("de"))
    assert "%" in german and "{" not in german
