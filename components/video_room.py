"""Live consult video relay through the server (streamlit-webrtc), with the live AR processor.

Topology (see ../shared/research/webrtc.md for why):
- patient: SENDRECV. Its frame callback feeds the room's LiveARProcessor and returns the
  patient's own view (the simulation only when the physician shares it).
- physician: RECVONLY with `source_video_track=<patient ctx.output_video_track>`; its own callback
  shows the physician's view (AR / before-after split from the processor's latest raw+simulated
  pair, whatever the patient sees).
- the reverse direction: the physician's camera (SENDRECV, no callback: decoded yuv420p frames
  pass untouched) relayed to the patient's RECVONLY viewer the same way.
Tracks are shared between sessions through a `st.cache_resource` registry with a lock; a viewer
re-runs itself (`st.fragment(run_every=1)`) until its source track exists, and re-keys its
component when the source restarts (trap 4: a stopped source leaves a frozen viewer).
Every frame a callback changes is a fresh yuv420p frame from webrtc_support.bgr_to_frame, and
frames are converted to BGR only as private copies (traps 2 and 3).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

from core.ar.live import LiveARProcessor, LiveView
from core.rooms import ARSettings, Room, RoomRegistry

logger = logging.getLogger(__name__)

# Test hook: when set, the patient callback writes the processor's counters to
# <data dir>/live_stats/<room prefix>.json about once a second (browser tests read it).
LIVE_STATS_ENV = "CLINIC_LIVE_STATS"
MEDIA_CONSTRAINTS = {
    "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30}},
    "audio": True,
}


@dataclass
class RoomMedia:
    """Tracks and the AR processor of one room, shared by the patient's and physician's sessions."""

    room_id: str
    processor: LiveARProcessor = field(default_factory=LiveARProcessor)
    patient_video: Any = None
    patient_audio: Any = None
    patient_epoch: int = 0
    physician_video: Any = None
    physician_audio: Any = None
    physician_epoch: int = 0
    patient_view: LiveView = field(default_factory=LiveView)
    physician_view: LiveView = field(default_factory=LiveView)
    camera_frames: int = 0
    audio_frames: int = 0
    quality_messages: list[str] = field(default_factory=list)
    last_stats_write: float = 0.0
    # The streamer contexts of the two senders, so either side's page can notice a sender
    # that stopped or restarted (its output track changes or ends) and reconnect its viewer.
    patient_ctx: Any = None
    physician_ctx: Any = None


class MediaRegistry:
    """Process-wide: room id -> RoomMedia. All mutation under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._media: dict[str, RoomMedia] = {}

    def for_room(self, room_id: str) -> RoomMedia:
        with self._lock:
            media = self._media.get(room_id)
            if media is None:
                media = RoomMedia(room_id=room_id)
                self._media[room_id] = media
            return media

    def set_patient_tracks(self, room_id: str, video: Any, audio: Any) -> None:
        media = self.for_room(room_id)
        with self._lock:
            if video is not media.patient_video:
                media.patient_video, media.patient_audio = video, audio
                media.patient_epoch += 1  # viewers re-key and reconnect

    def set_physician_tracks(self, room_id: str, video: Any, audio: Any) -> None:
        media = self.for_room(room_id)
        with self._lock:
            if video is not media.physician_video:
                media.physician_video, media.physician_audio = video, audio
                media.physician_epoch += 1

    def refresh(self, room_id: str) -> None:
        """Re-read both senders' current output tracks (cheap; called every second by viewers)."""
        media = self.for_room(room_id)
        video, audio = _live_tracks(media.patient_ctx)
        self.set_patient_tracks(room_id, video, audio)
        video, audio = _live_tracks(media.physician_ctx)
        self.set_physician_tracks(room_id, video, audio)

    def close(self, room_id: str) -> None:
        with self._lock:
            media = self._media.pop(room_id, None)
        if media is not None:
            media.processor.stop()


def _live_tracks(ctx: Any) -> tuple[Any, Any]:
    """(video, audio) tracks to relay from a playing sender, or (None, None)."""
    if ctx is None:
        return None, None
    try:
        if not ctx.state.playing:
            return None, None
        video = ctx.output_video_track
        if video is None or getattr(video, "readyState", "live") == "ended":
            return None, None
        return video, ctx.output_audio_track or ctx.input_audio_track
    except Exception:  # the worker can disappear between accesses
        return None, None


@st.cache_resource
def _room_registry_for(data_dir: str) -> RoomRegistry:
    from components.session import get_clinic

    return RoomRegistry(get_clinic())


