"""Physician: live video consult with the patient, waiting room, AR treatment preview.

Every early exit here is a `return`, never `st.stop()`: a run that ends with st.stop() keeps
the previous run's timed fragments registered in Streamlit, and a tick already on its way then
writes into a layout that no longer exists, which blanks the page (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from components.ar_panel import LIVE_ROOM_KEY, treatment_controls
from components.i18n import N_, _, ngettext
from components.layout import plain
from components.room_move import move_to_room_host, rooms_elsewhere
from components.session import get_clinic, signed_in_as
from components.video_room import (
    apply_settings,
    call_stats,
    close_room_media,
    decode_snapshot,
    render_call,
    room_registry,
)
from core.access import AccessDenied, Principal
from core.consult.cases import IDENTITY_OVERRIDE_LIMIT, IdentityMismatch
from core.live.rooms import Room, RoomClosed, RoomRegistry, RoomStateError

ENDED_KEY = "live_consult_just_ended"
VERDICT_LABELS: dict[str, str] = {"pass": N_("passed"), "warn": N_("warning"), "fail": N_("failed")}


def choose_room(registry: RoomRegistry, principal: Principal) -> str | None:
    """The room from the URL or this session, else one of the open rooms (None: nothing open)."""
    room_id = st.query_params.get("room") or st.session_state.get(LIVE_ROOM_KEY)
    if room_id:
        return room_id
    if st.session_state.get(ENDED_KEY):
        st.success(_("The consult has ended."))
    labels = {
        room.room_id: _("Case {reference}", reference=room.case_id) for room in registry.open_rooms(principal)
    }
    for host in rooms_elsewhere(principal):  # several app servers: choosing one moves the browser there
        labels[host.room_id] = ngettext(
            "Case {reference} (on another server, {n} patient waiting)",
            "Case {reference} (on another server, {n} patients waiting)",
            host.waiting_patients,
            reference=host.case_id,
        )
    if not labels:
        st.info(_("No live consult is open. Start one from a case (**Case** page → **AR preview** tab)."))
        return None
    return st.selectbox(_("Open consults"), list(labels), format_func=lambda room_id: labels[room_id])


def render_live_consult(principal: Principal) -> None:
    clinic = get_clinic()
    registry = room_registry()
    st.title(_("Live consult"))
    room_id = choose_room(registry, principal)
    if room_id is None:
        return
    try:
        room = registry.get_room(principal, room_id)
        registry.join(principal, room_id)
    except RoomClosed:
        try:  # several app servers: the room may be open on another one
            if move_to_room_host(principal, room_id):
                return
        except AccessDenied:
            pass
        st.session_state.pop(LIVE_ROOM_KEY, None)
        st.warning(_("This consult has ended."))
        return
    except AccessDenied:
        st.error(_("You do not have access to this consult."))
        return
    st.session_state[LIVE_ROOM_KEY] = room_id
    st.session_state.pop(ENDED_KEY, None)
    case = clinic.cases.get_case(principal, room.case_id)
    st.caption(_("Case {reference}", reference=getattr(case, "reference", room.case_id)))
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
            st.header(_("Waiting room"))
            if not waiting:
                st.caption(_("Nobody is waiting.") if admitted else _("Waiting for the patient to join ..."))
            for patient in waiting:
                if patient.consent_recording:
                    message = _(
                        "**{name}** is waiting (consents to recording).", name=plain(patient.display_name)
                    )
                else:
                    message = _(
                        "**{name}** is waiting (does not consent to recording).",
                        name=plain(patient.display_name),
                    )
                st.markdown(message)
                if st.button(
                    _("Admit {name}", name=plain(patient.display_name)),
                    key=f"admit-{patient.user_id}",
                    icon=":material/how_to_reg:",
                ):
                    try:
                        registry.admit(principal, room_id, patient.user_id)
                    except RoomStateError as error:
                        st.warning(_(str(error)))
                    st.rerun(scope="app")
            in_call = _("In the call")
            for patient in admitted:
                st.markdown(
                    _(
                        "{badge} **{name}**",
                        badge=f":green-badge[{in_call}]",
                        name=plain(patient.display_name),
                    )
                )

        with st.container():  # a fixed slot for the timed fragment
            waiting_room()

        st.header(_("AR treatment preview"))
        settings = room.ar
        enabled = st.toggle(_("AR preview on"), value=settings.enabled, key="live-ar-enabled")
        treatments = treatment_controls("live-ar", dict(settings.treatments) or {"redness": 0.6})
        layout_labels = {
            "simulation": _("Simulation"),
            "split": _("Split"),
            "side_by_side": _("Side by side"),
        }
        layout = st.segmented_control(
            _("View"),
            list(layout_labels),
            format_func=lambda option: layout_labels.get(str(option), str(option)),
            default="split"
            if settings.split_view
            else "side_by_side"
            if settings.side_by_side
            else "simulation",
            key="live-ar-layout",
        )
        split_view, side_by_side = layout == "split", layout == "side_by_side"
        split_position = int(settings.split_position * 100)
        # Only for the split view (a disabled slider's greyed label fails contrast and tells nothing);
        # a fixed slot, so what follows keeps its place whether it shows or not.
        with st.container():
            if split_view:
                split_position = st.slider(
                    _("Split position (drag: before | after)"),
                    0,
                    100,
                    split_position,
                    format="%d%%",
                    key="live-ar-split-pos",
                )
        shared = st.toggle(
            _("Share the simulation with the patient"),
            value=settings.shared_with_patient,
            key="live-ar-share",
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
            _(
                "The patient sees the simulation only while it is shared; it is always marked "
                "'SIMULATION - not a guaranteed result'."
            )
        )

        with st.expander(_("Recording"), icon=":material/radio_button_checked:"):
            wants = st.toggle(
                _("Ask to record this consult"), value=room.recording_requested, key="live-record"
            )
            allowed = (
                registry.request_recording(principal, room_id, wants)
                if wants != room.recording_requested
                else room.recording_allowed
            )
            if wants and not allowed:
                st.warning(_("Not allowed: the patient has not consented to recording."))
            elif wants:
                st.success(_("The patient consented to recording."))
            st.caption(_("The portal itself stores no video: only snapshots you take go into the case."))

        with st.expander(_("Invitation code"), icon=":material/link:"):
            st.code(room_id, language=None)
            st.caption(
                _(
                    "The patient joins from **My consultations**, or enters this code on their **Live consult** "
                    "page. Only the case's own patient can use it."
                )
            )

        if st.button(_("End consult"), type="primary", icon=":material/call_end:"):
            registry.end_room(principal, room_id)
            close_room_media(room_id)
            st.session_state.pop(LIVE_ROOM_KEY, None)
            st.session_state[ENDED_KEY] = True
            st.rerun()

    with video_column:
        # The call widget renders on every run at this place: leaving it out, or moving it,
        # would remove its frame and drop the call in this browser.
        with st.container():
            value = render_call(room_id, principal)
        save_snapshot(registry, principal, room_id, value)
        show_call_quality(room_id)


PENDING_SNAPSHOT_KEY = "live_snapshot_other_person"


def save_snapshot(registry: RoomRegistry, principal: Principal, room_id: str, value: object) -> None:
    """Store a snapshot the call widget took: the patient's picture, and the AR view when shown.

    A snapshot that seems to show someone else than the case's photos waits for the physician's
    reason (or is discarded) instead of being stored."""
    snapshot = decode_snapshot(value, room_id)
    if snapshot is not None:
        st.session_state.pop(PENDING_SNAPSHOT_KEY, None)
        _store_snapshot(registry, principal, room_id, snapshot, identity_override=None)
    pending = st.session_state.get(PENDING_SNAPSHOT_KEY)
    if pending is None:
        return
    with st.form("snapshot_other_person"):
        st.warning(
            _(
                "This snapshot seems to show a different person from the case's photos, so it was not "
                "saved. Save it anyway only if it is the patient, and say why."
            )
        )
        reason = st.text_input(
            _("Reason (kept in the audit log)"),
            max_chars=IDENTITY_OVERRIDE_LIMIT,
            key="snapshot_override_reason",
        )
        save, discard = st.columns(2)
        if save.form_submit_button(_("Save with this reason")):
            if not reason.strip():
                st.error(_("Please give a reason, or discard the snapshot."))
                return
            st.session_state.pop(PENDING_SNAPSHOT_KEY, None)
            _store_snapshot(registry, principal, room_id, pending, identity_override=reason.strip())
        if discard.form_submit_button(_("Discard the snapshot")):
            st.session_state.pop(PENDING_SNAPSHOT_KEY, None)
            st.rerun()


def _store_snapshot(
    registry: RoomRegistry,
    principal: Principal,
    room_id: str,
    snapshot: tuple[np.ndarray, np.ndarray | None],
    identity_override: str | None,
) -> None:
    raw_bgr, simulated_bgr = snapshot
    try:
        _photo, report = registry.snapshot(principal, room_id, raw_bgr, identity_override=identity_override)
    except IdentityMismatch:
        st.session_state[PENDING_SNAPSHOT_KEY] = snapshot  # the form below asks for a reason
        return
    verdict = getattr(report, "verdict", None)
    quality = _(VERDICT_LABELS[verdict]) if verdict in VERDICT_LABELS else _("not checked")
    if simulated_bgr is not None:
        registry.save_simulation(principal, room_id, simulated_bgr)
        saved = _(
            "Snapshot saved to the case (photo quality: {quality}), with the AR view marked as a simulation.",
            quality=quality,
        )
    else:
        saved = _("Snapshot saved to the case (photo quality: {quality}).", quality=quality)
    st.toast(saved, icon=":material/photo_camera:")
    st.success(saved)


def show_call_quality(room_id: str) -> None:
    """What the physician's browser measures, in words (refreshed every few seconds)."""

    @st.fragment(run_every=5)
    def quality() -> None:
        stats = call_stats(room_id, "physician")
        shown = (stats.get("displayed") or {}).get("ar") or (stats.get("displayed") or {}).get("remote") or {}
        route = ((stats.get("p2p") or {}).get("route") or {}).get("local")
        if not shown.get("frames"):
            return
        size = f"{shown.get('width', 0)}×{shown.get('height', 0)}"
        fps = f"{shown.get('fps', 0):.0f}"
        if route == "relay":
            message = _(
                "Patient video: {fps} frames per second, {size}, connected through the clinic's relay server.",
                fps=fps,
                size=size,
            )
        else:
            message = _(
                "Patient video: {fps} frames per second, {size}, connected directly.", fps=fps, size=size
            )
        st.caption(message)

    with st.container():  # a fixed slot for the timed fragment
        quality()


signed_in = signed_in_as("physician")
if signed_in is not None:
    render_live_consult(signed_in)
