"""Outstanding work per person: `clinic.care.tasks`.

A patient sees their open check-ins and visits the clinic has yet to confirm; a physician sees
check-ins to review or chase, reports to write, advised visits not booked yet and patients'
bookings to confirm. Overdue first, then by due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from core.access import PATIENT, PHYSICIAN, Principal, require_role
from core.care.appointments import AppointmentService
from core.care.checkins import CheckInService
from core.care.context import CareContext
from core.care.followup import is_overdue
from core.care.records import Task
from core.rows import fetch_all_as

# A report is due two days after the case came in; an advised visit should be booked within a week.
REPORT_DUE_DAYS = 2
VISIT_BOOKING_DUE_DAYS = 7


@dataclass(frozen=True)
class _OpenCheckIn:
    checkin_id: str
    case_id: str
    label: str
    due_date: date
    status: str
    patient_name: str


@dataclass(frozen=True)
class _CaseWaiting:
    case_id: str
    reference: str
    since: datetime | None  # case created (report to write) or report sent (visit to book)
    patient_name: str


class TaskService:
    def __init__(
        self, context: CareContext, appointments: AppointmentService, checkins: CheckInService
    ) -> None:
        self.db = context.db
        self._care = context
        self._appointments = appointments
        self._checkins = checkins

    def outstanding_tasks(self, principal: Principal, today: date | None = None) -> list[Task]:
        """What needs doing by this person, overdue first then by due date."""
        principal = require_role(principal, PATIENT, PHYSICIAN)
        today = today or datetime.now(UTC).date()
        if principal.role == PATIENT:
            tasks = self._patient_tasks(principal, today)
        else:
            require_role(principal, PHYSICIAN)
            tasks = self._physician_tasks(principal, today)
        # One row for the list (it names patients and their cases); the reads it is made of
        # use the services' unaudited internals so one page view is one row, not five.
        self._care.audit_read(principal, "care.tasks_read", "user", principal.user_id, count=len(tasks))
        return sorted(tasks, key=lambda task: (not task.overdue, task.due or date.max))

    def _patient_tasks(self, principal: Principal, today: date) -> list[Task]:
        tasks = [
            Task(
                "checkin_due",
                checkin.label,
                checkin.due_date,
                checkin.overdue(today),
                checkin.case_id,
                checkin.checkin_id,
            )
            for checkin in self._checkins._patient_checkins(principal)
        ]
        for appointment in self._appointments._patient_agenda(principal):
            if appointment.status == "booked" and not appointment.confirmed:
                tasks.append(
                    Task(
                        "visit_to_confirm",
                        "Waiting for the clinic to confirm your visit",
                        appointment.start_utc.date(),
                        False,
                        appointment.case_id,
                        appointment.appointment_id,
                    )
                )
        return tasks

    def _physician_tasks(self, principal: Principal, today: date) -> list[Task]:
        cursor = self.db.cursor()
        tasks: list[Task] = []
        for checkin in fetch_all_as(
            cursor,
            _OpenCheckIn,
            "SELECT k.id AS checkin_id, k.case_id, k.label, k.due_date, k.status, p.name AS patient_name"
            " FROM care_checkins k JOIN patients p ON p.id = k.patient_id"
            " WHERE k.status IN ('open', 'submitted') ORDER BY k.due_date",
        ):
            if checkin.status == "submitted":
                tasks.append(
                    Task(
                        "checkin_review",
                        f"Review check-in photos: {checkin.label}",
                        checkin.due_date,
                        False,
                        checkin.case_id,
                        checkin.checkin_id,
                        checkin.patient_name,
                    )
                )
            elif is_overdue(checkin.due_date, today):
                # Open and late: the physician may want to nudge the patient.
                tasks.append(
                    Task(
                        "checkin_due",
                        f"Patient check-in overdue: {checkin.label}",
                        checkin.due_date,
                        True,
                        checkin.case_id,
                        checkin.checkin_id,
                        checkin.patient_name,
                    )
                )
        # Reports still to write: cases waiting for the physician, without a sent report.
        for case in fetch_all_as(
            cursor,
            _CaseWaiting,
            "SELECT c.id AS case_id, c.reference, c.created_at AS since, p.name AS patient_name"
            " FROM cases c JOIN patients p ON p.id = c.patient_id LEFT JOIN reports r ON r.case_id = c.id"
            " WHERE r.sent_at IS NULL AND c.status IN ('submitted', 'in_review') ORDER BY c.created_at",
        ):
            assert case.since is not None  # cases.created_at is NOT NULL
            due = case.since.date() + timedelta(days=REPORT_DUE_DAYS)
            tasks.append(
                Task(
                    "report_to_write",
                    f"Write the report for {case.reference}",
                    due,
                    is_overdue(due, today),
                    case.case_id,
                    None,
                    case.patient_name,
                )
            )
        # In-person visits advised in a report but not booked yet.
        for case in fetch_all_as(
            cursor,
            _CaseWaiting,
            "SELECT c.id AS case_id, c.reference, r.sent_at AS since, p.name AS patient_name FROM reports r"
            " JOIN cases c ON c.id = r.case_id JOIN patients p ON p.id = c.patient_id"
            " WHERE r.in_person_needed AND NOT EXISTS (SELECT 1 FROM care_appointments a"
            " WHERE a.case_id = c.id AND a.status IN ('booked', 'completed'))",
        ):
            due = case.since.date() + timedelta(days=VISIT_BOOKING_DUE_DAYS) if case.since else None
            tasks.append(
                Task(
                    "visit_to_book",
                    f"Book the in-person visit for {case.reference}",
                    due,
                    bool(due and is_overdue(due, today)),
                    case.case_id,
                    None,
                    case.patient_name,
                )
            )
        for appointment in self._appointments._physician_agenda(principal):
            if appointment.status == "booked" and not appointment.confirmed:
                tasks.append(
                    Task(
                        "visit_to_confirm",
                        f"Confirm the visit booked by the patient ({appointment.when_for_clinic()})",
                        appointment.start_utc.date(),
                        appointment.start_utc.date() <= today,
                        appointment.case_id,
                        appointment.appointment_id,
                        appointment.patient_name,
                    )
                )
        return tasks
