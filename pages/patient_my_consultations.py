"""Patient's consultations: a status timeline per case, the physician's report once sent, and a
notice (polled) as soon as the physician opens a live video consult for one of the cases.

The page ends every run by returning, never with st.stop(): it shows a timed fragment (see
docs/ARCHITECTURE.md, "Timed fragments").
"""

from __future__ import annotations

import logging

import streamlit as st

from components.ar_panel import PATIENT_LIVE_PAGE
from components.i18n import N_, _
from components.layout import (
    concern_labels,
    format_when,
    plain,
    render_extension,
    status_badge,
    status_label,
)
from components.page_links import link_to_page
from components.session import get_clinic, signed_in_as
from core.access import AccessDenied, Principal
from core.care.records import Appointment
from core.clinic import Clinic
from core.vocabulary import CLOSED, IN_PERSON_REQUESTED, IN_REVIEW, REPORT_SENT, SUBMITTED

LIVE_NOTICE_SECONDS = 3

# Timeline steps: (label, statuses that mark the step as reached).
TIMELINE: list[tuple[str, tuple[str, ...]]] = [
    (N_("Sent"), (SUBMITTED,)),
    (N_("In review"), (IN_REVIEW,)),
    (N_("Answered"), (REPORT_SENT, IN_PERSON_REQUESTED)),
    (N_("Closed"), (CLOSED,)),
]
STEP_OF_STATUS = {status: index for index, (_, statuses) in enumerate(TIMELINE) for status in statuses}


def render_timeline(case, zone: str) -> None:
    reached = STEP_OF_STATUS.get(case.status, 0)
    first_time: dict[int, object] = {}
    for change in case.history:
        step = STEP_OF_STATUS.get(change.status)
        if step is not None:
            first_time.setdefault(step, change.at)
    # Progress in words (screen readers skip the icons): one sentence, then each step with its state.
    st.markdown(
        _(
            "Progress: step {step} of {total}, {label}.",
            step=reached + 1,
            total=len(TIMELINE),
            label=_(TIMELINE[reached][0]),
        )
    )
    for index, (column, (label, _statuses)) in enumerate(
        zip(st.columns(len(TIMELINE)), TIMELINE, strict=True)
    ):
        icon = ":material/check_circle:" if index <= reached else ":material/radio_button_unchecked:"
        state = _("done") if index < reached else _("current step") if index == reached else _("not yet")
        column.markdown(_("{icon} **{step}** ({state})", icon=icon, step=_(label), state=state))
        if index in first_time:
            column.markdown(format_when(first_time[index], zone))


def render_report(report, zone: str, visit: Appointment | None = None) -> None:
    """The sent report; its advice for an in-person visit says so once `visit` (the case's
    booked or completed visit) exists."""
    with st.expander(_("Your physician's report"), expanded=True, icon=":material/description:"):
        st.markdown(_("Sent {when}", when=format_when(report.sent_at, zone)))
        for label, text in (
            (_("Findings"), report.findings),
            (_("Assessment"), report.assessment),
            (_("Recommended treatments"), report.recommended_treatments),
            (_("Home care"), report.home_care),
            (_("Follow-up"), report.follow_up_suggestion),
        ):
            if text:
                st.markdown(f"**{label}**")
                st.text(text)
        if report.in_person_needed and visit is not None:
            when = format_when(visit.start_utc, zone)
            if visit.status == "completed":
                st.success(
                    _("Your in-person visit took place on {when}.", when=when),
                    icon=":material/event_available:",
                )
            else:
                st.info(
                    _("Your in-person visit is booked for {when}.", when=when),
                    icon=":material/event_available:",
                )
        elif report.in_person_needed:
            if report.in_person_reason:
                st.warning(
                    _(
                        "Your physician advises an in-person visit: {reason}",
                        reason=plain(report.in_person_reason),
                    )
                )
            else:
                st.warning(_("Your physician advises an in-person visit."))


