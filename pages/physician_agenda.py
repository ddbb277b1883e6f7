"""Physician's agenda: outstanding tasks (overdue first, highlighted), appointments, published times."""

from __future__ import annotations

from datetime import date, time, timedelta

import streamlit as st

from components.layout import plain
from components.session import get_clinic, require_role

principal = require_role("physician")
clinic = get_clinic()
care = clinic.care
zone = clinic.settings.clinic_timezone

from core.access import ValidationError  # noqa: E402 - after the role check, like every page
from core.care.booking import format_local  # noqa: E402

st.title("Agenda")

TASK_ICONS = {
    "checkin_review": ":material/compare:",
    "checkin_due": ":material/photo_camera:",
    "report_to_write": ":material/edit_note:",
    "visit_to_book": ":material/event:",
    "visit_to_confirm": ":material/event_available:",
}

st.subheader("Outstanding tasks")
tasks = care.tasks.outstanding_tasks(principal)
if not tasks:
    st.success("Nothing outstanding.")
for index, task in enumerate(tasks):
    due = f"due {task.due:%Y-%m-%d}" if task.due else ""
    text = f"{plain(task.title)} · {plain(task.patient_name, '')} · {due}"
    col_text, col_open = st.columns([5, 1])
    with col_text:
        if task.overdue:
            st.error(f"**Overdue** · {text}", icon=TASK_ICONS.get(task.kind, ":material/task:"))
        else:
            st.info(text, icon=TASK_ICONS.get(task.kind, ":material/task:"))
    if col_open.button("Open case", key=f"task_open_{index}_{task.case_id}"):
        st.session_state["physician_selected_case"] = task.case_id
        st.switch_page("pages/physician_case.py")

st.subheader("Appointments")
appointments = care.appointments.physician_agenda(principal)
if not appointments:
    st.caption("No appointments in the next 90 days.")
for appointment in appointments:
    state = appointment.status if appointment.confirmed or appointment.status != "booked" else "to confirm"
    st.markdown(
        f"- **{appointment.when_for_clinic()}** · {appointment.duration_min} min · {plain(appointment.patient_name)}"
        f" ({plain(appointment.case_reference)}) · {plain(appointment.location)} · {plain(appointment.reason)}"
        f" · _{state}_"
    )

st.subheader("Publish free times")
with st.form("publish_window"):
    col_day, col_start, col_end, col_slot = st.columns(4)
    day = col_day.date_input("Day", date.today() + timedelta(days=7), min_value=date.today())
    start = col_start.time_input(f"From ({zone})", time(9, 0), step=timedelta(minutes=15))
    end = col_end.time_input("Until", time(12, 0), step=timedelta(minutes=15))
    slot = col_slot.number_input("Slot (min)", 10, 120, 30, step=5)
    location = st.text_input("Location", "Clinic")
    if st.form_submit_button("Publish", type="primary"):
        try:
            care.appointments.publish_availability(principal, day, start, end, int(slot), location)
            st.success("Published; patients with an advised visit can book these times.")
        except ValidationError as error:
            st.error(str(error))
slots = [s for s in care.appointments.free_slots(principal) if s.physician_id == principal.user_id]
st.caption(
    f"{len(slots)} free slot(s) published"
    + (f"; next {format_local(slots[0].start_utc, zone)}" if slots else "")
)
