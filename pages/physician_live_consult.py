"""Physician: live video consult with the patient, waiting room, AR treatment preview.

Every early exit here is a `return`, never `st.stop()`: a run that ends with st.stop() keeps
the previous run's timed fragments registered in Streamlit, and a tick already on its way then
writes into a layout that no longer exists, which blanks the page (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import streamlit as st

from components.ar_panel import LIVE_ROOM_KEY, treatment_controls
from components.session import get_clinic, require_role
from components.video_room import (
    apply_settings,
    media_registry,
    physician_camera,
    render_patient_view_for_physician,
    room_registry,
)
from core.access import AccessDenied, Principal
from core.rooms import Room, RoomClosed, RoomRegistry, RoomStateError

ENDED_KEY = "live_consult_just_ended"


def choose_room(registry: RoomRegistry, principal: Principal) -> str | None:
    """The room from the URL or this session, else one of the open rooms (None: nothing open)."""
    room_id = st.query_params.get("room") or st.session_state.get(LIVE_ROOM_KEY)
    if room_id:
        return room_id
    if st.session_state.get(ENDED_KEY):
        st.success("The consult has ended.")
    open_rooms = registry.open_rooms(principal)
    if not open_rooms:
        st.info("No live consult is open. Start one from a case (**Case** page → **AR preview** tab).")
        return None
    choice = st.selectbox("Open consults", open_rooms, format_func=lambda r: f"Case {r.case_id}")
    return choice.room_id


def render_live_consult(principal: Principal) -> None:
    clinic = get_clinic()
    registry = room_registry()
    st.title("Live consult")
    room_id = choose_room(registry, principal)
    if room_id is None:
        return
    try:
        room = registry.get_room(principal, room_id)
        registry.join(principal, room_id)
    except RoomClosed:
        st.session_state.pop(LIVE_ROOM_KEY, None)
        st.warning("This consult has ended.")
        return
    except AccessDenied:
        st.error("You do not have access to this consult.")
        return
    st.session_state[LIVE_ROOM_KEY] = room_id
    st.session_state.pop(ENDED_KEY, None)
    case = clinic.cases.get_case(principal, room.case_id)
    st.caption(f"Case {getattr(case, 'reference', room.case_id)}")
    show_consult(registry, principal, room)


def show_consult(registry: RoomRegistry, principal: Principal, room: Room) -> None:
    """Video on the left; waiting room (polled), AR controls, recording, invitation, end on the right."""
    room_id = room.room_id
    video_column, control_column = st.columns([3, 2])

    with control_column:

        @st.fragment(run_every=2)
        def waiting_room() -> None:
            try:
                current = registry.get_room(principal, room_id)
            except RoomClosed:  # ended from elsewhere (e.g. the case page): show the ended state
                st.rerun(scope="app")
                return
            waiting = current.waiting_patients()
            admitted = current.admitted_patients()
            st.subheader("Waiting room")
            if not waiting:
                st.caption("Nobody is waiting." if admitted else "Waiting for the patient to join ...")
            for patient in waiting:
                consent = "consents" if patient.consent_recording else "does not consent"
                st.write(f"**{patient.display_name}** is waiting ({consent} to recording).")
                if st.button(
                    f"Admit {patient.display_name}",
                    key=f"admit-{patient.user_id}",
                    icon=":material/how_to_reg:",
                ):
                    try:
                        registry.admit(principal, room_id, patient.user_id)
                    except RoomStateError as error:
                        st.warning(str(error))
                    st.rerun(scope="app")
            for patient in admitted:
                st.write(f":green-badge[In the call] **{patient.display_name}**")

        with st.container():  # a fixed slot for the timed fragment
            waiting_room()

        st.subheader("AR treatment preview")
        settings = room.ar
        enabled = st.toggle("AR preview on", value=settings.enabled, key="live-ar-enabled")
        treatments = treatment_controls("live-ar", dict(settings.treatments) or {"redness": 0.6})
        layout = st.segmented_control(
            "View",
            ["Simulation", "Split", "Side by side"],
            default="Split"
            if settings.split_view
            else "Side by side"
            if settings.side_by_side
            else "Simulation",
            key="live-ar-layout",
        )
        split_view, side_by_side = layout == "Split", layout == "Side by side"
        split_position = st.slider(
            "Split position (drag: before | after)",
            0,
            100,
            int(settings.split_position * 100),
            format="%d%%",
            key="live-ar-split-pos",
            disabled=not split_view,
        )
        shared = st.toggle(
            "Share the simulation with the patient", value=settings.shared_with_patient, key="live-ar-share"
        )
        registry.update_ar(
            principal,
            room_id,
            enabled=enabled,
            treatments=treatments,
            split_view=split_view,
            side_by_side=side_by_side,
            split_position=split_position / 100.0,
            shared_with_patient=shared,
        )
        apply_settings(registry, room)
        st.caption(
            "The patient sees the simulation only while it is shared; it is always marked "
            "'SIMULATION - not a guaranteed result'."
        )

        with st.expander("Recording", icon=":material/radio_button_checked:"):
            wants = st.toggle("Ask to record this consult", value=room.recording_requested, key="live-record")
            allowed = (
                registry.request_recording(principal, room_id, wants)
                if wants != room.recording_requested
                else room.recording_allowed
            )
            if wants and not allowed:
                st.warning("Not allowed: the patient has not consented to recording.")
            elif wants:
                st.success("The patient consented to recording.")
            st.caption("The portal itself stores no video: only snapshots you take go into the case.")

        with st.expander("Invitation code", icon=":material/link:"):
            st.code(room_id, language=None)
            st.caption(
                "The patient joins from **My consultations**, or enters this code on their **Live consult** "
                "page (or opens `patient_live_consult?room=<code>`). Only the case's own patient can use it."
            )

        if st.button("End consult", type="primary", icon=":material/call_end:"):
            registry.end_room(principal, room_id)
            media_registry().close(room_id)
            st.session_state.pop(LIVE_ROOM_KEY, None)
            st.session_state[ENDED_KEY] = True
            st.rerun()

    with video_column:
        # One container for everything that comes and goes with the patient's video, so the
        # physician's own camera below keeps its place in the page when that video restarts.
        with st.container():
            if room.admitted_patients():
                render_patient_view_for_physician(room_id)
                media = media_registry().for_room(room_id)
                if st.button("Snapshot to case", icon=":material/photo_camera:"):
                    frame = media.processor.latest_raw
                    if frame is None:
                        st.warning("No video from the patient yet.")
                    else:
                        photo, report = registry.snapshot(principal, room_id, frame.copy())
                        verdict = getattr(report, "verdict", None) or getattr(report, "ok", None)
                        st.success(f"Snapshot saved to the case (quality: {verdict}).")
                stats = media.processor.stats
                st.caption(
                    f"AR frames processed: {stats.processed_frames} · dropped: {stats.dropped_frames} · "
                    f"last {stats.last_processing_ms:.0f} ms"
                )
            else:
                st.info("Admit the patient from the waiting room to start the video.")
        with st.expander("My camera (the patient sees this)", expanded=True):
            physician_camera(room_id)


render_live_consult(require_role("physician"))