def room_registry() -> RoomRegistry:
    """The server's one room registry per clinic (rooms live in this process's memory)."""
    from core.paths import data_dir

    return _room_registry_for(str(data_dir()))


@st.cache_resource
def media_registry() -> MediaRegistry:
    return MediaRegistry()


def views_from_settings(registry: RoomRegistry, room: Room) -> tuple[LiveView, LiveView]:
    """(physician view, patient view) for the room's AR settings."""
    settings: ARSettings = room.ar
    physician = LiveView(
        treatments=settings.active_treatments(),
        split_view=settings.split_view,
        split_position=settings.split_position,
        side_by_side=settings.side_by_side,
    )
    patient_settings = registry.ar_for_patient(room)
    patient = LiveView(treatments=patient_settings.active_treatments())
    return physician, patient


def apply_settings(registry: RoomRegistry, room: Room) -> None:
    """Push the room's AR settings to the processor and the two views."""
    media = media_registry().for_room(room.room_id)
    physician, patient = views_from_settings(registry, room)
    media.physician_view, media.patient_view = physician, patient
    media.processor.update_view(LiveView(treatments=physician.treatments))


def _write_stats(media: RoomMedia) -> None:
    if not os.environ.get(LIVE_STATS_ENV):
        return
    now = time.monotonic()
    if now - media.last_stats_write < 1.0:
        return
    media.last_stats_write = now
    from core.paths import data_dir

    directory = data_dir() / "live_stats"
    directory.mkdir(parents=True, exist_ok=True)
    stats = media.processor.stats
    payload = {
        "camera_frames": media.camera_frames,
        "audio_frames": media.audio_frames,
        "submitted_frames": stats.submitted_frames,
        "processed_frames": stats.processed_frames,
        "dropped_frames": stats.dropped_frames,
        "no_face_frames": stats.no_face_frames,
        "errors": stats.errors,
        "last_processing_ms": round(stats.last_processing_ms, 2),
        "patient_view_active": media.patient_view.active,
        "physician_view_active": media.physician_view.active,
    }
    partial = directory / f"{media.room_id[:12]}.json.part"
    partial.write_text(json.dumps(payload))
    partial.replace(directory / f"{media.room_id[:12]}.json")


# --- frame callbacks (run on the WebRTC worker threads; must never raise) -------------------


def make_patient_callback(media: RoomMedia):
    from components.webrtc_support import bgr_to_frame, frame_to_bgr

    quality = _QualityProbe(media)

    def callback(frame):
        try:
            bgr = frame_to_bgr(frame)  # a private copy (trap 3)
            media.camera_frames += 1
            quality.offer(bgr)
            media.processor.submit(bgr)
            shown = media.processor.render(bgr, media.patient_view)
            _write_stats(media)
            if shown is bgr:  # unchanged: send the decoded frame itself (no re-conversion)
                return frame
            return bgr_to_frame(shown, frame)
        except Exception:
            logger.exception("patient frame callback failed")
            return frame

    return callback


def make_patient_audio_callback(media: RoomMedia):
    def callback(frame):
        media.audio_frames += 1
        return frame

    return callback


def make_physician_view_callback(media: RoomMedia):
    """The physician's view of the (relayed) patient stream.

    Without AR the relayed yuv420p frame passes through untouched (no conversion, no CPU, and
    no conversion of a frame shared with other consumers: trap 2). With AR the view is composed
    from the processor's latest raw/simulated pair as a fresh frame.
    """
    from components.webrtc_support import bgr_to_frame

    def callback(frame):
        try:
            view = media.physician_view
            raw = media.processor.latest_raw
            if not view.active or raw is None:
                return frame
            return bgr_to_frame(media.processor.render(raw, view), frame)
        except Exception:
            logger.exception("physician view callback failed")
            return frame

    return callback


class _QualityProbe:
    """Runs the photo quality gate on about one frame a second, off the callback thread."""

    def __init__(self, media: RoomMedia, period_s: float = 1.0) -> None:
        self._media = media
        self._period = period_s
        self._busy = threading.Event()
        self._last = 0.0

    def offer(self, bgr: np.ndarray) -> None:
        now = time.monotonic()
        if self._busy.is_set() or now - self._last < self._period:
            return
        self._last = now
        self._busy.set()
        threading.Thread(target=self._check, args=(bgr,), daemon=True, name="live-quality").start()

    def _check(self, bgr: np.ndarray) -> None:
        try:
            self._media.quality_messages = live_quality_messages(bgr)
        except Exception:
            logger.exception("live quality check failed")
        finally:
            self._busy.clear()


