"""Patient: join the live video consult (consent, device check, waiting room, call).

Every early exit here is a `return`, never `st.stop()`: a run that ends with st.stop() keeps
the previous run's timed fragments registered in Streamlit, and a tick already on its way then
writes into a layout that no longer exists, which blanks the page (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import contextlib

import streamlit as st

from components.ar_panel import LIVE_ROOM_KEY
from components.i18n import _
from components.page_links import link_to_page
from components.room_move import move_to_room_host
from components.session import signed_in_as
from components.video_room import call_stats, render_call, room_registry
from core.access import AccessDenied, Principal
from core.live.rooms import RoomClosed, RoomRegistry


def ask_for_invitation() -> None:
    st.info(
        _(
            "Your physician will open a live consult; a link to join it appears on your consultations page when it is open."
        )
    )
    link_to_page("pages/patient_my_consultations.py", _("My consultations"), ":material/folder_shared:")
    with st.form("invitation"):
        code = st.text_input(_("Or enter the invitation code your physician gave you"))
        if st.form_submit_button(_("Open invitation")) and code.strip():
            st.session_state[LIVE_ROOM_KEY] = code.strip()
            st.rerun()


def ask_to_join(registry: RoomRegistry, principal: Principal, room_id: str) -> None:
    st.header(_("Before you join"), anchor=False)
    st.write(_("Your physician will see and hear you. Nothing is recorded without your consent."))
    answers = {"No": _("No"), "Yes": _("Yes")}
    consent = st.radio(
        _("May the physician record this consultation for your medical file?"),
        list(answers),
        format_func=answers.__getitem__,
        index=0,
        key="live-consent",
        horizontal=True,
    )
    if st.button(_("Join the waiting room"), type="primary", icon=":material/meeting_room:"):
        registry.join(principal, room_id, consent_recording=consent == "Yes")
        st.rerun()


def show_call(registry: RoomRegistry, principal: Principal, room_id: str) -> None:
    """Waiting room and call: status (polled), the call widget (own camera, the physician), leave."""

    @st.fragment(run_every=2)
    def call_status() -> None:
        try:
            current = registry.participant(principal, room_id)
            in_call = registry.may_exchange_video(principal, room_id)
        except RoomClosed:
            st.rerun(scope="app")
            return
        if in_call:
            st.success(_("You are in the consultation."), icon=":material/videocam:")
            if registry.ar_for_patient(registry.get_room(principal, room_id)).active_treatments():
                st.markdown(
                    _("Your physician is showing you a treatment **simulation — not a guaranteed result**.")
                )
        elif current is not None and current.status == "waiting":
            st.info(
                _("You are in the waiting room. Your physician will let you in shortly."),
                icon=":material/hourglass_top:",
            )
        devices = call_stats(room_id, principal.role)
        camera = (
            _("✅ camera working") if devices.get("camera", {}).get("ok") else _("⏳ waiting for the camera")
        )
        microphone = (
            _("✅ microphone working")
            if devices.get("microphone", {}).get("ok")
            else _("⏳ waiting for the microphone")
        )
        st.markdown(f"{camera} · {microphone}")

    with st.container():  # a fixed slot for the timed fragment
        call_status()
    with st.container():  # the call widget stays at this place on every run (moving it ends the call)
        render_call(room_id, principal)
    if st.button(_("Leave the consult"), icon=":material/call_end:"):
        with contextlib.suppress(RoomClosed):  # ended by the physician meanwhile: nothing to leave
            registry.leave(principal, room_id)
        st.session_state.pop(LIVE_ROOM_KEY, None)
        st.rerun()


def render_live_consult(principal: Principal) -> None:
    registry = room_registry()
    st.title(_("Live video consult"))
    room_id = st.query_params.get("room") or st.session_state.get(LIVE_ROOM_KEY)
    if not room_id:
        ask_for_invitation()
        return
    try:  # participant() checks that the room is open and the case is this patient's
        participant = registry.participant(principal, room_id)
    except RoomClosed:
        try:  # several app servers: the room may be open on another one
            if move_to_room_host(principal, room_id):
                return
        except AccessDenied:
            pass
        st.session_state.pop(LIVE_ROOM_KEY, None)
        st.warning(_("This consult has ended or does not exist."))
        return
    except AccessDenied:
        st.session_state.pop(LIVE_ROOM_KEY, None)
        st.error(_("You cannot join this consult: it belongs to another patient's case."))
        return
    st.session_state[LIVE_ROOM_KEY] = room_id
    if participant is None or participant.status == "left":
        ask_to_join(registry, principal, room_id)
        return
    show_call(registry, principal, room_id)


signed_in = signed_in_as("patient")
if signed_in is not None:
    render_live_consult(signed_in)
