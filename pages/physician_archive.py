"""Case archive: search and filter cases, a patient's timeline, before/after of any two photos of a
view (aligned), and the progress chart. Thin: all queries live in core/care/archive.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import streamlit as st

from components.guided_capture import view_names
from components.i18n import N_, _, ngettext, tr
from components.layout import (
    PHOTO_SOURCE_LABELS,
    TREATMENT_LABELS,
    concern_labels,
    format_when,
    label_of,
    status_label,
)
from components.session import get_clinic, signed_in_as
from core.access import Principal
from core.care.archive import ArchiveFilter
from core.care.followup import TREATMENT_TYPES
from core.consult.cases import CONCERNS, STATUSES

# core/care/archive.py's timeline titles are English ("Photo: front"): the page says them again
# in the reader's language from the event's kind, the detail after the prefix kept as data.
ASSESSMENT_STATES: dict[str, str] = {
    "queued": N_("queued"),
    "running": N_("running"),
    "done": N_("done"),
    "failed": N_("failed"),
}
CHECKIN_STATES: dict[str, str] = {
    "open": N_("open"),
    "submitted": N_("submitted"),
    "reviewed": N_("reviewed"),
    "cancelled": N_("cancelled"),
}
APPOINTMENT_STATES: dict[str, str] = {
    "booked": N_("booked"),
    "cancelled": N_("cancelled"),
    "completed": N_("completed"),
    "no_show": N_("patient did not come"),
}


def aware(value: datetime) -> datetime:
    """Core's naive-UTC timestamps as UTC instants (shown in the viewer's zone)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _after(prefix: str, title: str) -> str:
    return title[len(prefix) :] if title.startswith(prefix) else title


def event_title(kind: str, title: str) -> str:
    """A timeline event's title in the reader's language."""
    if kind == "case":
        return _("Consultation {reference}", reference=_after("Consultation ", title))
    if kind == "photo":
        return _("Photo: {view}", view=view_names([_after("Photo: ", title)]))
    if kind == "report":
        return _("Report sent") if title == "Report sent" else _("Report draft")
    if kind == "treatment":
        return _("Treatment: {treatment}", treatment=label_of(TREATMENT_LABELS, _after("Treatment: ", title)))
    if kind == "appointment":
        state = _after("In-person visit (", title).rstrip(")")
        return _("In-person visit ({state})", state=label_of(APPOINTMENT_STATES, state))
    if kind == "checkin":
        return _("Check-in: {label}", label=_after("Check-in: ", title))
    if kind == "assessment":
        return _("AI pre-assessment")
    return title


def event_detail(kind: str, detail: str | None) -> str:
    if not detail:
        return ""
    if kind == "case":
        return status_label(detail)
    if kind == "photo":
        return label_of(PHOTO_SOURCE_LABELS, detail)
    if kind == "report":
        return _("in-person visit advised")
    if kind == "assessment":
        return label_of(ASSESSMENT_STATES, detail)
    if kind == "checkin":
        return label_of(CHECKIN_STATES, detail)
    return detail