def live_quality_messages(bgr: np.ndarray) -> list[str]:
    """Short, actionable hints ("too dark", "move closer") from the vision quality gate."""
    from core.vision.quality import QualityOptions, check_photo

    result = check_photo(bgr, view="front", options=QualityOptions.live())
    messages: list[str] = []
    for check in result.failing + result.warnings:
        # A video frame is always 640x480: the photo-size advice does not apply to a call.
        if check.name != "image_size" and check.instruction and check.instruction not in messages:
            messages.append(check.instruction)
    return messages


# --- widgets ---------------------------------------------------------------------------------


def _rtc_configuration() -> dict:
    from components.webrtc_support import rtc_configuration

    return rtc_configuration()


def patient_streamer(room_id: str, key_prefix: str = "patient") -> Any:
    """The patient's camera + mic (SENDRECV); registers its output tracks for the physician."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    import components.webrtc_support  # noqa: F401  (installs the stale-context patch, trap 1)

    media = media_registry().for_room(room_id)
    ctx = webrtc_streamer(
        key=f"{key_prefix}-{room_id[:10]}",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=_rtc_configuration(),
        media_stream_constraints=MEDIA_CONSTRAINTS,
        video_frame_callback=make_patient_callback(media),
        audio_frame_callback=make_patient_audio_callback(media),
        async_processing=True,
        # The audio comes back only so that its callback runs (the mic check counts frames); the
        # patient's own player is muted, so there is no echo.
        video_html_attrs={"autoPlay": True, "playsInline": True, "muted": True, "style": {"width": "100%"}},
        audio_html_attrs={"autoPlay": True, "muted": True},
    )
    media.patient_ctx = ctx
    media_registry().refresh(room_id)
    return ctx


def physician_camera(room_id: str) -> Any:
    """The physician's own camera + mic, relayed to the patient."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    import components.webrtc_support  # noqa: F401

    ctx = webrtc_streamer(
        key=f"doctor-cam-{room_id[:10]}",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=_rtc_configuration(),
        media_stream_constraints=MEDIA_CONSTRAINTS,
        # No callback: the decoded yuv420p frames are relayed as they are (nothing converts them).
        sendback_audio=False,
    )
    media_registry().for_room(room_id).physician_ctx = ctx
    media_registry().refresh(room_id)
    return ctx


def _viewer(key: str, video_track: Any, audio_track: Any, callback) -> Any:
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    import components.webrtc_support  # noqa: F401

    return webrtc_streamer(
        key=key,
        mode=WebRtcMode.RECVONLY,
        rtc_configuration=_rtc_configuration(),
        source_video_track=video_track,
        source_audio_track=audio_track,
        video_frame_callback=callback,
        desired_playing_state=True,
        media_stream_constraints={"video": True, "audio": audio_track is not None},
    )


def render_patient_view_for_physician(room_id: str) -> None:
    """The physician's view of the patient; waits (re-running) until the patient's track exists."""
    media = media_registry().for_room(room_id)
    rendered_epoch_key = f"viewer-epoch-{room_id[:10]}"

    @st.fragment(run_every=1)
    def watch() -> None:
        # Re-run the page when the patient's stream appears, restarts or stops (trap 4).
        media_registry().refresh(room_id)
        if st.session_state.get(rendered_epoch_key) != media.patient_epoch:
            st.rerun(scope="app")
        if media.patient_video is None:
            st.info("Waiting for the patient's video ...", icon=":material/hourglass_top:")

    st.session_state[rendered_epoch_key] = media.patient_epoch
    # The fragment first, in its own container: its position never changes when the viewer
    # appears or goes, so a timed fragment run never writes into a moved element.
    with st.container():
        watch()
    if media.patient_video is not None:
        _viewer(
            f"viewer-{room_id[:10]}-{media.patient_epoch}",
            media.patient_video,
            media.patient_audio,
            make_physician_view_callback(media),
        )


def render_physician_view_for_patient(room_id: str) -> None:
    """The patient's view of the physician's camera (when the physician turned it on)."""
    media = media_registry().for_room(room_id)
    rendered_epoch_key = f"doctor-epoch-{room_id[:10]}"

    @st.fragment(run_every=1)
    def watch() -> None:
        media_registry().refresh(room_id)
        if st.session_state.get(rendered_epoch_key) != media.physician_epoch:
            st.rerun(scope="app")
        if media.physician_video is None:
            st.caption("The physician's camera is off.")

    st.session_state[rendered_epoch_key] = media.physician_epoch
    with st.container():  # fixed position for the timed fragment (see above)
        watch()
    if media.physician_video is not None:
        _viewer(
            f"doctor-view-{room_id[:10]}-{media.physician_epoch}",
            media.physician_video,
            media.physician_audio,
            None,
        )
