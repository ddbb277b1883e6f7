"""The live consult's media for the pages: the call widget, call passes, and the AR media server.

Topology (measured reasons in docs/LIVE_CONSULT.md):
- patient <-> physician: video and sound go directly between the two browsers (WebRTC,
  DTLS-SRTP end to end) through the call widget in components/live_call/; the server carries
  only their signalling (core/live/http.py, core/live/signalling.py). No server CPU per frame.
- the AR leg, only while the physician has AR on: the patient's camera goes to the server's AR
  media process (core/live/media.py), which applies the treatments to every frame and sends the
  result to the physician, and to the patient when the physician shares it.

Rooms and calls live in this server process's memory (one `RoomRegistry`, one `CallHub`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
import streamlit.components.v1 as components

from components.i18n import N_, _, tr
from core.access import Principal
from core.ar.live import LiveView
from core.live.http import ARMedia, LiveServices, call_quality_dir, install
from core.live.rooms import ARSettings, Room, RoomRegistry
from core.live.signalling import CallHub

logger = logging.getLogger(__name__)

_call_widget = components.declare_component("live_call", path=str(Path(__file__).parent / "live_call"))

CALL_LABELS: dict[str, str] = {  # English message ids, sent to the widget translated
    "camera_starting": N_("Starting your camera ..."),
    "camera_blocked": N_(
        "The browser blocked the camera and microphone. Allow them (the camera icon in the address bar), "
        "then press Try again."
    ),
    "camera_missing": N_("No camera or microphone was found. Connect one, then press Try again."),
    "camera_busy": N_("Another program is using the camera. Close it, then press Try again."),
    "camera_failed": N_("The camera could not start. Press Try again."),
    "camera_off": N_("Turn camera off"),
    "camera_on": N_("Turn camera on"),
    "mute": N_("Mute microphone"),
    "unmute": N_("Unmute microphone"),
    "sound_on": N_("Turn on sound"),
    "retry": N_("Try again"),
    "you": N_("You"),
    "remote_patient": N_("Patient"),
    "remote_physician": N_("Your physician"),
    "ar_physician": N_("AR preview - simulation, not a guaranteed result"),
    "ar_patient": N_("Simulation shown by your physician - not a guaranteed result"),
    "connecting": N_("Connecting ..."),
    "connected": N_("Connected"),
    "reconnecting": N_("Connection interrupted - reconnecting ..."),
    "waiting": N_("Your camera is ready. Waiting for your physician to let you in ..."),
    "waiting_for_patient": N_("Waiting for the patient ..."),
    "waiting_for_physician": N_("Waiting for your physician ..."),
    "ar_starting": N_("Starting the AR preview ..."),
    "server_lost": N_("The connection to the clinic is interrupted - retrying ..."),
    "ended": N_("This consult has ended."),
    "snapshot": N_("Snapshot to case"),
    "snapshot_none": N_("No video from the patient yet."),
}


@st.cache_resource
def _room_registry_for(data_dir: str) -> RoomRegistry:
    from components.session import get_clinic

    clinic = get_clinic()
    return RoomRegistry(clinic, hosts=clinic.room_hosts)  # several servers: rooms recorded in the db


def room_registry() -> RoomRegistry:
    """The server's one room registry per clinic (rooms live in this process's memory)."""
    from core.paths import data_dir

    return _room_registry_for(str(data_dir()))


# Landmarks at up to 15 per second, every frame still composed with the newest of them: on a
# 2-core server that saves about a fifth of a core per consult with AR on (bench_ar_media.py).
AR_LANDMARK_MAX_FPS = 15.0


def _media_server(ice_servers: list[dict]) -> ARMedia | None:
    try:
        from core.live.media import ARMediaServer, ProcessorOptions

        return ARMediaServer(
            ice_servers, processor_options=ProcessorOptions(landmark_max_fps=AR_LANDMARK_MAX_FPS)
        )
    except (ImportError, ValueError):  # no AR leg (e.g. a malformed ICE server entry): calls still work
        logger.exception("AR media server unavailable: the AR preview is off on this server")
        return None


@st.cache_resource
def _live_services_for(data_dir: str) -> LiveServices:
    from core.config import Settings

    settings = Settings.from_env()
    services = LiveServices(
        hub=CallHub(room_registry()),
        media=_media_server(list(settings.ice_servers)),
        stats_dir=call_quality_dir(settings),
    )
    install(services)  # the HTTP routes serve calls from now on
    return services


def live_services() -> LiveServices:
    from core.paths import data_dir

    return _live_services_for(str(data_dir()))


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
    """Push the room's AR settings to the AR media server (effective from its next frame)."""
    media = live_services().media
    if media is None:
        return
    from core.live.media import ARViews

    physician, patient = views_from_settings(registry, room)
    media.set_views(room.room_id, ARViews(physician=physician, patient=patient))


