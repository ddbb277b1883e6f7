"""AR preview on a case's still photos, and the live-consult launcher.

Contract (pages call these):
- `render_ar_photo_panel(clinic, principal, case_id)`: the same effects as the live preview on
  the case's photos: choose a photo, treatments and intensities, split view, and save the
  simulated before/after into the case (source 'simulation', marked as a simulation).
- `render_live_consult_launcher(clinic, principal, case_id)`: physician starts / rejoins / ends
  the case's live consult (the patient is e-mailed a join link once per room when e-mail is
  configured); the patient joins when one is open.
- `render_invitation_status(clinic, principal, case_id, room_id)`: whether the invitation went,
  and a button to send it again (the launcher shows it; the live page may too).
- `waiting_count(principal)`: patients waiting in this physician's live consults, on this and
  other app servers (menu, queue).
"""

from __future__ import annotations

import contextlib
from typing import Any

import cv2
import numpy as np
import streamlit as st

from components.i18n import N_, _, ngettext, tr
from core.ar.effects import TREATMENT_LABELS, TREATMENTS, simulate, watermark
from core.i18n import upper_first

# core.ar.effects' TREATMENT_LABELS in the reader's language (a treatment not listed: core's words).
AR_TREATMENT_LABELS: dict[str, str] = {
    "skin": N_("Skin resurfacing (texture, pores)"),
    "redness": N_("Redness (IPL)"),
    "pigment": N_("Pigment / uneven tone"),
    "under_eye": N_("Under-eye brightening"),
    "lines": N_("Lines (forehead, glabella, crow's feet)"),
    "lips": N_("Lip filler"),
    "contour": N_("Contour (cheekbones, jaw)"),
}
AR_LAYOUTS: dict[str, str] = {
    "split": N_("Split"),
    "side_by_side": N_("Side by side"),
    "simulation": N_("Simulation only"),
}


def ar_treatment_label(name: str) -> str:
    return _(AR_TREATMENT_LABELS[name]) if name in AR_TREATMENT_LABELS else TREATMENT_LABELS.get(name, name)


PHYSICIAN_LIVE_PAGE = "pages/physician_live_consult.py"
PATIENT_LIVE_PAGE = "pages/patient_live_consult.py"
LIVE_ROOM_KEY = "live_room_id"
WAITING_IN_MENU_KEY = "live_waiting_in_menu"  # the count app.py put in the menu on this run


def _decode(image_bytes: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(image_bytes, np.uint8), cv2.IMREAD_COLOR)


def _landmarks_for(photo_id: str, image: np.ndarray) -> Any:
    """Landmarks of a stored photo, cached in the session (photos never change)."""
    cache: dict[str, Any] = st.session_state.setdefault("ar_landmarks_cache", {})
    if photo_id not in cache:
        from core.vision.landmarks import detect_landmarks

        cache[photo_id] = detect_landmarks(image)
    return cache[photo_id]


def _rgb(image_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)


def treatment_controls(key: str, defaults: dict[str, float] | None = None) -> dict[str, float]:
    """Per-treatment on/off + intensity 0-100 %; returns {name: 0..1} for the active ones."""
    defaults = defaults or {}
    chosen: dict[str, float] = {}
    columns = st.columns(2)
    for index, name in enumerate(TREATMENTS):
        with columns[index % 2]:
            on = st.checkbox(ar_treatment_label(name), value=name in defaults, key=f"{key}-{name}-on")
            percent = st.slider(
                _("Intensity"),
                0,
                100,
                int(round(defaults.get(name, 0.6) * 100)),
                step=5,
                format="%d%%",
                key=f"{key}-{name}-pct",
                disabled=not on,
                label_visibility="collapsed",
            )
            if on and percent > 0:
                chosen[name] = percent / 100.0
    return chosen


