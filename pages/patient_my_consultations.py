"""Patient's consultations: a status timeline per case and the physician's report once sent."""

from __future__ import annotations

import streamlit as st

from components.layout import concern_labels, format_when, render_extension, status_badge
from components.session import get_clinic, require_role

# Timeline steps: (label, statuses that mark the step as reached).
TIMELINE: list[tuple[str, tuple[str, ...]]] = [
    ("Sent", ("submitted",)),
    ("In review", ("in_review",)),
    ("Answered", ("report_sent", "in_person_requested")),
    ("Closed", ("closed",)),
]
STEP_OF_STATUS = {status: index for index, (_, statuses) in enumerate(TIMELINE) for status in statuses}
OPEN_STATUSES = {"submitted", "in_review", "report_sent", "in_person_requested"}


def render_timeline(case, zone: str) -> None:
    reached = STEP_OF_STATUS.get(case.status, 0)
    first_time: dict[int, object] = {}
    for change in case.history:
        step = STEP_OF_STATUS.get(change.status)
        if step is not None:
            first_time.setdefault(step, change.at)
    for index, (column, (label, _)) in enumerate(zip(st.columns(len(TIMELINE)), TIMELINE, strict=True)):
        icon = ":material/check_circle:" if index <= reached else ":material/radio_button_unchecked:"
        column.markdown(f"{icon} **{label}**")
        if index in first_time:
            column.caption(format_when(first_time[index], zone))


def render_report(report, zone: str) -> None:
    with st.expander("Your physician's report", expanded=True, icon=":material/description:"):
        st.caption(f"Sent {format_when(report.sent_at, zone)}")
        for label, text in (
            ("Findings", report.findings),
            ("Assessment", report.assessment),
            ("Recommended treatments", report.recommended_treatments),
            ("Home care", report.home_care),
            ("Follow-up", report.follow_up_suggestion),
        ):
            if text:
                st.markdown(f"**{label}**")
                st.text(text)
        if report.in_person_needed:
            st.warning(f"Your physician advises an in-person visit. {report.in_person_reason or ''}".strip())


principal = require_role("patient")
clinic = get_clinic()
zone = principal.timezone or clinic.settings.clinic_timezone
st.title("My consultations")

summaries = clinic.cases.list_patient_cases(principal)
if not summaries:
    st.info("You have no consultations yet. Choose **New consultation** in the menu to start one.")
for summary in summaries:
    case = clinic.cases.get_case(principal, summary.case_id)  # history + the sent report (never drafts)
    with st.container(border=True):
        concerns = concern_labels(case.concerns)
        st.markdown(f"#### {case.reference} {status_badge(case.status)}")
        st.caption(f"{concerns} · sent {format_when(case.submitted_at, zone)}")
        render_timeline(case, zone)
        if case.report is not None and case.report.sent_at is not None:
            render_report(case.report, zone)
        else:
            st.caption("The physician's report will appear here once it is ready.")
        if case.status in OPEN_STATUSES:
            render_extension(
                "live consult",
                "components.ar_panel",
                "render_live_consult_launcher",
                clinic,
                principal,
                case.case_id,
            )

st.divider()
render_extension(
    "appointments and check-ins", "components.care_panel", "render_patient_care_panel", clinic, principal
)
