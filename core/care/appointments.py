"""In-person visits: published availability, free slots, booking, moving, cancelling, agendas.

`clinic.care.appointments`. Times are stored in UTC with the clinic's and the patient's zone
beside them; `core.care.booking` holds the pure time-zone and overlap rules.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from core.access import (
    ADMIN,
    PATIENT,
    PHYSICIAN,
    Principal,
    ValidationError,
    require_patient_access,
    require_role,
)
from core.care import booking
from core.care.booking import BookingError, Interval
from core.care.context import CareContext
from core.care.records import Appointment, Slot
from core.consult.case_access import authorize_patient_object
from core.db import Cursor, to_db_time, utcnow
from core.rows import fetch_all_as

DEFAULT_LOCATION = "Clinic"

# One booking lock per database file: the check-then-insert must not interleave between threads
# (DuckDB's optimistic concurrency would let two inserts of different rows both commit).
_booking_locks: dict[str, threading.Lock] = {}
_booking_locks_guard = threading.Lock()


def _booking_lock(key: str) -> threading.Lock:
    with _booking_locks_guard:
        return _booking_locks.setdefault(key, threading.Lock())


@dataclass(frozen=True)
class _Window:
    """A published availability window, as the slot search reads it."""

    physician_id: str
    physician_name: str
    start_utc: datetime
    end_utc: datetime
    slot_minutes: int
    location: str


@dataclass(frozen=True)
class _Booked:
    appointment_id: str
    start_utc: datetime
    end_utc: datetime


_SELECT_APPOINTMENTS = (
    "SELECT a.id AS appointment_id, a.case_id, a.patient_id, a.physician_id, a.start_utc, a.end_utc,"
    " a.duration_min, a.clinic_timezone, a.patient_timezone, a.reason, a.location, a.status, a.booked_by,"
    " a.confirmed_at IS NOT NULL AS confirmed, a.cancel_reason, u.display_name AS physician_name,"
    " p.name AS patient_name, c.reference AS case_reference"
    " FROM care_appointments a LEFT JOIN users u ON u.id = a.physician_id"
    " LEFT JOIN patients p ON p.id = a.patient_id LEFT JOIN cases c ON c.id = a.case_id"
)


class AppointmentService:
    def __init__(self, context: CareContext) -> None:
        self._care = context
        self.db = context.db
        self._lock = _booking_lock(str(getattr(self.db, "path", id(self.db))))

    def _appointments(self, where: str, params: list[Any]) -> list[Appointment]:
        return fetch_all_as(self.db.cursor(), Appointment, f"{_SELECT_APPOINTMENTS} WHERE {where}", params)

    # -- availability and slots -----------------------------------------------------------------
    def publish_availability(
        self,
        principal: Principal,
        day: date,
        start: time,
        end: time,
        slot_minutes: int = 30,
        location: str = DEFAULT_LOCATION,
    ) -> str:
        """A physician opens a window (clinic-local wall clock) that patients can book slot by slot."""
        require_role(principal, PHYSICIAN)
        zone = self._care.clinic_timezone
        try:
            window = Interval(booking.local_to_utc(day, start, zone), booking.local_to_utc(day, end, zone))
            if not booking.split_window(window, slot_minutes):
                raise BookingError("the window is shorter than one slot")
        except BookingError as error:
            raise ValidationError({"window": str(error)}) from error
        window_id = uuid.uuid4().hex
        self.db.execute(
            "INSERT INTO care_availability (id, physician_id, start_utc, end_utc, slot_minutes, location, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                window_id,
                principal.user_id,
                to_db_time(window.start),
                to_db_time(window.end),
                slot_minutes,
                location.strip() or DEFAULT_LOCATION,
                to_db_time(utcnow()),
            ],
        )
        self._care.audit(principal, "care.availability_published", "availability", window_id)
        return window_id

    def free_slots(
        self,
        principal: Principal,
        start_utc: datetime | None = None,
        end_utc: datetime | None = None,
        physician_id: str | None = None,
    ) -> list[Slot]:
        """Bookable slots of published windows (future only), not overlapping any booked visit.

        Slots name physicians and times only, no patient data: every role may list them.
        """
        require_role(principal, PATIENT, PHYSICIAN, ADMIN)
        now = utcnow()
        start_utc = max(start_utc or now, now)
        end_utc = end_utc or start_utc + timedelta(days=60)
        params: list[Any] = [to_db_time(end_utc), to_db_time(start_utc)]
        where = "w.start_utc < ? AND w.end_utc > ?"
        if physician_id:
            where += " AND w.physician_id = ?"
            params.append(physician_id)
        windows = fetch_all_as(
            self.db.cursor(),
            _Window,
            "SELECT w.physician_id, u.display_name AS physician_name, w.start_utc, w.end_utc, w.slot_minutes,"
            f" w.location FROM care_availability w JOIN users u ON u.id = w.physician_id WHERE {where}"
            " ORDER BY w.start_utc",
            params,
        )
        slots: list[Slot] = []
        for window in windows:
            booked = self._booked_intervals(self.db.cursor(), window.physician_id)
            for interval in booking.free_slots(
                [Interval(window.start_utc, window.end_utc)], int(window.slot_minutes), booked
            ):
                if interval.start >= start_utc and interval.end <= end_utc:
                    slots.append(
                        Slot(
                            window.physician_id,
                            window.physician_name,
                            interval.start,
                            interval.end,
                            window.location,
                        )
                    )
        return sorted(slots, key=lambda slot: (slot.start_utc, slot.physician_name))

    @staticmethod
    def _booked_intervals(
        cursor: Cursor,
        physician_id: str,
        within: Interval | None = None,
        exclude_id: str | None = None,
    ) -> list[Interval]:
        """The physician's booked visits (overlapping `within` when given), as intervals."""
        sql = (
            "SELECT id AS appointment_id, start_utc, end_utc FROM care_appointments"
            " WHERE physician_id = ? AND status = 'booked'"
        )
        params: list[Any] = [physician_id]
        if within is not None:
            sql += " AND start_utc < ? AND end_utc > ?"
            params += [to_db_time(within.end), to_db_time(within.start)]
        rows = fetch_all_as(cursor, _Booked, sql, params)
        return [Interval(row.start_utc, row.end_utc) for row in rows if row.appointment_id != exclude_id]

    def _ensure_free_in(
        self,
        tx: Cursor,
        physician_id: str,
        interval: Interval,
        exclude_id: str | None = None,
    ) -> None:
        try:
            booking.ensure_free(interval, self._booked_intervals(tx, physician_id, interval, exclude_id))
        except BookingError as error:
            raise ValidationError({"start": str(error)}) from error

    # -- booking and changes --------------------------------------------------------------------
    def book_appointment(
        self,
        principal: Principal,
        case_id: str,
        start_utc: datetime,
        duration_min: int,
        reason: str,
        location: str | None = None,
        physician_id: str | None = None,
    ) -> Appointment:
        """Book an in-person visit. Physicians book any free time; patients only a published slot."""
        patient_id = self._care.case_owner(principal, case_id).patient_id
        if not reason.strip():
            raise ValidationError({"reason": "say why the visit is needed"})
        if principal.role == PHYSICIAN:
            physician_id = physician_id or principal.user_id
        try:
            interval = booking.appointment_interval(start_utc, duration_min)
        except BookingError as error:
            raise ValidationError({"start": str(error)}) from error
        if interval.start < utcnow() - timedelta(minutes=5):
            raise ValidationError({"start": "the visit must be in the future"})
        with self._lock:
            if principal.role == PATIENT:
                self._ensure_patient_may_book(case_id, patient_id)
                slot = next(
                    (
                        s
                        for s in self.free_slots(principal, interval.start, interval.end, physician_id)
                        if s.start_utc == interval.start and s.end_utc == interval.end
                    ),
                    None,
                )
                if slot is None:
                    raise ValidationError({"start": "this slot is no longer available; choose another"})
                physician_id, location = slot.physician_id, slot.location
            assert physician_id is not None
            appointment_id = uuid.uuid4().hex
            now = to_db_time(utcnow())
            with self.db.transaction() as tx:
                self._ensure_free_in(tx, physician_id, interval)
                tx.execute(
                    "INSERT INTO care_appointments (id, case_id, patient_id, physician_id, start_utc, end_utc,"
                    " duration_min, clinic_timezone, patient_timezone, reason, location, status, booked_by,"
                    " created_at, updated_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?, ?, ?)",
                    [
                        appointment_id,
                        case_id,
                        patient_id,
                        physician_id,
                        to_db_time(interval.start),
                        to_db_time(interval.end),
                        duration_min,
                        self._care.clinic_timezone,
                        self._care.patient_timezone(patient_id),
                        reason.strip(),
                        (location or DEFAULT_LOCATION).strip(),
                        principal.role,
                        now,
                        now,
                        now if principal.role == PHYSICIAN else None,
                    ],
                )
        self._care.audit(principal, "care.appointment_booked", "appointment", appointment_id, case_id=case_id)
        return self._get(principal, appointment_id)

    def _ensure_patient_may_book(self, case_id: str, patient_id: str) -> None:
        """A patient books only a visit the physician asked for (the sent report advises one, or a
        physician approved it) and at most `max_patient_bookings_per_case` upcoming visits per case."""
        advised = self.db.fetchone(
            "SELECT 1 FROM reports WHERE case_id = ? AND sent_at IS NOT NULL AND in_person_needed"
            " UNION ALL SELECT 1 FROM care_visit_approvals WHERE case_id = ?",
            [case_id, case_id],
        )
        if advised is None:
            raise ValidationError(
                {
                    "booking": "An in-person visit can be booked once your physician advises one in"
                    " the report or approves it. Please wait for your report."
                }
            )
        limit = self._care.settings.max_patient_bookings_per_case
        upcoming = self.db.fetchone(
            "SELECT count(*) FROM care_appointments WHERE case_id = ? AND patient_id = ?"
            " AND status = 'booked' AND end_utc >= ?",
            [case_id, patient_id, to_db_time(utcnow())],
        )
        if upcoming is not None and upcoming[0] >= limit:
            have = (
                "an upcoming visit"
                if limit == 1
                else f"{upcoming[0]} upcoming visits (the most you can book)"
            )
            raise ValidationError(
                {
                    "booking": f"You already have {have} for this consultation. To change it, cancel"
                    " or move that visit, or ask the clinic."
                }
            )

    def approve_visit(self, principal: Principal, case_id: str) -> None:
        """Physician: let the patient book a visit on a case whose report did not advise one."""
        require_role(principal, PHYSICIAN)
        patient_id = self._care.case_owner(principal, case_id).patient_id
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM care_visit_approvals WHERE case_id = ?", [case_id])
            tx.execute(
                "INSERT INTO care_visit_approvals (case_id, patient_id, approved_by, approved_at)"
                " VALUES (?, ?, ?, ?)",
                [case_id, patient_id, principal.user_id, to_db_time(utcnow())],
            )
            self._care.audit_log.record(principal, "care.visit_approved", "case", case_id, tx=tx)

    def patient_may_book(self, principal: Principal, case_id: str) -> str | None:
        """None when the patient may book a visit on this case now, else the reason they cannot."""
        patient_id = self._care.case_owner(principal, case_id).patient_id
        try:
            self._ensure_patient_may_book(case_id, patient_id)
        except ValidationError as error:
            return "; ".join(error.errors.values())
        return None

    def book_local(
        self,
        principal: Principal,
        case_id: str,
        day: date,
        clock: time,
        duration_min: int,
        reason: str,
        location: str | None = None,
    ) -> Appointment:
        """Book by clinic wall-clock time (what the physician types)."""
        try:
            start = booking.local_to_utc(day, clock, self._care.clinic_timezone)
        except BookingError as error:
            raise ValidationError({"start": str(error)}) from error
        return self.book_appointment(principal, case_id, start, duration_min, reason, location)

    def get_appointment(self, principal: Principal, appointment_id: str) -> Appointment:
        appointment = self._get(principal, appointment_id)
        self._care.audit_read(
            principal, "care.appointment_read", "appointment", appointment_id, case_id=appointment.case_id
        )
        return appointment

    def _get(self, principal: Principal, appointment_id: str) -> Appointment:
        """The access-checked appointment, for methods that audit their own change."""
        found = self._appointments("a.id = ?", [appointment_id])
        authorize_patient_object(
            principal, found[0].patient_id if found else None, "no such appointment", appointment_id
        )
        return found[0]

    def reschedule(
        self,
        principal: Principal,
        appointment_id: str,
        new_start_utc: datetime,
        duration_min: int | None = None,
    ) -> Appointment:
        current = self._get(principal, appointment_id)
        if current.status != "booked":
            raise ValidationError({"status": f"a {current.status} appointment cannot be moved"})
        duration = duration_min or current.duration_min
        try:
            interval = booking.appointment_interval(new_start_utc, duration)
        except BookingError as error:
            raise ValidationError({"start": str(error)}) from error
        with self._lock:
            if principal.role == PATIENT:
                # Patients move only into a published free slot of the same physician.
                free = self.free_slots(principal, interval.start, interval.end, current.physician_id)
                if not any(s.start_utc == interval.start and s.end_utc == interval.end for s in free):
                    raise ValidationError({"start": "choose one of the published free slots"})
            with self.db.transaction() as tx:
                self._ensure_free_in(tx, current.physician_id, interval, exclude_id=appointment_id)
                tx.execute(
                    "UPDATE care_appointments SET start_utc = ?, end_utc = ?, duration_min = ?, updated_at = ?,"
                    " confirmed_at = ? WHERE id = ?",
                    [
                        to_db_time(interval.start),
                        to_db_time(interval.end),
                        duration,
                        to_db_time(utcnow()),
                        to_db_time(utcnow()) if principal.role == PHYSICIAN else None,
                        appointment_id,
                    ],
                )
        self._care.audit(principal, "care.appointment_rescheduled", "appointment", appointment_id)
        return self._get(principal, appointment_id)

    def cancel(self, principal: Principal, appointment_id: str, reason: str = "") -> Appointment:
        current = self._get(principal, appointment_id)
        if current.status != "booked":
            raise ValidationError({"status": f"the appointment is already {current.status}"})
        self.db.execute(
            "UPDATE care_appointments SET status = 'cancelled', cancel_reason = ?, updated_at = ? WHERE id = ?",
            [reason.strip() or None, to_db_time(utcnow()), appointment_id],
        )
        self._care.audit(principal, "care.appointment_cancelled", "appointment", appointment_id)
        return self._get(principal, appointment_id)

    def set_appointment_status(self, principal: Principal, appointment_id: str, status: str) -> Appointment:
        """Physician: confirm a patient's booking ('booked'), or mark it completed / no_show."""
        require_role(principal, PHYSICIAN)
        if status not in ("booked", "completed", "no_show"):
            raise ValidationError({"status": "must be booked (confirm), completed or no_show"})
        self._get(principal, appointment_id)
        self.db.execute(
            "UPDATE care_appointments SET status = ?, confirmed_at = COALESCE(confirmed_at, ?), updated_at = ?"
            " WHERE id = ?",
            [status, to_db_time(utcnow()), to_db_time(utcnow()), appointment_id],
        )
        self._care.audit(
            principal,
            f"care.appointment_{'confirmed' if status == 'booked' else status}",
            "appointment",
            appointment_id,
        )
        return self._get(principal, appointment_id)

    # -- lists ----------------------------------------------------------------------------------
    def case_appointments(self, principal: Principal, case_id: str) -> list[Appointment]:
        self._care.case_owner(principal, case_id)
        found = self._appointments("a.case_id = ? ORDER BY a.start_utc", [case_id])
        self._care.audit_read(principal, "care.appointments_read", "case", case_id, count=len(found))
        return found

    def patient_agenda(
        self, principal: Principal, patient_id: str | None = None, include_past: bool = False
    ) -> list[Appointment]:
        """A patient's appointments (their own only), soonest first."""
        found = self._patient_agenda(principal, patient_id, include_past)
        self._care.audit_read(
            principal,
            "care.agenda_read",
            "patient",
            patient_id or str(principal.patient_id),
            count=len(found),
        )
        return found

    def _patient_agenda(
        self, principal: Principal, patient_id: str | None = None, include_past: bool = False
    ) -> list[Appointment]:
        principal = require_role(principal, PATIENT, PHYSICIAN)
        patient_id = patient_id or principal.patient_id
        if patient_id is None:
            raise ValidationError({"patient": "which patient?"})
        require_patient_access(principal, patient_id)
        since = "" if include_past else " AND a.end_utc >= ?"
        params: list[Any] = [patient_id] + (
            [] if include_past else [to_db_time(utcnow() - timedelta(days=1))]
        )
        return self._appointments(f"a.patient_id = ?{since} ORDER BY a.start_utc", params)

    def physician_agenda(
        self,
        principal: Principal,
        start_utc: datetime | None = None,
        end_utc: datetime | None = None,
        physician_id: str | None = None,
    ) -> list[Appointment]:
        """A physician's visits (with the patients' names) in a period, soonest first."""
        found = self._physician_agenda(principal, start_utc, end_utc, physician_id)
        self._care.audit_read(
            principal,
            "care.physician_agenda_read",
            "user",
            physician_id or principal.user_id,
            count=len(found),
        )
        return found

    def _physician_agenda(
        self,
        principal: Principal,
        start_utc: datetime | None = None,
        end_utc: datetime | None = None,
        physician_id: str | None = None,
    ) -> list[Appointment]:
        require_role(principal, PHYSICIAN)
        physician_id = physician_id or principal.user_id
        start_utc = start_utc or utcnow() - timedelta(days=1)
        end_utc = end_utc or start_utc + timedelta(days=90)
        return self._appointments(
            "a.physician_id = ? AND a.start_utc < ? AND a.end_utc > ? ORDER BY a.start_utc",
            [physician_id, to_db_time(end_utc), to_db_time(start_utc)],
        )