def case_visits(clinic: Clinic, principal: Principal) -> dict[str, Appointment]:
    """Each case's in-person visit that is booked or took place (the latest one), by case id."""
    visits: dict[str, Appointment] = {}
    for visit in clinic.care.appointments.patient_agenda(principal, include_past=True):
        if visit.status in ("booked", "completed"):
            current = visits.get(visit.case_id)
            if current is None or visit.start_utc > current.start_utc:
                visits[visit.case_id] = visit
    return visits


def render_live_notice(principal: Principal, cases: dict[str, str]) -> None:
    """A notice with "Join live consult" while a live consult is open for one of `cases`
    (case id -> reference), checked every few seconds without reloading the page."""

    def open_rooms() -> list[tuple[str, str, str]]:
        """(case id, reference, room id) of each open live consult."""
        from components.video_room import room_registry

        registry = room_registry()
        found = []
        for case_id, reference in cases.items():
            try:  # no database work here: the registry remembers that the case is this patient's
                room = registry.room_for_case(principal, case_id)
            except AccessDenied:
                continue
            if room is not None:
                found.append((case_id, reference, room.room_id))
        if registry.hosts is not None:  # several app servers: rooms another one holds (one query)
            here = {case_id for case_id, _reference, _room in found}
            elsewhere = registry.hosts.held_elsewhere_for_cases(principal, set(cases) - here)
            found += [(host.case_id, cases[host.case_id], host.room_id) for host in elsewhere]
        return found

    @st.fragment(run_every=LIVE_NOTICE_SECONDS)
    def live_notice() -> None:
        try:
            rooms = open_rooms()
        except Exception:  # noqa: BLE001 - the rest of the page stays usable
            logging.getLogger(__name__).exception("cannot check for open live consults")
            st.caption(_("Live video consults cannot be checked right now."))
            return
        for _case_id, reference, room_id in rooms:
            with st.container(border=True):
                st.success(
                    _(
                        "**Your physician is ready for your live video consult** (consultation {reference}).",
                        reference=reference,
                    ),
                    icon=":material/video_call:",
                )
                st.caption(_("Have your camera and microphone ready, in a quiet place."))
                # A link, not a button: navigation needs no script run, so a click cannot be
                # lost to this fragment's own refresh.
                st.page_link(
                    PATIENT_LIVE_PAGE,
                    label=_("Join live consult"),
                    icon=":material/video_call:",
                    query_params={"room": room_id},
                )

    with st.container():  # a fixed slot for the timed fragment
        live_notice()


def render_page(principal: Principal) -> None:
    clinic = get_clinic()
    zone = principal.timezone or clinic.settings.clinic_timezone
    st.title(_("My consultations"))

    summaries = clinic.cases.list_patient_cases(principal)
    visits = case_visits(clinic, principal) if summaries else {}
    render_live_notice(principal, {summary.case_id: summary.reference for summary in summaries})
    if not summaries:
        st.info(_("You have no consultations yet."))
        link_to_page(
            "pages/patient_new_consultation.py", _("Start a new consultation"), ":material/add_a_photo:"
        )
    for summary in summaries:
        case = clinic.cases.get_case(principal, summary.case_id)  # history + the sent report (never drafts)
        with st.container(border=True):
            concerns = concern_labels(case.concerns)
            # h2 under the page's h1 (ordered headings); the status in words beside the badge colour
            st.header(f"{case.reference} {status_badge(case.status)}", anchor=False)
            st.markdown(
                _(
                    "{concerns} · sent {when} · status: {status}",
                    concerns=concerns,
                    when=format_when(case.submitted_at, zone),
                    status=status_label(case.status),
                )
            )
            render_timeline(case, zone)
            if case.report is not None and case.report.sent_at is not None:
                render_report(case.report, zone, visits.get(case.case_id))
            else:
                st.markdown(_("The physician's report will appear here once it is ready."))

    st.divider()
    render_extension(
        N_("appointments and check-ins"),
        "components.care_panel",
        "render_patient_care_panel",
        clinic,
        principal,
    )


signed_in = signed_in_as("patient")
if signed_in is not None:
    render_page(signed_in)
