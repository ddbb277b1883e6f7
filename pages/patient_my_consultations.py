"""Patient's consultations: a status timeline per case, the physician's report once sent, and a
notice (polled) as soon as the physician opens a live video consult for one of the cases.

The page ends every run by returning, never with st.stop(): it shows a timed fragment (see
docs/ARCHITECTURE.md, "Timed fragments").
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from components.ar_panel import PATIENT_LIVE_PAGE
from components.layout import concern_labels, format_when, render_extension, status_badge
from components.session import get_clinic, signed_in_as
from core.access import AccessDenied, Principal
from core.vocabulary import CLOSED, IN_PERSON_REQUESTED, IN_REVIEW, REPORT_SENT, SUBMITTED

LIVE_NOTICE_SECONDS = 3

# Timeline steps: (label, statuses that mark the step as reached).
TIMELINE: list[tuple[str, tuple[str, ...]]] = [
    ("Sent", (SUBMITTED,)),
    ("In review", (IN_REVIEW,)),
    ("Answered", (REPORT_SENT, IN_PERSON_REQUESTED)),
    ("Closed", (CLOSED,)),
]
STEP_OF_STATUS = {status: index for index, (_, statuses) in enumerate(TIMELINE) for status in statuses}


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


def render_live_notice(principal: Principal, cases: dict[str, str]) -> None:
    """A notice with "Join live consult" while a live consult is open for one of `cases`
    (case id -> reference), checked every few seconds without reloading the page."""

    def open_rooms() -> list[tuple[str, str, Any]]:
        from components.video_room import room_registry

        registry = room_registry()
        found = []
        for case_id, reference in cases.items():
            try:  # no database work here: the registry remembers that the case is this patient's
                room = registry.room_for_case(principal, case_id)
            except AccessDenied:
                continue
            if room is not None:
                found.append((case_id, reference, room))
        return found

    @st.fragment(run_every=LIVE_NOTICE_SECONDS)
    def live_notice() -> None:
        try:
            rooms = open_rooms()
        except Exception:  # noqa: BLE001 - the rest of the page stays usable
            logging.getLogger(__name__).exception("cannot check for open live consults")
            st.caption("Live video consults cannot be checked right now.")
            return
        for _case_id, reference, room in rooms:
            with st.container(border=True):
                st.success(
                    f"**Your physician is ready for your live video consult** (consultation {reference}).",
                    icon=":material/video_call:",
                )
                st.caption("Have your camera and microphone ready, in a quiet place.")
                # A link, not a button: navigation needs no script run, so a click cannot be
                # lost to this fragment's own refresh.
                st.page_link(
                    PATIENT_LIVE_PAGE,
                    label="Join live consult",
                    icon=":material/video_call:",
                    query_params={"room": room.room_id},
                )

    with st.container():  # a fixed slot for the timed fragment
        live_notice()


def render_page(principal: Principal) -> None:
    clinic = get_clinic()
    zone = principal.timezone or clinic.settings.clinic_timezone
    st.title("My consultations")

    summaries = clinic.cases.list_patient_cases(principal)
    render_live_notice(principal, {summary.case_id: summary.reference for summary in summaries})
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

    st.divider()
    render_extension(
        "appointments and check-ins", "components.care_panel", "render_patient_care_panel", clinic, principal
    )


signed_in = signed_in_as("patient")
if signed_in is not None:
    render_page(signed_in)
