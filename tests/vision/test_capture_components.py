"""Guided capture helpers and the live guide processor (no browser: frames fed directly)."""

from __future__ import annotations

import threading

import av
import cv2
import numpy as np
import pytest

from components.guided_capture import (
    annotate_result,
    check_frame,
    check_upload,
    draw_pose_diagram,
    ghost_overlay,
)
from components.live_guide import LiveGuideProcessor
from core.consult.photos import CheckedPhoto, decode_to_bgr


def _jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def _arrow_x(diagram: np.ndarray) -> float:
    green = (diagram[..., 1] > 120) & (diagram[..., 0] < 80) & (diagram[..., 2] < 80)
    return float(np.nonzero(green)[1].mean())


def test_pose_diagram_turns_the_right_way():
    centre = 220 / 2
    assert abs(_arrow_x(draw_pose_diagram("front")) - centre) < 4
    # Left oblique: the patient turns to their right = the diagram's left (as seen by the camera).
    assert _arrow_x(draw_pose_diagram("left_oblique")) < centre - 10
    assert _arrow_x(draw_pose_diagram("right_oblique")) > centre + 10
    assert draw_pose_diagram("close_up").shape == (220, 220, 3)


def test_assess_good_photo_returns_a_submittable_capture(face_photo_bgr):
    cache: dict = {}
    photo, error = check_upload(_jpeg(face_photo_bgr), "front.jpg", "front", "upload", cache)
    assert error is None and isinstance(photo, CheckedPhoto)
    assert photo.verdict in ("pass", "warn") and photo.usable and photo.source == "upload"
    assert photo.image_bytes[:2] == b"\xff\xd8"  # cleaned JPEG
    assert check_upload(_jpeg(face_photo_bgr), "front.jpg", "front", "upload", cache)[0] is photo  # cached
    annotated = annotate_result(face_photo_bgr, photo.quality)
    assert max(annotated.shape[:2]) == 720
    ghost = ghost_overlay(face_photo_bgr, np.zeros((100, 80, 3), np.uint8))
    assert ghost.shape == face_photo_bgr.shape and ghost.mean() < face_photo_bgr.mean()


def test_assess_rejects_bad_photos(face_photo_bgr):
    photo, error = check_upload(b"not an image", "x.jpg", "front", "upload", {})
    assert photo is None and error
    blurred = cv2.GaussianBlur(face_photo_bgr, (0, 0), 8)
    photo, error = check_upload(_jpeg(blurred), "b.jpg", "front", "upload", {})
    assert photo is not None and photo.verdict == "fail" and not photo.usable
    assert any("blurry" in text for text in photo.quality.instructions())  # told what to change


def test_a_live_capture_is_encoded_once_and_checked_on_the_stored_bytes(face_photo_bgr):
    photo, error = check_frame(face_photo_bgr, "front", {})
    assert error is None and photo is not None and photo.source == "webcam" and photo.mime == "image/jpeg"
    stored = decode_to_bgr(photo.image_bytes)
    assert stored.shape == face_photo_bgr.shape
    assert photo.quality.image_size == stored.shape[:2]  # the verdict is about these pixels


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def live_frame(face_photo_bgr):
    # A 640x480 preview frame with the face large and centred.
    face = cv2.resize(face_photo_bgr, (400, 480))
    frame = np.full((480, 640, 3), 180, np.uint8)
    frame[:, 120:520] = face
    return frame


def test_live_guide_captures_after_a_second_of_passing_frames(live_frame):
    clock = _Clock()
    processor = LiveGuideProcessor("front", hold_s=1.0, clock=clock)
    try:
        blank = np.full_like(live_frame, 90)
        processor.analyse(blank)
        assert processor.status().verdict == "fail" and processor.captured is None
        for _ in range(3):  # 0.0, 0.4, 0.8 s: ready but not yet long enough
            clock.now += 0.4
            processor.analyse(live_frame)
        assert processor.status().verdict != "fail" and processor.captured is None
        clock.now += 0.4
        processor.analyse(blank)  # a bad frame restarts the hold timer
        for _ in range(3):
            clock.now += 0.4
            processor.analyse(live_frame)
        assert processor.captured is None
        clock.now += 0.4
        processor.analyse(live_frame)
        image, result = processor.captured
        assert image.shape == live_frame.shape and result.verdict != "fail"
        assert processor.status().captured
        processor.reset()
        assert processor.captured is None
    finally:
        processor.close()


@pytest.mark.timeout(60)
def test_live_callback_never_waits_for_analysis(live_frame):
    started = threading.Event()
    release = threading.Event()

    class SlowLandmarker:
        def detect_video(self, image, timestamp_ms):
            started.set()
            release.wait(5)
            return []

        def close(self):
            pass

    processor = LiveGuideProcessor("front", landmarker_factory=SlowLandmarker)
    try:
        frame = av.VideoFrame.from_ndarray(live_frame, format="bgr24")
        processor.callback(frame)
        assert started.wait(5)
        # The worker is stuck until `release` is set (only in `finally`): if a callback waited for
        # it, this loop would never finish and the test would time out.
        outputs = [processor.callback(frame) for _ in range(5)]
        assert not release.is_set()
        assert all(out.format.name == "yuv420p" for out in outputs)
        assert processor.status().dropped_frames >= 4
    finally:
        release.set()
        processor.close()


def test_every_gate_check_has_a_label_people_read() -> None:
    """The live guide and the physician's page name each check in words, never by its code."""
    from components.live_guide import CHECK_LABELS
    from core.vision.quality import ISO_COMPONENTS

    assert set(ISO_COMPONENTS) <= set(CHECK_LABELS), set(ISO_COMPONENTS) - set(CHECK_LABELS)
    assert all(label and "_" not in label for label in CHECK_LABELS.values())
