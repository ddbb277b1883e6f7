"""LiveARProcessor and LandmarkTracker: raw pass-through without a face, frames dropped (not queued) when slow."""

from __future__ import annotations

import threading
import time

import numpy as np

from core.ar.effects import has_watermark
from core.ar.live import LandmarkTracker, LiveARProcessor, LiveView, compose_view


class _FakeLandmarker:
    def __init__(self, face: bool = True) -> None:
        self.face = face
        self.timestamps: list[int] = []

    def detect_video(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[np.ndarray]:
        self.timestamps.append(timestamp_ms)
        if not self.face:
            return []
        return [np.full((478, 3), 50.0, dtype=np.float32)]


def _invert_effect(image, landmarks, treatments):
    return 255 - image, np.ones(image.shape[:2], dtype=bool)


class _SlowEffect:
    """Blocks until released, so the test controls how 'slow' the processing is."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, image, landmarks, treatments):
        self.calls += 1
        self.release.wait(timeout=5)
        return 255 - image, np.ones(image.shape[:2], dtype=bool)


def _frame(value: int) -> np.ndarray:
    return np.full((120, 160, 3), value, dtype=np.uint8)


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert condition()


def test_disabled_view_passes_raw_frames_and_starts_no_worker() -> None:
    processor = LiveARProcessor(landmarker_factory=_FakeLandmarker, effect=_invert_effect)
    frame = _frame(10)
    assert processor.process(frame) is frame
    assert processor._worker is None
    processor.stop()


def test_no_face_passes_the_raw_frame_through() -> None:
    landmarker = _FakeLandmarker(face=False)
    processor = LiveARProcessor(landmarker_factory=lambda: landmarker, effect=_invert_effect)
    processor.update_view(LiveView(treatments={"redness": 0.5}))
    frame = _frame(10)
    for _ in range(5):
        out = processor.process(frame)
        assert out is frame
        _wait_until(lambda: processor.stats.no_face_frames >= 1)
    assert processor.stats.processed_frames == 0
    assert processor.process(frame) is frame
    processor.stop()


def test_processed_frames_are_simulated_and_marked() -> None:
    processor = LiveARProcessor(landmarker_factory=_FakeLandmarker, effect=_invert_effect)
    processor.update_view(LiveView(treatments={"lips": 1.0}))
    frame = _frame(10)
    processor.submit(frame)
    _wait_until(lambda: processor.stats.processed_frames >= 1)
    out = processor.render(frame)
    assert out is not frame
    assert has_watermark(out)
    assert out[10, 10, 0] == 245  # the (fake) effect's output, above the watermark band
    processor.stop()


def test_slow_processing_drops_frames_and_never_blocks_the_callback() -> None:
    slow = _SlowEffect()
    processor = LiveARProcessor(landmarker_factory=_FakeLandmarker, effect=slow)
    processor.update_view(LiveView(treatments={"skin": 1.0}))
    processor.submit(_frame(1))
    _wait_until(lambda: slow.calls == 1)  # the worker is now stuck inside the effect
    outputs = []
    for value in range(2, 32):
        outputs.append(processor.process(_frame(value)))  # must return while the worker is stuck
    # Every call returned the raw frame (nothing processed yet) and all but the newest were dropped.
    assert all(out[0, 0, 0] == value for out, value in zip(outputs, range(2, 32), strict=True))
    assert processor.stats.dropped_frames == 29
    slow.release.set()
    _wait_until(lambda: processor.stats.processed_frames == 2)
    # Only the newest waiting frame (value 31) was processed after the slow one: no queue.
    time.sleep(0.05)
    assert slow.calls == 2
    assert processor.stats.submitted_frames == 31
    out = processor.render(_frame(99))
    assert out[0, 0, 0] == 255 - 31
    processor.stop()


def test_failing_landmarker_never_raises_into_the_callback() -> None:
    class Broken:
        def detect_video(self, image, ts):
            raise RuntimeError("model crashed")

    processor = LiveARProcessor(landmarker_factory=Broken, effect=_invert_effect)
    processor.update_view(LiveView(treatments={"skin": 1.0}))
    frame = _frame(5)
    assert processor.process(frame) is frame
    _wait_until(lambda: processor.stats.errors >= 1)
    assert processor.process(frame) is frame
    processor.stop()


def test_stale_result_is_not_shown() -> None:
    now = [0.0]
    processor = LiveARProcessor(
        landmarker_factory=_FakeLandmarker, effect=_invert_effect, clock=lambda: now[0], max_result_age_s=0.5
    )
    processor.update_view(LiveView(treatments={"skin": 1.0}))
    frame = _frame(10)
    processor.submit(frame)
    _wait_until(lambda: processor.stats.processed_frames == 1)
    assert processor.render(frame) is not frame
    now[0] = 2.0  # the worker produced nothing for 2 s: show the live raw frame instead
    assert processor.render(frame) is frame
    processor.stop()


def test_video_timestamps_strictly_increase() -> None:
    landmarker = _FakeLandmarker()
    processor = LiveARProcessor(landmarker_factory=lambda: landmarker, effect=_invert_effect)
    processor.update_view(LiveView(treatments={"skin": 1.0}))
    for _ in range(5):
        processor.submit(_frame(3), timestamp_s=1.0)  # same clock value each time
        _wait_until(lambda: processor._slot is None)
    _wait_until(lambda: len(landmarker.timestamps) >= 2)
    assert all(b > a for a, b in zip(landmarker.timestamps, landmarker.timestamps[1:], strict=False))
    processor.stop()


def test_split_and_side_by_side_views_show_before_and_after() -> None:
    processor = LiveARProcessor(landmarker_factory=_FakeLandmarker, effect=_invert_effect)
    processor.update_view(LiveView(treatments={"skin": 1.0}))
    frame = _frame(10)
    processor.submit(frame)
    _wait_until(lambda: processor.stats.processed_frames == 1)
    wiper = processor.render(frame, LiveView(treatments={"skin": 1.0}, split_view=True, split_position=0.25))
    assert wiper[5, 10, 0] == 10 and wiper[5, 100, 0] == 245
    both = processor.render(frame, LiveView(treatments={"skin": 1.0}, side_by_side=True))
    assert both[60, 40, 0] == 10 and both[60, 120, 0] == 245
    processor.stop()


def test_real_landmarker_processes_a_face_and_passes_a_blank_frame(face_photo_bgr) -> None:
    import cv2

    frame = cv2.resize(face_photo_bgr, (400, 480))
    frame = cv2.copyMakeBorder(frame, 0, 0, 120, 120, cv2.BORDER_REPLICATE)  # 640x480
    processor = LiveARProcessor()  # the vision area's FaceLandmarker in VIDEO mode
    processor.update_view(LiveView(treatments={"lips": 0.8, "redness": 0.5}))
    for index in range(3):
        processor.submit(frame, timestamp_s=index / 30)
        _wait_until(lambda index=index: processor.stats.processed_frames > index, timeout=30)
    out = processor.render(frame)
    assert has_watermark(out) and not np.array_equal(out, frame)
    blank = np.full_like(frame, 90)
    processor.submit(blank, timestamp_s=1.0)
    _wait_until(lambda: processor.stats.no_face_frames >= 1, timeout=30)
    assert processor.render(blank) is blank
    assert processor.stats.errors == 0
    processor.stop()


# --- LandmarkTracker + compose_view: landmarks at their own rate, every frame composed -----------


class _BlockingLandmarker(_FakeLandmarker):
    """Blocks in detect_video until released, so the test controls how slow landmarks are."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.frames: list[int] = []

    def detect_video(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[np.ndarray]:
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
    assert face is not None and np.asarray(face.landmarks).shape == (478, 3)
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
