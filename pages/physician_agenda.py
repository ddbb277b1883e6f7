"""Physician's agenda: outstanding tasks (overdue first, highlighted), appointments, published times."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

import streamlit as st

from components.i18n import N_, _, ngettext, tr
from components.layout import format_when_in_zone, plain
from components.session import get_clinic, require_role

principal = require_role("physician")
clinic = get_clinic()
care = clinic.care
zone = clinic.settings.clinic_timezone

from core.access import ValidationError  # noqa: E402 - after the role check, like every page

st.title(_("Agenda"))

TASK_ICONS = {
    "checkin_review": ":material/compare:",
    "checkin_due": ":material/photo_camera:",
    "report_to_write": ":material/edit_note:",
    "visit_to_book": ":material/event:",
    "visit_to_confirm": ":material/event_available:",
}

# core/care/tasks.py writes each task's title in English as "<sentence><detail><end>"; the page
# shows the same sentence from the catalog, the detail (a check-in's label, a case reference,
# a time) kept as data.
TASK_TITLES: tuple[tuple[str, str, str], ...] = (
    (r"Review check-in photos: (?P<detail>.+)", N_("Review check-in photos: {detail}"), "checkin_review"),
    (r"Patient check-in overdue: (?P<detail>.+)", N_("Patient check-in overdue: {detail}"), "checkin_due"),
    (r"Write the report for (?P<detail>.+)", N_("Write the report for {detail}"), "report_to_write"),
    (
        r"Book the in-person visit for (?P<detail>.+)",
        N_("Book the in-person visit for {detail}"),
        "visit_to_book",
    ),
    (
        r"Confirm the visit booked by the patient \((?P<detail>.+)\)",
        N_("Confirm the visit booked by the patient ({detail})"),
        "visit_to_confirm",
    ),
)
APPOINTMENT_STATES: dict[str, str] = {
    "booked": N_("booked"),
    "to confirm": N_("to confirm"),
    "cancelled": N_("cancelled"),
    "completed": N_("completed"),
    "no_show": N_("patient did not come"),
}


def task_title(kind: str, title: str) -> str:
    """The task's sentence in the reader's language (its detail as plain text)."""
    for pattern, message, task_kind in TASK_TITLES:
        match = re.fullmatch(pattern, title)
        if match and task_kind == kind:
            return _(message, detail=plain(match.group("detail")))
    return plain(title)


st.header(_("Outstanding tasks"))
tasks = care.tasks.outstanding_tasks(principal)
if not tasks:
    st.success(_("Nothing outstanding."))
for index, task in enumerate(tasks):
    title = task_title(task.kind, task.title)
    patient = plain(task.patient_name, "")
    if task.due:
        text = _("{task} · {patient} · due {date}", task=title, patient=patient, date=tr().date(task.due))
    else:
        text = _("{task} · {patient}", task=title, patient=patient)
    col_text, col_open = st.columns([5, 1])
    with col_text:
        if task.overdue:
            st.error(_("**Overdue** · {task}", task=text), icon=TASK_ICONS.get(task.kind, ":material/task:"))
        else:
            st.info(text, icon=TASK_ICONS.get(task.kind, ":material/task:"))
    if col_open.button(_("Open case"), key=f"task_open_{index}_{task.case_id}"):
        st.session_state["physician_selected_case"] = task.case_id
        st.switch_page("pages/physician_case.py")

st.header(_("Appointments"))
appointments = care.appointments.physician_agenda(principal)
if not appointments:
    st.caption(_("No appointments in the next 90 days."))
for appointment in appointments:
    state = appointment.status if appointment.confirmed or appointment.status != "booked" else "to confirm"
    st.markdown(
        _(
            "- **{when}** · {minutes} min · {patient} ({reference}) · {location} · {reason} · _{state}_",
            when=format_when_in_zone(appointment.start_utc, zone),
            minutes=appointment.duration_min,
            patient=plain(appointment.patient_name),
            reference=plain(appointment.case_reference),
            location=plain(appointment.location),
            reason=plain(appointment.reason),
            state=_(APPOINTMENT_STATES[state]) if state in APPOINTMENT_STATES else plain(state),
        )
    )

st.header(_("Publish free times"))
with st.form("publish_window"):
    col_day, col_start, col_end, col_slot = st.columns(4)
    day = col_day.date_input(_("Day"), date.today() + timedelta(days=7), min_value=date.today())
    start = col_start.time_input(_("From ({zone})", zone=zone), time(9, 0), step=timedelta(minutes=15))
    end = col_end.time_input(_("Until"), time(12, 0), step=timedelta(minutes=15))
    slot = col_slot.number_input(_("Slot (min)"), 10, 120, 30, step=5)
    location = st.text_input(_("Location"), _("Clinic"))
    if st.form_submit_button(_("Publish"), type="primary"):
        try:
            care.appointments.publish_availability(principal, day, start, end, int(slot), location)
            st.success(_("Published; patients with an advised visit can book these times."))
        except ValidationError as error:
            st.error(_(str(error)))
slots = [s for s in care.appointments.free_slots(principal) if s.physician_id == principal.user_id]
if slots:
    st.caption(
        ngettext(
            "{n} free slot published; next {when}",
            "{n} free slots published; next {when}",
            len(slots),
            when=format_when_in_zone(slots[0].start_utc, zone),
        )
    )
else:
    st.caption(_("No free slots published."))
