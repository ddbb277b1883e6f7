"""Live photo guide: the webcam preview shows a face outline and every quality check live, and
takes the photo by itself once the pose, light and focus have been right for about a second.

`LiveGuideProcessor` is plain Python (testable without a browser): the WebRTC frame callback only
hands the newest frame to a worker thread and draws the latest known status on the preview, so it
never blocks; frames that arrive while the worker is busy replace each other (dropped). The worker
runs MediaPipe in VIDEO mode (one instance per stream) and the quality gate's live fast path
(YuNet only every `detector_every` frames, on a small copy).

"Ready" = no check FAILS. Warnings are allowed (a 640x480 preview is always below the ATA
minimum size, for example) and travel with the captured photo in its quality JSON.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from core.i18n import N_
from core.vision.quality import QualityOptions, QualityResult, check_photo
from core.vocabulary import normalise_view

logger = logging.getLogger(__name__)

# English message ids (core.i18n.N_ marks them); the page shows them translated. The preview
# itself is drawn by a worker thread in English words (OpenCV draws ASCII only); the same checks
# are listed as text, in the reader's language, beside it.
VIEW_HINTS = {
    "front": N_("Look straight into the camera"),
    "left_oblique": N_("Turn your head to your right (left cheek to the camera)"),
    "right_oblique": N_("Turn your head to your left (right cheek to the camera)"),
    "left_profile": N_("Turn fully to your right (left side to the camera)"),
    "right_profile": N_("Turn fully to your left (right side to the camera)"),
    "close_up": N_("Hold the camera close to the area"),
}
CHECK_LABELS: dict[str, str] = {
    "one_face": N_("One face"),
    "image_size": N_("Photo size"),
    "distance": N_("Distance"),
    "face_size": N_("Face size"),
    "yaw": N_("Head turn"),
    "pitch": N_("Chin height"),
    "roll": N_("Head tilt"),
    "exposure": N_("Brightness"),
    "backlight": N_("Light behind you"),
    "lighting": N_("Even light"),
    "shadows": N_("Shadows"),
    "colour": N_("Colours"),
    "sharpness": N_("Sharpness"),
    "sunglasses": N_("Eyes visible"),
    "hair_or_hand": N_("Forehead free"),
    "cheek_occlusion": N_("Cheeks free"),
    "expression": N_("Neutral expression"),
    "eyes_open": N_("Eyes open"),
    "scale": N_("Close enough for skin detail"),
    "dynamic_range": N_("Contrast"),
    "compression": N_("Original photo quality"),
}
STATUS_WORDS: dict[str, str] = {"pass": N_("OK"), "warn": N_("could be better"), "fail": N_("fix this")}


@dataclass(frozen=True)
class LiveStatus:
    verdict: str | None  # verdict of the last analysed frame, None before the first
    checks: list[tuple[str, str, str]]  # (name, status, instruction)
    ready_for_s: float  # how long every check has been passing
    captured: bool
    analysed_frames: int
    dropped_frames: int


class LiveGuideProcessor:
    """One per stream. `callback(av.VideoFrame)` for streamlit-webrtc; `analyse(bgr)` for tests."""

    def __init__(
        self,
        view: str,
        hold_s: float = 1.0,
        options: QualityOptions | None = None,
        landmarker_factory: Callable[[], Any] | None = None,
        detector_every: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = normalise_view(view)
        self.hold_s = hold_s
        self.options = options or QualityOptions.live()
        self._landmarker_factory = landmarker_factory or _video_landmarker
        self._landmarker: Any = None
        self._detector_every = max(1, detector_every)
        self._clock = clock
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._slot: np.ndarray | None = None
        self._worker: threading.Thread | None = None
        self._stopped = False
        self._frame_index = 0
        self._last_faces: list | None = None
        self._start = clock()
        self._result: QualityResult | None = None
        self._ready_since: float | None = None
        self._captured: tuple[np.ndarray, QualityResult] | None = None
        self._analysed = 0
        self._dropped = 0

    # --- analysis (worker thread, or directly in tests) ---
    def analyse(self, frame_bgr: np.ndarray) -> QualityResult:
        """Run the live gate on one frame and update the auto-capture state."""
        if self._landmarker is None:
            self._landmarker = self._landmarker_factory()
        timestamp_ms = int((self._clock() - self._start) * 1000)
        faces_found = self._landmarker.detect_video(frame_bgr, timestamp_ms)
        landmarks = faces_found[0] if faces_found else None
        run_detector = self._frame_index % self._detector_every == 0 or landmarks is None
        self._frame_index += 1
        result = check_photo(
            frame_bgr,
            self.view,
            self.options,
            landmarks=landmarks,
            faces=None if run_detector else (self._last_faces or []),
        )
        if run_detector:
            self._last_faces = result.faces
        now = self._clock()
        with self._lock:
            self._result = result
            self._analysed += 1
            ready = result.verdict != "fail" and (landmarks is not None or self.view == "close_up")
            if not ready:
                self._ready_since = None
            elif self._ready_since is None:
                self._ready_since = now
            elif self._captured is None and now - self._ready_since >= self.hold_s:
                self._captured = (frame_bgr.copy(), result)
        return result

    # --- frame callback side (must never block) ---
    def submit(self, frame_bgr: np.ndarray) -> None:
        with self._lock:
            if self._slot is not None:
                self._dropped += 1
            self._slot = frame_bgr
            if self._captured is not None:
                self._slot = None  # nothing more to analyse until a retake
                return
        self._ensure_worker()
        self._wakeup.set()

    def callback(self, frame: Any) -> Any:
        """streamlit-webrtc `video_frame_callback`: annotated preview, analysis off-thread."""
        from components.webrtc_support import bgr_to_frame, frame_to_bgr

        try:
            image = frame_to_bgr(frame)
            self.submit(image)
            return bgr_to_frame(self.annotate(image.copy()), frame)
        except Exception:  # noqa: BLE001 - a failing overlay must not kill the stream
            logger.exception("live guide callback failed")
            return frame

    def _ensure_worker(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            return
        self._stopped = False
        self._worker = threading.Thread(target=self._run, name="live-guide", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        while not self._stopped:
            self._wakeup.wait(timeout=1.0)
            self._wakeup.clear()
            with self._lock:
                frame, self._slot = self._slot, None
            if frame is None:
                continue
            try:
                self.analyse(frame)
            except Exception:  # noqa: BLE001 - keep guiding on the next frame
                logger.exception("live guide analysis failed")

    # --- state for the page ---
    def status(self) -> LiveStatus:
        with self._lock:
            result, ready_since, captured = self._result, self._ready_since, self._captured is not None
            analysed, dropped = self._analysed, self._dropped
        checks = []
        if result is not None:
            checks = [(c.name, c.status, c.instruction) for c in result.checks]
        ready_for = 0.0 if ready_since is None else max(0.0, self._clock() - ready_since)
        return LiveStatus(result.verdict if result else None, checks, ready_for, captured, analysed, dropped)

    @property
    def captured(self) -> tuple[np.ndarray, QualityResult] | None:
        with self._lock:
            return self._captured

    def reset(self) -> None:
        """Retake: forget the captured frame and start the hold timer again."""
        with self._lock:
            self._captured = None
            self._ready_since = None

    def close(self) -> None:
        self._stopped = True
        self._wakeup.set()
        if self._landmarker is not None:
            with contextlib.suppress(Exception):  # closing twice or mid-shutdown is harmless
                self._landmarker.close()
            self._landmarker = None

    # --- drawing ---
    def annotate(self, image: np.ndarray) -> np.ndarray:
        """Face outline guide, one coloured mark per check and the hold progress, drawn in place.

        No words on the video: OpenCV draws only small ASCII letters, unreadable on a phone and
        English in every language. The checks in words, translated, are listed under the video."""
        status = self.status()
        h, w = image.shape[:2]
        ready = status.verdict is not None and status.verdict != "fail"
        colour = (60, 200, 60) if ready else (0, 165, 255)
        if self.view != "close_up":
            centre = (w // 2, int(h * 0.47))
            axes = (int(h * 0.26), int(h * 0.36))
            cv2.ellipse(image, centre, axes, 0, 0, 360, colour, 2, cv2.LINE_AA)
        radius = max(5, w // 60)  # large enough to see on a phone's screen
        for index, (_name, state, _instruction) in enumerate(status.checks[:14]):
            tint = {"pass": (60, 200, 60), "warn": (0, 200, 255), "fail": (40, 40, 230)}[state]
            centre_dot = (radius * 2 + index * radius * 3, radius * 2)
            cv2.circle(image, centre_dot, radius + 2, (0, 0, 0), -1, cv2.LINE_AA)
            cv2.circle(image, centre_dot, radius, tint, -1, cv2.LINE_AA)
        if ready or status.captured:
            fraction = 1.0 if status.captured else min(1.0, status.ready_for_s / max(self.hold_s, 1e-3))
            bar = max(8, h // 40)
            cv2.rectangle(image, (0, h - bar), (int(w * fraction), h), (60, 200, 60), -1)
        return image


def _video_landmarker() -> Any:
    from core.vision.landmarks import FaceLandmarker

    return FaceLandmarker(mode="video")


def live_guide(view: str, key: str, hold_s: float = 1.0) -> np.ndarray | None:
    """Render the live guide for one view; returns the captured frame (BGR) once it took one.

    The caller sends the frame through core's intake (`intake_frame`), which encodes it once and
    checks what will be stored; the live checks here only decide when to shoot."""
    import streamlit as st
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from components.i18n import _, tr
    from components.webrtc_support import rtc_configuration

    view = normalise_view(view)
    processor_key = f"{key}__live_processor"
    processor: LiveGuideProcessor | None = st.session_state.get(processor_key)
    if processor is None or processor.view != view:
        processor = LiveGuideProcessor(view, hold_s=hold_s)
        st.session_state[processor_key] = processor

    st.markdown(
        _(
            "{hint}. The photo is taken automatically when no check is red.",
            hint=_(VIEW_HINTS[view]) if view in VIEW_HINTS else "",
        )
    )
    webrtc_streamer(
        key=f"{key}_webrtc",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc_configuration(),
        media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
        video_frame_callback=processor.callback,
        async_processing=True,
    )

    captured = processor.captured
    if captured is None:

        @st.fragment(run_every=0.5)
        def _live_status() -> None:
            status = processor.status()
            if status.captured:
                st.rerun(scope="app")  # hand the photo to the page
            if status.verdict is None:
                st.info(_("Press Start and allow the camera. Live checks appear here."))
                return
            lines = []
            for name, state, instruction in status.checks:
                icon = {"pass": "✅", "warn": "⚠️", "fail": "❌"}[state]
                check = _(CHECK_LABELS[name]) if name in CHECK_LABELS else name
                if state == "fail" and instruction:
                    text = _(
                        "{check}: {status} — {instruction}",
                        check=check,
                        status=_(STATUS_WORDS[state]),
                        instruction=_(instruction),
                    )
                else:
                    text = _("{check}: {status}", check=check, status=_(STATUS_WORDS[state]))
                lines.append(f"{icon} {text}")
            heading = _("Live check")  # a call of its own: the extractor reads no f-string
            st.markdown("  \n".join([f"**{heading}**", *lines]))

            if status.verdict != "fail":
                st.success(
                    _(
                        "Hold still… {done} / {total} s",
                        done=tr().number(min(status.ready_for_s, hold_s), 1),
                        total=tr().number(hold_s, 1),
                    )
                )

        _live_status()
        return None

    image, _result = captured
    st.success(_("Photo captured automatically."))
    if st.button(_("Retake"), key=f"{key}_live_retake"):
        processor.reset()
        st.rerun()
    return image
