"""Per-stream live AR: landmarks in VIDEO mode + One Euro smoothing + effects, off the callback.

A frame callback (or a media server's frame task) must never wait for landmarks or effects: a
slow frame would queue every later frame behind it and the call's latency would grow without
bound. So `LandmarkTracker` keeps a one-slot buffer (a frame not yet taken when a newer one
arrives is DROPPED, never queued) and runs the landmarks (+ smoothing) in a thread of its own on
the newest frame; the caller composes EVERY frame with the latest smoothed landmarks
(`simulate_frame` + `compose_view`), so the simulation follows the camera's frame rate, not the
landmark rate (core/live/media.py).

Numpy in, numpy out: the av.VideoFrame conversions live with the callers.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from core.ar.effects import apply_treatments, watermark
from core.ar.smoothing import OneEuroFilter, OneEuroParams
from core.vision.landmarks import FaceLandmarks, Landmarks, points_px

logger = logging.getLogger(__name__)


class VideoLandmarker(Protocol):
    def detect_video(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[FaceLandmarks]: ...


EffectFunction = Callable[[np.ndarray, Landmarks, Mapping[str, float]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LiveView:
    """How to present a frame: the treatments to simulate and the before/after layout."""

    treatments: Mapping[str, float] = dataclasses.field(default_factory=dict)
    split_view: bool = False  # a vertical wiper: "before" left of split_position, "after" right
    split_position: float = 0.5
    side_by_side: bool = False  # before | after, each half-width

    @property
    def active(self) -> bool:
        return any(float(v) > 0 for v in self.treatments.values())


@dataclass
class LiveStats:
    submitted_frames: int = 0
    processed_frames: int = 0  # frames the effects (processor) or the landmarks (tracker) ran on
    dropped_frames: int = 0  # frames replaced in the slot before the worker took them
    no_face_frames: int = 0
    errors: int = 0
    last_processing_ms: float = 0.0


def _default_landmarker() -> VideoLandmarker:
    from core.vision.landmarks import FaceLandmarker

    return FaceLandmarker(mode="video")


class SmoothedLandmarks:
    """A VIDEO-mode landmarker (created on first use) with One Euro smoothing; one thread only."""

    def __init__(
        self,
        landmarker_factory: Callable[[], VideoLandmarker] = _default_landmarker,
        smoothing: OneEuroParams | None = None,
    ) -> None:
        self._factory = landmarker_factory
        self._landmarker: VideoLandmarker | None = None
        self._smoother = OneEuroFilter(smoothing or OneEuroParams())
        self._last_ts_ms = -1

    def __call__(self, frame_bgr: np.ndarray, timestamp_s: float) -> FaceLandmarks | None:
        """The first face with smoothed points, or None (the track restarts at the next face)."""
        if self._landmarker is None:
            self._landmarker = self._factory()
        # MediaPipe VIDEO mode needs strictly increasing integer timestamps.
        ts_ms = max(int(timestamp_s * 1000), self._last_ts_ms + 1)
        self._last_ts_ms = ts_ms
        faces = self._landmarker.detect_video(frame_bgr, ts_ms)
        if not faces:
            self._smoother.reset()
            return None
        face = faces[0]
        points = points_px(face, with_z=True, dtype=np.float64)
        return face.with_points(self._smoother(points, timestamp_s).astype(np.float32))

    def reset(self) -> None:
        self._smoother.reset()

    def close(self) -> None:
        close = getattr(self._landmarker, "close", None)
        if callable(close):
            close()
        self._landmarker = None


@dataclass(frozen=True)
class TrackedFace:
    landmarks: FaceLandmarks  # smoothed
    frame_time: float  # timestamp of the frame they were found on
    produced_at: float  # clock() when they were ready


class LandmarkTracker:
    """Landmarks on the newest submitted frame, in a thread, at whatever rate it manages.

    `latest()` is the newest smoothed face, for composing every frame; None when there is no
    face or the tracker fell more than `max_age_s` behind (a stale face would misplace effects).
    """

    def __init__(
        self,
        landmarker_factory: Callable[[], VideoLandmarker] | None = None,
        smoothing: OneEuroParams | None = None,
        max_age_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # None: the vision area's FaceLandmarker in VIDEO mode.
        self._landmarks = SmoothedLandmarks(
            _default_landmarker if landmarker_factory is None else landmarker_factory, smoothing
        )
        self._max_age = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._slot: tuple[np.ndarray, float] | None = None
        self._face: TrackedFace | None = None
        self._generation = 0  # bumped by clear(): a result of an older generation is discarded
        self._stopped = False
        self._worker: threading.Thread | None = None
        self.stats = LiveStats()

    def submit(self, frame_bgr: np.ndarray, timestamp_s: float | None = None) -> None:
        """Offer the newest frame (not copied: the caller must not change it afterwards)."""
        try:
            with self._lock:
                if self._stopped:
                    return
                self.stats.submitted_frames += 1
                if self._slot is not None:
                    self.stats.dropped_frames += 1
                self._slot = (frame_bgr, self._clock() if timestamp_s is None else timestamp_s)
                if self._worker is None or not self._worker.is_alive():
                    self._worker = threading.Thread(target=self._run, name="live-landmarks", daemon=True)
                    self._worker.start()
                self._wake.notify()
        except Exception:
            self.stats.errors += 1
            logger.exception("landmark submit failed")

    def latest(self) -> TrackedFace | None:
        with self._lock:
            face = self._face
        if face is None or self._clock() - face.produced_at > self._max_age:
            return None
        return face

    def clear(self) -> None:
        """Forget the face and any waiting frame (the view was turned off)."""
        with self._lock:
            self._slot = None
            self._face = None
            self._generation += 1

    def _run(self) -> None:
        seen_generation = 0
        while True:
            with self._lock:
                while self._slot is None and not self._stopped:
                    self._wake.wait(timeout=1.0)
                if self._stopped:
                    return
                frame, ts = self._slot  # type: ignore[misc]
                self._slot = None
                generation = self._generation
            if generation != seen_generation:  # the smoothing is this thread's alone
                self._landmarks.reset()
                seen_generation = generation
            started = time.perf_counter()
            try:
                face = self._landmarks(frame, ts)
            except Exception:
                self.stats.errors += 1
                logger.exception("live landmarks failed")
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            with self._lock:
                if generation != self._generation:
                    continue  # cleared while it ran
                if face is None:
                    self._face = None
                    self.stats.no_face_frames += 1
                else:
                    self._face = TrackedFace(face, ts, self._clock())
                self.stats.processed_frames += 1
                self.stats.last_processing_ms = elapsed_ms

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout=2.0)
        if worker is None or not worker.is_alive():
            self._landmarks.close()


def simulate_frame(
    frame_bgr: np.ndarray,
    landmarks: Landmarks,
    treatments: Mapping[str, float],
    effect: EffectFunction = apply_treatments,
) -> np.ndarray:
    """The unmarked simulation of one frame (the mark goes on whatever is finally shown)."""
    simulated, _changed = effect(frame_bgr, landmarks, treatments)
    return simulated


def compose_view(raw_bgr: np.ndarray, simulated_bgr: np.ndarray, view: LiveView) -> np.ndarray:
    """What `view` shows for a raw/simulated pair: simulated, wiper or side by side, always marked."""
    if view.side_by_side:
        shown = _side_by_side(raw_bgr, simulated_bgr)
    elif view.split_view:
        shown = _wiper(raw_bgr, simulated_bgr, view.split_position)
    else:
        shown = simulated_bgr
    return watermark(shown)


def _wiper(before: np.ndarray, after: np.ndarray, position: float) -> np.ndarray:
    width = before.shape[1]
    split_x = int(round(float(np.clip(position, 0.0, 1.0)) * width))
    shown = after.copy()
    shown[:, :split_x] = before[:, :split_x]
    if 0 < split_x < width:
        cv2.line(shown, (split_x, 0), (split_x, shown.shape[0] - 1), (255, 255, 255), 2)
    return shown


def _side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Both images at half width, letterboxed, in a frame of the original size."""
    height, width = before.shape[:2]
    half_w = width // 2
    scale = min(half_w / width, 1.0)
    new_h = max(1, int(round(height * scale)))
    shown = np.zeros_like(before)
    top = (height - new_h) // 2
    shown[top : top + new_h, :half_w] = cv2.resize(before, (half_w, new_h), interpolation=cv2.INTER_AREA)
    shown[top : top + new_h, half_w : 2 * half_w] = cv2.resize(
        after, (half_w, new_h), interpolation=cv2.INTER_AREA
    )
    cv2.putText(
        shown, "before", (8, top + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA
    )
    cv2.putText(
        shown, "after", (half_w + 8, top + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA
    )
    return shown
