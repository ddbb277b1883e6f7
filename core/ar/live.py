"""Per-stream live AR: landmarks in VIDEO mode + One Euro smoothing + effects, off the callback.

The WebRTC frame callback must never wait for the effects: a slow frame would queue every later
frame behind it and the call's latency would grow without bound. So the callback only drops the
newest frame into a one-slot buffer (replacing any frame not yet taken: that one is DROPPED) and
returns the most recent finished simulation (or the raw frame when there is none, no face, or
it is stale). A worker thread takes the newest frame whenever it is free.

Numpy in, numpy out: the av.VideoFrame conversions live in components/video_room.py.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from core.ar.effects import apply_treatments, watermark
from core.ar.smoothing import OneEuroFilter, OneEuroParams

logger = logging.getLogger(__name__)


class VideoLandmarker(Protocol):
    def detect_video(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[Any]: ...


EffectFunction = Callable[[np.ndarray, Any, Mapping[str, float]], tuple[np.ndarray, np.ndarray]]


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
class _Result:
    raw: np.ndarray
    simulated: np.ndarray  # unmarked; the mark is drawn on whatever is finally shown
    produced_at: float
    treatments: dict[str, float]


@dataclass
class LiveStats:
    submitted_frames: int = 0
    processed_frames: int = 0  # frames the effects were applied to
    dropped_frames: int = 0  # frames replaced in the slot before the worker took them
    no_face_frames: int = 0
    errors: int = 0
    last_processing_ms: float = 0.0


def _default_landmarker() -> VideoLandmarker:
    from core.vision.landmarks import FaceLandmarker

    return FaceLandmarker(mode="video")


def with_points(landmarks: Any, points: np.ndarray) -> Any:
    """The same landmark object with smoothed points (dataclass or plain array)."""
    if isinstance(landmarks, np.ndarray):
        return points
    if dataclasses.is_dataclass(landmarks):
        return dataclasses.replace(landmarks, points=points)
    return points


class LiveARProcessor:
    """One per patient stream; thread-safe settings; never blocks or raises into the callback."""

    def __init__(
        self,
        landmarker_factory: Callable[[], VideoLandmarker] = _default_landmarker,
        effect: EffectFunction = apply_treatments,
        smoothing: OneEuroParams | None = None,
        max_result_age_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._landmarker_factory = landmarker_factory
        self._landmarker: VideoLandmarker | None = None
        self._effect = effect
        self._smoother = OneEuroFilter(smoothing or OneEuroParams())
        self._max_age = max_result_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._slot: tuple[np.ndarray, float, dict[str, float]] | None = None
        self._result: _Result | None = None
        self._latest_raw: np.ndarray | None = None
        self._view = LiveView()
        self._stopped = False
        self._worker: threading.Thread | None = None
        self._last_ts_ms = -1
        self.stats = LiveStats()

    # --- settings (physician UI thread) -----------------------------------------------------------
    def update_view(self, view: LiveView) -> None:
        with self._lock:
            self._view = view
            if not view.active:
                self._result = None
                self._slot = None

    @property
    def view(self) -> LiveView:
        with self._lock:
            return self._view

    @property
    def latest_raw(self) -> np.ndarray | None:
        with self._lock:
            return self._latest_raw

    # --- callback side (must be fast) -------------------------------------------------------------
    def submit(self, frame_bgr: np.ndarray, timestamp_s: float | None = None) -> None:
        """Offer the newest frame to the worker; an older frame still waiting is dropped."""
        try:
            with self._lock:
                self.stats.submitted_frames += 1
                self._latest_raw = frame_bgr
                if not self._view.active or self._stopped:
                    return
                if self._slot is not None:
                    self.stats.dropped_frames += 1
                ts = self._clock() if timestamp_s is None else timestamp_s
                self._slot = (frame_bgr, ts, dict(self._view.treatments))
                self._ensure_worker_locked()
                self._wake.notify()
        except Exception:  # never into the WebRTC callback
            self.stats.errors += 1
            logger.exception("live AR submit failed")

    def render(self, raw_bgr: np.ndarray, view: LiveView | None = None) -> np.ndarray:
        """What to show now for `view` (default: the processor's): raw, simulated or before/after."""
        try:
            view = view or self.view
            if not view.active:
                return raw_bgr
            with self._lock:
                result = self._result
            if result is None or self._clock() - result.produced_at > self._max_age:
                return raw_bgr  # no face, nothing yet, or the worker fell far behind
            if view.side_by_side:
                shown = _side_by_side(result.raw, result.simulated)
            elif view.split_view:
                shown = _wiper(result.raw, result.simulated, view.split_position)
            else:
                shown = result.simulated
            return watermark(shown)
        except Exception:
            self.stats.errors += 1
            logger.exception("live AR render failed")
            return raw_bgr

    def process(self, frame_bgr: np.ndarray, timestamp_s: float | None = None) -> np.ndarray:
        """Callback helper: submit the frame and return what to show for the processor's view."""
        self.submit(frame_bgr, timestamp_s)
        return self.render(frame_bgr)

    # --- worker -------------------------------------------------------------------------------------
    def _ensure_worker_locked(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="live-ar", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._slot is None and not self._stopped:
                    self._wake.wait(timeout=1.0)
                if self._stopped:
                    return
                frame, ts, treatments = self._slot  # type: ignore[misc]
                self._slot = None
            try:
                self._process_one(frame, ts, treatments)
            except Exception:
                self.stats.errors += 1
                logger.exception("live AR processing failed; frame passed through raw")

    def _process_one(self, frame: np.ndarray, ts: float, treatments: dict[str, float]) -> None:
        started = time.perf_counter()
        if self._landmarker is None:
            self._landmarker = self._landmarker_factory()
        # MediaPipe VIDEO mode needs strictly increasing integer timestamps.
        ts_ms = max(int(ts * 1000), self._last_ts_ms + 1)
        self._last_ts_ms = ts_ms
        faces = self._landmarker.detect_video(frame, ts_ms)
        if not faces:
            self._smoother.reset()
            with self._lock:
                self._result = None
                self.stats.no_face_frames += 1
            return
        face = faces[0]
        points = np.asarray(getattr(face, "points", face), dtype=np.float64)
        smoothed = self._smoother(points, ts).astype(np.float32)
        simulated, _changed = self._effect(frame, with_points(face, smoothed), treatments)
        with self._lock:
            self._result = _Result(
                raw=frame, simulated=simulated, produced_at=self._clock(), treatments=treatments
            )
            self.stats.processed_frames += 1
            self.stats.last_processing_ms = (time.perf_counter() - started) * 1000.0

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout=2.0)
        close = getattr(self._landmarker, "close", None)
        if callable(close):
            close()


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