def render_archive(principal: Principal) -> None:
    """Search cases, then one patient's timeline, before/after and progress.

    A function with `return`, not `st.stop()`: the page's widgets include a timed fragment
    (through the capture widget's imports), which `st.stop()` would leave orphaned."""
    clinic = get_clinic()
    archive = clinic.archive
    zone = clinic.settings.clinic_timezone

    st.title(_("Case archive"))

    with st.form("archive_filters"):
        col_text, col_concern, col_treatment = st.columns(3)
        patient_text = col_text.text_input(_("Patient name or email"))
        concern = col_concern.selectbox(
            _("Concern"), ["", *CONCERNS], format_func=lambda c: concern_labels([c]) if c else _("any")
        )
        treatment = col_treatment.selectbox(
            _("Treatment"),
            ["", *TREATMENT_TYPES],
            format_func=lambda t: label_of(TREATMENT_LABELS, t) if t else _("any"),
        )
        col_status, col_from, col_to, col_flag = st.columns(4)
        status = col_status.selectbox(
            _("Status"), ["", *STATUSES], format_func=lambda s: status_label(s) if s else _("any")
        )
        date_from = col_from.date_input(_("From"), date.today() - timedelta(days=365))
        date_to = col_to.date_input(_("To"), date.today())
        flag = col_flag.text_input(_("Assessment flag"), placeholder=_("e.g. dermoscopy"))
        st.form_submit_button(_("Search"), type="primary")

    results = archive.search_cases(
        principal,
        ArchiveFilter(
            patient_text or None,
            concern or None,
            treatment or None,
            status or None,
            date_from,
            date_to,
            flag or None,
        ),
    )
    st.caption(ngettext("{n} case", "{n} cases", len(results)))
    if not results:
        return
    st.dataframe(
        [
            {
                _("Reference"): case.reference,
                _("Patient"): case.patient_name,
                _("Email"): case.patient_email,
                _("Status"): status_label(case.status),
                _("Concerns"): concern_labels(case.concerns),
                _("Treatments"): tr().join([label_of(TREATMENT_LABELS, t) for t in case.treatments]),
                _("Photos"): case.photo_count,
                _("Submitted"): format_when(aware(case.created_at), zone),
            }
            for case in results
        ],
        hide_index=True,
        width="stretch",
    )

    chosen = st.selectbox(
        _("Open a case"),
        results,
        format_func=lambda c: f"{c.reference} · {c.patient_name} · {status_label(c.status)}",
        key="archive_case",
    )
    if st.button(_("Open the case page"), icon=":material/open_in_new:"):
        st.session_state["physician_selected_case"] = chosen.case_id
        st.switch_page("pages/physician_case.py")

    patient_id = chosen.patient_id
    tab_timeline, tab_compare, tab_progress = st.tabs([_("Timeline"), _("Before / after"), _("Progress")])
    with tab_timeline:
        events = archive.patient_timeline(principal, patient_id)
        st.dataframe(
            [
                {
                    _("When"): format_when(aware(event.at), zone),
                    _("What"): event_title(event.kind, event.title),
                    _("Detail"): event_detail(event.kind, event.detail),
                    _("Case"): next(
                        (c.reference for c in results if c.case_id == event.case_id), event.case_id
                    ),
                }
                for event in events
            ],
            hide_index=True,
            width="stretch",
        )
    with tab_compare:
        photos = archive.patient_photos(principal, patient_id)
        views = sorted({photo.view for photo in photos})
        if not photos:
            st.caption(_("No photos."))
        else:
            view = st.radio(
                _("View"), views, horizontal=True, format_func=lambda v: view_names([v]), key="archive_view"
            )
            same_view = [photo for photo in photos if photo.view == view]
            if len(same_view) < 2:
                st.caption(_("Only one photo of this view so far."))
            else:

                def label(photo) -> str:
                    return _(
                        "{when} · {source}",
                        when=format_when(aware(photo.created_at), zone),
                        source=label_of(PHOTO_SOURCE_LABELS, photo.source),
                    )

                col_before, col_after = st.columns(2)
                before = col_before.selectbox(
                    _("Before"), same_view, index=0, format_func=label, key="archive_before"
                )
                after = col_after.selectbox(
                    _("After"), same_view, index=len(same_view) - 1, format_func=label, key="archive_after"
                )
                from components.before_after import render_before_after

                render_before_after(
                    clinic.cases.get_photo_bytes(principal, before.photo_id),
                    clinic.cases.get_photo_bytes(principal, after.photo_id),
                    key=f"archive_{before.photo_id}_{after.photo_id}",
                    labels=(
                        _("Before {date}", date=tr().date(before.created_at)),
                        _("After {date}", date=tr().date(after.created_at)),
                    ),
                )
    with tab_progress:
        from components.progress_chart import render_progress_chart

        render_progress_chart(clinic, principal, patient_id, key="archive_progress")


signed_in = signed_in_as("physician")
if signed_in is not None:
    render_archive(signed_in)
