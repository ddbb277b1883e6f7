"""LandmarkTracker and compose_view: landmarks on the newest frame only (never a queue), every layout marked."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from core.ar.effects import has_watermark
from core.ar.live import LandmarkTracker, LiveView, compose_view, simulate_frame
from core.vision.landmarks import FaceLandmarks


class _FakeLandmarker:
    def __init__(self, face: bool = True) -> None:
        self.face = face
        self.timestamps: list[int] = []

    def detect_video(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[FaceLandmarks]:
        self.timestamps.append(timestamp_ms)
        if not self.face:
            return []
        return [FaceLandmarks(np.full((478, 3), 50.0, dtype=np.float32))]


def _frame(value: int) -> np.ndarray:
    return np.full((120, 160, 3), value, dtype=np.uint8)


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert condition()


def test_video_timestamps_strictly_increase() -> None:
    landmarker = _FakeLandmarker()
    tracker = LandmarkTracker(landmarker_factory=lambda: landmarker)
    for count in range(1, 6):
        tracker.submit(_frame(3), timestamp_s=1.0)  # the same clock value each time
        _wait_until(lambda count=count: tracker.stats.processed_frames == count)
    assert len(landmarker.timestamps) == 5
    assert all(b > a for a, b in zip(landmarker.timestamps, landmarker.timestamps[1:], strict=False))
    tracker.stop()


def test_split_and_side_by_side_views_show_before_and_after() -> None:
    raw, simulated = _frame(10), _frame(245)
    wiper = compose_view(
        raw, simulated, LiveView(treatments={"skin": 1.0}, split_view=True, split_position=0.25)
    )
    assert wiper[5, 10, 0] == 10 and wiper[5, 100, 0] == 245
    both = compose_view(raw, simulated, LiveView(treatments={"skin": 1.0}, side_by_side=True))
    assert both[60, 40, 0] == 10 and both[60, 120, 0] == 245


def test_real_landmarker_tracks_a_face_and_forgets_it_on_a_blank_frame(face_photo_bgr) -> None:
    import cv2

    frame = cv2.resize(face_photo_bgr, (400, 480))
    frame = cv2.copyMakeBorder(frame, 0, 0, 120, 120, cv2.BORDER_REPLICATE)  # 640x480
    tracker = LandmarkTracker()  # the vision area's FaceLandmarker in VIDEO mode
    for index in range(3):
        tracker.submit(frame, timestamp_s=index / 30)
        _wait_until(lambda index=index: tracker.stats.processed_frames > index, timeout=30)
    face = tracker.latest()
    assert face is not None
    view = LiveView(treatments={"lips": 0.8, "redness": 0.5})
    shown = compose_view(frame, simulate_frame(frame, face.landmarks, view.treatments), view)
    assert has_watermark(shown) and not np.array_equal(shown, frame)
    tracker.submit(np.full_like(frame, 90), timestamp_s=1.0)
    _wait_until(lambda: tracker.stats.no_face_frames >= 1, timeout=30)
    assert tracker.latest() is None and tracker.stats.errors == 0
    tracker.stop()


# --- LandmarkTracker + compose_view: landmarks at their own rate, every frame composed -----------


class _BlockingLandmarker(_FakeLandmarker):
    """Blocks in detect_video until released, so the test controls how slow landmarks are."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.frames: list[int] = []

    def detect_video(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[FaceLandmarks]:
        self.frames.append(int(image_bgr[0, 0, 0]))
        self.release.wait(timeout=5)
        return super().detect_video(image_bgr, timestamp_ms)


def test_tracker_runs_landmarks_on_the_newest_frame_only() -> None:
    landmarker = _BlockingLandmarker()
    tracker = LandmarkTracker(landmarker_factory=lambda: landmarker)
    tracker.submit(_frame(1))
    _wait_until(lambda: landmarker.frames == [1])  # stuck inside the landmarker
    started = time.monotonic()
    for value in range(2, 32):
        tracker.submit(_frame(value))  # returns at once while the landmarks are busy
    assert time.monotonic() - started < 1.0
    assert tracker.latest() is None  # nothing finished yet
    landmarker.release.set()
    _wait_until(lambda: tracker.stats.processed_frames == 2)
    assert landmarker.frames == [1, 31]  # the newest waiting frame, not a queue
    assert tracker.stats.dropped_frames == 29
    face = tracker.latest()
    assert face is not None and face.landmarks.points.shape == (478, 3)
    tracker.stop()


def test_tracker_forgets_a_lost_face_a_stale_face_and_a_cleared_face() -> None:
    now = [0.0]
    landmarker = _FakeLandmarker()
    tracker = LandmarkTracker(landmarker_factory=lambda: landmarker, max_age_s=0.5, clock=lambda: now[0])
    tracker.submit(_frame(1), timestamp_s=0.0)
    _wait_until(lambda: tracker.latest() is not None)
    now[0] = 1.0  # the landmarks fell a second behind: effects would sit in the wrong place
    assert tracker.latest() is None
    tracker.submit(_frame(1), timestamp_s=1.0)
    _wait_until(lambda: tracker.latest() is not None)
    tracker.clear()
    assert tracker.latest() is None
    landmarker.face = False
    tracker.submit(_frame(1), timestamp_s=1.1)
    _wait_until(lambda: tracker.stats.no_face_frames == 1)
    assert tracker.latest() is None and tracker.stats.errors == 0
    tracker.stop()


def test_tracker_counts_landmarker_failures_and_keeps_going() -> None:
    class Flaky(_FakeLandmarker):
        def detect_video(self, image_bgr, timestamp_ms):
            if not self.timestamps:
                self.timestamps.append(timestamp_ms)
                raise RuntimeError("model crashed")
            return super().detect_video(image_bgr, timestamp_ms)

    tracker = LandmarkTracker(landmarker_factory=Flaky)
    tracker.submit(_frame(1))
    _wait_until(lambda: tracker.stats.errors == 1)
    tracker.submit(_frame(2))
    _wait_until(lambda: tracker.latest() is not None)
    tracker.stop()


def test_compose_view_marks_every_layout() -> None:
    raw, simulated = np.full((480, 640, 3), 10, np.uint8), np.full((480, 640, 3), 245, np.uint8)
    plain = compose_view(raw, simulated, LiveView(treatments={"skin": 1.0}))
    wiper = compose_view(
        raw, simulated, LiveView(treatments={"skin": 1.0}, split_view=True, split_position=0.25)
    )
    both = compose_view(raw, simulated, LiveView(treatments={"skin": 1.0}, side_by_side=True))
    assert plain[5, 400, 0] == 245
    assert wiper[5, 40, 0] == 10 and wiper[5, 400, 0] == 245
    assert both[240, 160, 0] == 10 and both[240, 480, 0] == 245
    assert all(has_watermark(image) for image in (plain, wiper, both))
    assert raw[0, 0, 0] == 10 and simulated[0, 0, 0] == 245  # inputs untouched


@pytest.mark.parametrize(
    "view",
    [
        LiveView(treatments={"redness": 1.0, "lips": 1.0}),
        LiveView(treatments={"under_eye": 1.0}, split_view=True, split_position=0.6),
        LiveView(treatments={"skin": 1.0}, side_by_side=True),
    ],
    ids=["simulated", "wiper", "side_by_side"],
)
def test_the_media_worker_converts_only_what_the_view_changed(shared_testdata, view: LiveView) -> None:
    """A real camera frame through the worker's composing path: the pixels the view leaves alone
    reach the encoder as decoded (no colour round trip), the rest as the full-frame libswscale
    conversion gave them before, within a level or two; the mark survives."""
    import av
    from av.video.reformatter import VideoReformatter

    from core.live.media import _changed_boxes, _to_bgr, _to_yuv, _to_yuv_over, _yuv_planes
    from core.vision.landmarks import detect_landmarks

    capture = cv2.VideoCapture(str(shared_testdata / "video" / "face_closeup_pexels_640x480.mp4"))
    ok, camera = capture.read()
    capture.release()
    assert ok and camera is not None
    camera = np.asarray(camera, dtype=np.uint8)
    decoded = av.VideoFrame.from_ndarray(camera, format="bgr24").reformat(format="yuv420p")
    reformatter = VideoReformatter()
    raw = _to_bgr(decoded, reformatter)
    face = detect_landmarks(raw)
    assert face is not None
    shown = compose_view(raw, simulate_frame(raw, face, view.treatments), view)
    planes = _yuv_planes(decoded)
    assert planes is not None

    fresh = _to_yuv_over(shown, raw, planes, reformatter)
    height, width = shown.shape[:2]
    luma = fresh.to_ndarray()[:height]
    untouched = np.ones((height, width), dtype=bool)
    for y0, y1, x0, x1 in _changed_boxes(shown, raw):
        untouched[y0:y1, x0:x1] = False
    assert np.array_equal(luma[untouched], planes[: height * width].reshape(height, width)[untouched])
    if not view.side_by_side:  # the face and the mark's band only
        assert untouched.mean() > 0.4

    def back(frame) -> np.ndarray:
        return reformatter.reformat(frame, format="bgr24").to_ndarray().astype(np.int16)

    now, before = back(fresh), back(_to_yuv(shown, reformatter))
    difference = np.abs(now - before)
    assert difference.mean() < 2.0 and np.percentile(difference, 99.9) <= 12
    # As close to the composed view as the full-frame conversion, or closer.
    assert np.abs(now - shown).mean() <= np.abs(before - shown).mean() + 0.1
    assert has_watermark(now.astype(np.uint8))