def close_room_media(room_id: str) -> None:
    """After a consult ends: stop its AR leg and forget its signalling."""
    services = live_services()
    if services.media is not None:
        try:
            services.media.close_room(room_id)
        except Exception:  # ending the consult must not fail over the preview
            logger.exception("closing the AR leg failed")
    services.hub.forget_room(room_id)


def call_stats(room_id: str, role: str) -> dict[str, Any]:
    """What the browser of `role` last reported for this room ({} before its first report)."""
    return live_services().hub.client_stats(room_id, role)


def ar_snapshot(room_id: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(raw patient frame, physician's marked AR view) from the AR leg, or (None, None)."""
    media = live_services().media
    if media is None:
        return None, None
    return media.snapshot(room_id)


def _api_base() -> str:
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/live/api" if base else "/live/api"


def decode_snapshot(value: Any, room_id: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A new snapshot from the call widget's value: (raw BGR, marked AR view BGR or None).

    With the AR view on screen the widget sends only that view (its direct video is paused),
    and the raw frame comes from the AR leg. The widget keeps its last value across runs, so
    each snapshot is handed out once.
    """
    import base64

    import cv2

    snapshot = value.get("snapshot") if isinstance(value, dict) else None
    if not isinstance(snapshot, dict):
        return None
    done_key = f"call-snapshots-{room_id[:12]}"
    done: set[str] = st.session_state.setdefault(done_key, set())
    snapshot_id = str(snapshot.get("id"))
    if snapshot_id in done:
        return None
    done.add(snapshot_id)

    def decode(data_url: Any) -> np.ndarray | None:
        if not isinstance(data_url, str) or "," not in data_url:
            return None
        raw = base64.b64decode(data_url.split(",", 1)[1], validate=False)
        return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)

    simulated_bgr = decode(snapshot.get("simulated"))
    raw_bgr = decode(snapshot.get("raw"))
    if raw_bgr is None and simulated_bgr is not None:
        raw_bgr, _ = ar_snapshot(room_id)
    if raw_bgr is None:
        return None
    return raw_bgr, simulated_bgr


def render_call(room_id: str, principal: Principal) -> Any:
    """The call widget for this user in this room: own camera, the other side, reconnects.

    Render it on every run at the same place: a run that leaves it out removes its frame from
    the page and ends the call in this browser.
    """
    from core.config import Settings

    services = live_services()
    pass_key = f"call-pass-{room_id[:12]}"
    if pass_key not in st.session_state:  # one pass per page session: the widget's args stay put
        st.session_state[pass_key] = services.hub.issue_pass(room_id, str(principal.user_id), principal.role)
    settings = Settings.from_env()
    return _call_widget(
        call_pass=st.session_state[pass_key],
        role=principal.role,
        api=_api_base(),
        ice_servers=list(settings.ice_servers),
        ice_transport_policy=settings.ice_transport_policy,
        labels={name: _(text) for name, text in CALL_LABELS.items()},
        lang=tr().html_lang,  # the call's words read right to left in Arabic
        dir=tr().direction,
        probe_stamps=settings.call_quality_log == "probe",
        key=f"call-{room_id[:12]}",
        default=None,
    )
