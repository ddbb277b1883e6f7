"""Case archive: search and filter cases, a patient's timeline, before/after of any two photos of a
view (aligned), and the progress chart. Thin: all queries live in core/care/archive.py."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from components.session import get_clinic, require_role

principal = require_role("physician")
clinic = get_clinic()
archive = clinic.archive
zone = clinic.settings.clinic_timezone

from core.care.archive import ArchiveFilter  # noqa: E402 - after the role check, like every page
from core.care.booking import utc_to_local  # noqa: E402
from core.care.followup import TREATMENT_TYPES  # noqa: E402
from core.consult.cases import CONCERNS, STATUSES  # noqa: E402

st.title("Case archive")

with st.form("archive_filters"):
    col_text, col_concern, col_treatment = st.columns(3)
    patient_text = col_text.text_input("Patient name or email")
    concern = col_concern.selectbox(
        "Concern", ["", *CONCERNS], format_func=lambda c: c.replace("_", " ") or "any"
    )
    treatment = col_treatment.selectbox(
        "Treatment", ["", *TREATMENT_TYPES], format_func=lambda t: TREATMENT_TYPES.get(t, "any")
    )
    col_status, col_from, col_to, col_flag = st.columns(4)
    status = col_status.selectbox(
        "Status", ["", *STATUSES], format_func=lambda s: s.replace("_", " ") or "any"
    )
    date_from = col_from.date_input("From", date.today() - timedelta(days=365))
    date_to = col_to.date_input("To", date.today())
    flag = col_flag.text_input("Assessment flag", placeholder="e.g. dermoscopy")
    st.form_submit_button("Search", type="primary")

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
st.caption(f"{len(results)} case(s)")
if not results:
    st.stop()
st.dataframe(
    [
        {
            "Reference": case.reference,
            "Patient": case.patient_name,
            "Email": case.patient_email,
            "Status": case.status.replace("_", " "),
            "Concerns": ", ".join(c.replace("_", " ") for c in case.concerns),
            "Treatments": ", ".join(TREATMENT_TYPES.get(t, t) for t in case.treatments),
            "Photos": case.photo_count,
            "Submitted": utc_to_local(case.created_at, zone).strftime("%Y-%m-%d %H:%M"),
        }
        for case in results
    ],
    hide_index=True,
    width="stretch",
)

chosen = st.selectbox(
    "Open a case",
    results,
    format_func=lambda c: f"{c.reference} · {c.patient_name} · {c.status.replace('_', ' ')}",
    key="archive_case",
)
if st.button("Open the case page", icon=":material/open_in_new:"):
    st.session_state["physician_selected_case"] = chosen.case_id
    st.switch_page("pages/physician_case.py")

patient_id = chosen.patient_id
tab_timeline, tab_compare, tab_progress = st.tabs(["Timeline", "Before / after", "Progress"])
with tab_timeline:
    events = archive.patient_timeline(principal, patient_id)
    st.dataframe(
        [
            {
                "When": utc_to_local(event.at, zone).strftime("%Y-%m-%d %H:%M"),
                "What": event.title,
                "Detail": event.detail or "",
                "Case": next((c.reference for c in results if c.case_id == event.case_id), event.case_id),
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
        st.caption("No photos.")
    else:
        view = st.radio(
            "View", views, horizontal=True, format_func=lambda v: v.replace("_", " "), key="archive_view"
        )
        same_view = [photo for photo in photos if photo.view == view]
        if len(same_view) < 2:
            st.caption("Only one photo of this view so far.")
        else:

            def label(photo) -> str:
                return f"{utc_to_local(photo.created_at, zone):%Y-%m-%d %H:%M} · {photo.source}"

            col_before, col_after = st.columns(2)
            before = col_before.selectbox(
                "Before", same_view, index=0, format_func=label, key="archive_before"
            )
            after = col_after.selectbox(
                "After", same_view, index=len(same_view) - 1, format_func=label, key="archive_after"
            )
            from components.before_after import render_before_after

            render_before_after(
                clinic.cases.get_photo_bytes(principal, before.photo_id),
                clinic.cases.get_photo_bytes(principal, after.photo_id),
                key=f"archive_{before.photo_id}_{after.photo_id}",
                labels=(f"Before {before.created_at:%Y-%m-%d}", f"After {after.created_at:%Y-%m-%d}"),
            )
with tab_progress:
    from components.progress_chart import render_progress_chart

    render_progress_chart(clinic, principal, patient_id, key="archive_progress")
