"""Physician's case queue: open cases oldest first, each linking to its case page."""

from __future__ import annotations

import streamlit as st

from components.layout import concern_labels, format_when, status_badge
from components.session import get_clinic, require_role

principal = require_role("physician")
clinic = get_clinic()
st.title("Case queue")

show_all = st.toggle("Include cases with a report sent", key="queue_show_all")
cases = clinic.cases.list_queue(principal, include_closed=show_all)
if not cases:
    st.info("No cases are waiting. New consultations appear here as soon as patients send them.")
    st.stop()

st.caption(f"{len(cases)} case(s), oldest first.")
for case in cases:
    with st.container(border=True):
        col_main, col_status, col_open = st.columns([6, 2, 2], vertical_alignment="center")
        concerns = concern_labels(case.concerns)
        col_main.markdown(f"**{case.reference}** · {case.patient_name} · {concerns or 'no concern given'}")
        col_main.caption(f"Submitted {format_when(case.submitted_at, clinic.settings.clinic_timezone)}")
        col_status.markdown(status_badge(case.status))
        col_open.page_link(
            "pages/physician_case.py",
            label="Open case",
            icon=":material/open_in_new:",
            query_params={"case": case.case_id},
        )