def before_after(before: np.ndarray, after_marked: np.ndarray) -> np.ndarray:
    """Side-by-side image for the case file; the whole image carries the simulation mark."""
    gap = np.full((before.shape[0], max(4, before.shape[1] // 100), 3), 255, np.uint8)
    combined = np.hstack([before, gap, after_marked])
    labelled = combined.copy()
    for text, x in (("BEFORE", 12), ("SIMULATED AFTER", before.shape[1] + gap.shape[1] + 12)):
        scale = max(0.5, before.shape[1] / 700)
        cv2.putText(
            labelled, text, (x, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA
        )
        cv2.putText(
            labelled,
            text,
            (x, int(30 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return watermark(labelled)


def split_image(before: np.ndarray, after: np.ndarray, position: float) -> np.ndarray:
    split_x = int(round(np.clip(position, 0.0, 1.0) * before.shape[1]))
    shown = after.copy()
    shown[:, :split_x] = before[:, :split_x]
    if 0 < split_x < before.shape[1]:
        cv2.line(
            shown,
            (split_x, 0),
            (split_x, shown.shape[0] - 1),
            (255, 255, 255),
            max(1, before.shape[1] // 300),
        )
    return shown


def render_ar_photo_panel(clinic: Any, principal: Any, case_id: str) -> None:
    """AR treatment preview on the case's still photos (physician)."""
    case = clinic.cases.get_case(principal, case_id)
    photos = [p for p in getattr(case, "photos", []) if getattr(p, "source", None) != "simulation"]
    from components.guided_capture import view_names
    from components.layout import PHOTO_SOURCE_LABELS, label_of

    st.caption(_("Simulations are illustrations for the consultation, **not a guaranteed result**."))
    if not photos:
        st.info(_("This case has no photos to simulate on."))
        return
    labels: dict[str, str] = {
        p.photo_id: _(
            "{view} ({source})",
            view=upper_first(view_names([str(getattr(p, "view", "front"))])),
            source=label_of(PHOTO_SOURCE_LABELS, getattr(p, "source", "upload")),
        )
        for p in photos
    }
    photo_id = st.selectbox(
        _("Photo"), list(labels), format_func=labels.__getitem__, key=f"ar-photo-{case_id}"
    )
    image = _decode(clinic.cases.get_photo_bytes(principal, photo_id))
    if image is None:
        st.error(_("This photo cannot be decoded."))
        return
    landmarks = _landmarks_for(photo_id, image)
    if landmarks is None:
        st.warning(_("No face found on this photo: choose a front or oblique view."))
        return
    treatments = treatment_controls(f"ar-{case_id}", {"redness": 0.6})
    layout = st.segmented_control(
        _("View"),
        list(AR_LAYOUTS),
        format_func=lambda option: _(AR_LAYOUTS[option]),
        default="split",
        key=f"ar-layout-{case_id}",
    )
    if not treatments:
        original = _("Original (no treatment selected)")
        st.image(_rgb(image), caption=original, width="stretch", alt=original)
        return
    result = simulate(image, landmarks, treatments)
    if layout == "side_by_side":
        left, right = st.columns(2)
        simulated = _("Simulation — not a guaranteed result")
        left.image(_rgb(image), caption=_("Before"), width="stretch", alt=_("Before"))
        right.image(_rgb(result.image), caption=simulated, width="stretch", alt=simulated)
    elif layout == "simulation":
        simulated = _("Simulation — not a guaranteed result")
        st.image(_rgb(result.image), caption=simulated, width="stretch", alt=simulated)
    else:
        position = st.slider(
            _("Split position (before | after)"), 0, 100, 50, format="%d%%", key=f"ar-split-{case_id}"
        )
        shown = watermark(split_image(image, result.image, position / 100.0))
        st.image(
            _rgb(shown),
            caption=_("Before (left) | simulation (right) — not a guaranteed result"),
            width="stretch",
            alt=_("Before (left) | simulation (right) — not a guaranteed result"),
        )

    if st.button(_("Save simulated before/after to case"), icon=":material/save:", key=f"ar-save-{case_id}"):
        from core.consult.photos import intake_frame

        combined = before_after(image, result.image)
        summary = tr().join(
            [
                _("{treatment} {percent}%", treatment=ar_treatment_label(name), percent=round(v * 100))
                for name, v in result.applied.items()
            ]
        )
        photo_view = getattr(next(p for p in photos if p.photo_id == photo_id), "view", "front")
        # Lossless keeps the simulation mark crisp; source 'simulation' labels it in the case file.
        with st.spinner(_("Saving the simulation to the case…")):
            clinic.cases.add_photo(
                principal,
                case_id,
                intake_frame(np.ascontiguousarray(combined), photo_view, source="simulation", lossless=True),
            )
        st.success(_("Saved to the case as a simulation ({summary}).", summary=summary))


def waiting_live_consults(principal: Any) -> list[tuple[Any, list[Any]]]:
    """(room, waiting patients) of this physician's open live consults where someone waits."""
    from components.video_room import room_registry

    return room_registry().waiting_for_physician(principal)


def waiting_count(principal: Any) -> int:
    """Patients waiting in this physician's live consults, here and on other app servers."""
    from components.room_move import waiting_elsewhere

    here = sum(len(waiting) for _, waiting in waiting_live_consults(principal))
    return here + sum(host.waiting_patients for host in waiting_elsewhere(principal))


def remember_waiting_in_menu(count: int | None) -> None:
    st.session_state[WAITING_IN_MENU_KEY] = count


def invite_patient(clinic: Any, principal: Any, case_id: str, room_id: str) -> Any:
    """E-mail the patient the join link, once per room, when e-mail is configured (else None)."""
    notifier = getattr(clinic, "notifications", None)
    if notifier is None or not notifier.configured:
        return None
    with st.spinner(_("E-mailing the invitation to the patient ...")):
        return notifier.invite_once(principal, case_id, room_id)


def _send_problem(result: Any) -> str:
    """Why an e-mail did not go, in the reader's language (core.notifications.SendResult)."""
    failure, reason = getattr(result, "failure", ""), getattr(result, "reason", "")
    if failure and reason:
        return _("{failure}: {reason}.", failure=_(failure), reason=_(reason))
    return _(result.message)


def render_invitation_status(clinic: Any, principal: Any, case_id: str, room_id: str) -> None:
    """Whether the e-mail invitation went, in words, and "Send the invitation again"."""
    from components.layout import format_when

    notifier = getattr(clinic, "notifications", None)
    if notifier is None or not notifier.configured:
        st.caption(_("E-mail is not set up on this server: give the patient the invitation code."))
        st.code(room_id, language=None)
        return
    status = st.empty()  # filled after the button so a new send shows at once
    if st.button(
        _("Send the invitation again"), icon=":material/forward_to_inbox:", key=f"live-reinvite-{case_id}"
    ):
        with st.spinner(_("E-mailing the invitation to the patient ...")):
            notifier.send_consult_invitation(principal, case_id, room_id)
    result = notifier.last_invitation(room_id)
    with status.container():
        if result is None:
            st.caption(_("The invitation has not been e-mailed for this consult yet."))
        elif result.sent:
            when = format_when(result.at, clinic.settings.clinic_timezone)
            st.success(
                _("Invitation e-mailed to the patient ({when}).", when=when),
                icon=":material/mark_email_read:",
            )
        else:
            st.warning(
                _("{problem} Give the patient the invitation code.", problem=_send_problem(result)),
                icon=":material/unsubscribe:",
            )
            st.code(room_id, language=None)


def render_live_consult_launcher(clinic: Any, principal: Any, case_id: str) -> None:
    """Physician: start a live consult for this case. Patient: join it when one is open."""
    from components.room_move import room_host_elsewhere
    from components.video_room import room_registry
    from core.access import AccessDenied
    from core.live.room_hosts import RoomHeldElsewhere
    from core.live.rooms import RoomClosed

    registry = room_registry()
    try:
        room = registry.room_for_case(principal, case_id)
        # Several app servers: the case's room may be open on another one; its live page moves
        # the browser there (components/room_move.py).
        elsewhere = room_host_elsewhere(principal, case_id=case_id) if room is None else None
    except AccessDenied:
        return
    if elsewhere is not None:
        live_page = PHYSICIAN_LIVE_PAGE if principal.role == "physician" else PATIENT_LIVE_PAGE
        if principal.role == "physician":
            st.caption(_("A live consult is open."))
        else:
            st.info(_("Your physician has opened a live video consult."), icon=":material/video_call:")
        if st.button(_("Join live consult"), icon=":material/video_call:", key=f"live-elsewhere-{case_id}"):
            st.switch_page(live_page, query_params={"room": elsewhere.room_id})
        return
    if principal.role == "physician":
        columns = st.columns(2)
        if room is None:
            if columns[0].button(
                _("Start live video consult"), icon=":material/video_call:", key=f"live-start-{case_id}"
            ):
                try:
                    room = registry.open_room(principal, case_id)
                except RoomHeldElsewhere as held:  # another server opened it a moment ago
                    st.switch_page(PHYSICIAN_LIVE_PAGE, query_params={"room": held.host.room_id})
                st.session_state[LIVE_ROOM_KEY] = room.room_id
                invite_patient(clinic, principal, case_id, room.room_id)
                st.switch_page(PHYSICIAN_LIVE_PAGE)
        else:
            waiting = len(room.waiting_patients())
            if waiting:
                st.caption(
                    ngettext(
                        "A live consult is open — {n} patient waiting.",
                        "A live consult is open — {n} patients waiting.",
                        waiting,
                    )
                )
            else:
                st.caption(_("A live consult is open."))
            if columns[0].button(
                _("Go to live consult"), icon=":material/video_call:", key=f"live-go-{case_id}"
            ):
                registry.join(principal, room.room_id)
                st.session_state[LIVE_ROOM_KEY] = room.room_id
                st.switch_page(PHYSICIAN_LIVE_PAGE)
            if columns[1].button(
                _("End live consult"), icon=":material/call_end:", key=f"live-end-{case_id}"
            ):
                with contextlib.suppress(RoomClosed):
                    registry.end_room(principal, room.room_id)
                from components.video_room import close_room_media

                close_room_media(room.room_id)
                st.rerun()
            render_invitation_status(clinic, principal, case_id, room.room_id)
    elif principal.role == "patient":
        if room is None:
            st.caption(_("No live video consult is open for this case."))
            return
        st.info(_("Your physician has opened a live video consult."), icon=":material/video_call:")
        if st.button(_("Join live consult"), icon=":material/video_call:", key=f"live-join-{case_id}"):
            st.session_state[LIVE_ROOM_KEY] = room.room_id
            st.switch_page(PATIENT_LIVE_PAGE)
