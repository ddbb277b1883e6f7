"""The intake page's server-side draft: restore it when the form is not in memory, tell the
patient ("We kept your answers from ..., Start over"), and save every change.

Streamlit forgets a page's widgets when the patient opens another page, and a reload or a new
log-in starts an empty session: in both cases the form's first widget key is missing, and the
draft (core/consult/drafts.py, sealed on the server) is written back into the widgets' state
before they are drawn. After each run the answers and the accepted photos are compared with
what was saved last and saved when they changed (each change Streamlit reports is a run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from components.i18n import _, tr
from core.access import Principal
from core.clinic import Clinic
from core.consult.cases import IntakeForm
from core.consult.photos import CheckedPhoto
from core.vocabulary import DRAFT_CHECKIN, DRAFT_NEW_CONSULTATION, DraftKind

# Session keys (not widgets). They start with the form's prefix, so resetting the form clears them.
RESTORED_AT_KEY = "intake_draft__restored_at"  # when the restored draft was last changed
SAVED_ANSWERS_KEY = "intake_draft__answers"  # the answers as last saved (JSON), None: not yet known
SAVED_PHOTOS_KEY = "intake_draft__photos"  # {view: sha256 of the bytes} as last saved
KEPT_PHOTOS_KEY = "intake_photos__kept"  # {view: CheckedPhoto} restored from the draft


def kept_photos() -> dict[str, CheckedPhoto]:
    """The draft's photos guided capture shows until the patient replaces or removes them."""
    return st.session_state.setdefault(KEPT_PHOTOS_KEY, {})


def restore_draft(
    principal: Principal, clinic: Clinic, marker_key: str, to_state: Callable[[IntakeForm], dict[str, Any]]
) -> None:
    """When the form is not in memory (`marker_key`, its first widget, is missing), write the
    patient's draft into the widgets' state (`to_state`: answers -> {widget key: value})."""
    if marker_key in st.session_state:
        return
    st.session_state[SAVED_ANSWERS_KEY] = None  # set from the widgets at the end of this run
    st.session_state.pop(RESTORED_AT_KEY, None)
    draft = clinic.drafts.load(principal)
    if draft is None:
        st.session_state[SAVED_PHOTOS_KEY] = {}
        return
    for key, value in to_state(draft.answers).items():
        st.session_state[key] = value
    st.session_state[KEPT_PHOTOS_KEY] = dict(draft.photos)
    st.session_state[SAVED_PHOTOS_KEY] = {view: _digest(photo) for view, photo in draft.photos.items()}
    if not draft.empty:
        st.session_state[RESTORED_AT_KEY] = draft.updated_at


def draft_notice(principal: Principal, clinic: Clinic, start_over: Callable[[], None]) -> None:
    """'We kept your answers from <date>' with a Start over button, after a restore."""
    restored_at = st.session_state.get(RESTORED_AT_KEY)
    if restored_at is None:
        return
    when = tr().datetime(restored_at, timezone=principal.timezone)
    with st.container(border=True):
        st.info(_("We kept your answers from {when}.", when=when), icon=":material/history:")
        if st.button(_("Start over"), key="intake_draft_start_over", icon=":material/restart_alt:"):
            clinic.drafts.discard(principal)
            start_over()
            st.rerun()


def save_changes(
    principal: Principal, clinic: Clinic, answers: IntakeForm, photos: Mapping[str, CheckedPhoto]
) -> None:
    """Save the answers and accepted photos that differ from what was saved last."""
    answers_json = answers.to_json()
    saved = st.session_state.get(SAVED_ANSWERS_KEY)
    if saved is None:  # the first run of this form: what the widgets show is what is kept
        st.session_state[SAVED_ANSWERS_KEY] = answers_json
    elif saved != answers_json:
        clinic.drafts.save_answers(principal, answers)
        st.session_state[SAVED_ANSWERS_KEY] = answers_json
    _save_photos(principal, clinic, photos, st.session_state.setdefault(SAVED_PHOTOS_KEY, {}))


def _save_photos(
    principal: Principal,
    clinic: Clinic,
    photos: Mapping[str, CheckedPhoto],
    saved_photos: dict[str, str],
    kind: DraftKind = DRAFT_NEW_CONSULTATION,
    subject: str = "",
) -> None:
    """Save the accepted photos that differ from what was saved last (`saved_photos`: view ->
    digest, updated), and forget those no longer there."""
    for view, photo in photos.items():
        digest = _digest(photo)
        if saved_photos.get(view) != digest:
            clinic.drafts.save_photo(principal, photo, kind, subject)
            saved_photos[view] = digest
    for view in [view for view in saved_photos if view not in photos]:
        clinic.drafts.remove_photo(principal, view, kind, subject)
        del saved_photos[view]


# -- a follow-up check-in's photos (components/care_panel.py) ------------------------------------
# The same draft service, kind "checkin", the check-in as its subject: a reload (the phone switched
# to its camera app) or coming back later finds the photos accepted so far.


def _checkin_keys(checkin_id: str) -> tuple[str, str]:
    return f"checkin_draft__{checkin_id}__kept", f"checkin_draft__{checkin_id}__saved"


def checkin_kept_photos(principal: Principal, clinic: Clinic, checkin_id: str) -> dict[str, CheckedPhoto]:
    """The check-in's kept photos (loaded from its draft once per session); guided capture shows
    them until the patient replaces or removes them."""
    kept_key, saved_key = _checkin_keys(checkin_id)
    if kept_key not in st.session_state:
        draft = clinic.drafts.load(principal, DRAFT_CHECKIN, checkin_id)
        photos = dict(draft.photos) if draft is not None else {}
        st.session_state[kept_key] = photos
        st.session_state[saved_key] = {view: _digest(photo) for view, photo in photos.items()}
    return st.session_state[kept_key]


def save_checkin_photos(
    principal: Principal, clinic: Clinic, checkin_id: str, photos: Mapping[str, CheckedPhoto]
) -> None:
    """Keep the check-in's accepted photos that changed since they were saved last."""
    _, saved_key = _checkin_keys(checkin_id)
    saved = st.session_state.setdefault(saved_key, {})
    _save_photos(principal, clinic, photos, saved, DRAFT_CHECKIN, checkin_id)


def end_checkin_draft(principal: Principal, clinic: Clinic, checkin_id: str) -> None:
    """The check-in was sent: its draft (and its photos' blobs) go."""
    clinic.drafts.discard(principal, DRAFT_CHECKIN, checkin_id)
    for key in _checkin_keys(checkin_id):
        st.session_state.pop(key, None)


def _digest(photo: CheckedPhoto) -> str:
    return hashlib.sha256(photo.image_bytes).hexdigest()
