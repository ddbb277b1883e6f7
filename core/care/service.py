"""CareService: appointments, treatments and follow-up check-ins, outstanding tasks (storage + access).

Wired onto the Clinic as `clinic.care`. Every public method takes the acting `Principal` first and
enforces access itself; pages never run SQL. Archive queries live in `core.care.archive`, exports
and GDPR in `core.care.exports` (both reached through this service too).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from core.access import (
    ADMIN,
    PATIENT,
    PHYSICIAN,
    AccessDenied,
    NotFound,
    Principal,
    ValidationError,
    require_patient_or_staff,
    require_role,
)
from core.care import booking
from core.care.booking import BookingError, Interval
from core.care.followup import AMOUNT_UNITS, TREATMENT_TYPES, PlannedCheckIn, is_overdue, propose_plan
from core.db import from_db_time, to_db_time, utcnow

if TYPE_CHECKING:
    from core.care.archive import ArchiveQueries
    from core.care.exports import CareExports
    from core.consult.photos import CheckedPhoto

APPOINTMENT_STATUSES = ("booked", "cancelled", "completed", "no_show")
CHECKIN_STATUSES = ("open", "submitted", "reviewed", "cancelled")
DEFAULT_LOCATION = "Clinic"

# One booking lock per database file: the check-then-insert must not interleave between threads
# (DuckDB's optimistic concurrency would let two inserts of different rows both commit).
_booking_locks: dict[str, threading.Lock] = {}
_booking_locks_guard = threading.Lock()


def _booking_lock(key: str) -> threading.Lock:
    with _booking_locks_guard:
        return _booking_locks.setdefault(key, threading.Lock())


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Appointment:
    appointment_id: str
    case_id: str
    patient_id: str
    physician_id: str
    start_utc: datetime
    end_utc: datetime
    duration_min: int
    clinic_timezone: str
    patient_timezone: str
    reason: str
    location: str
    status: str
    booked_by: str
    confirmed: bool
    cancel_reason: str | None = None
    physician_name: str | None = None
    patient_name: str | None = None
    case_reference: str | None = None

    def local_start(self, zone_name: str) -> datetime:
        return booking.utc_to_local(self.start_utc, zone_name)

    def when_for_clinic(self) -> str:
        return booking.format_local(self.start_utc, self.clinic_timezone)

    def when_for_patient(self) -> str:
        return booking.format_local(self.start_utc, self.patient_timezone)


@dataclass(frozen=True)
class Slot:
    physician_id: str
    physician_name: str
    start_utc: datetime
    end_utc: datetime
    location: str

    @property
    def minutes(self) -> int:
        return int((self.end_utc - self.start_utc).total_seconds() // 60)


@dataclass(frozen=True)
class TreatmentInput:
    treatment_type: str
    area: str
    treated_on: date
    product: str | None = None
    amount: float | None = None
    unit: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class Treatment:
    treatment_id: str
    case_id: str
    patient_id: str
    physician_id: str
    treatment_type: str
    area: str
    product: str | None
    amount: float | None
    unit: str | None
    treated_on: date
    notes: str | None

    @property
    def label(self) -> str:
        amount = f" {self.amount:g} {self.unit or ''}".rstrip() if self.amount is not None else ""
        product = f" ({self.product})" if self.product else ""
        return (
            f"{TREATMENT_TYPES.get(self.treatment_type, self.treatment_type)}{product}, {self.area}{amount}"
        )


@dataclass(frozen=True)
class CheckIn:
    checkin_id: str
    case_id: str
    patient_id: str
    treatment_id: str | None
    due_date: date
    label: str
    views: tuple[str, ...]
    status: str
    photo_ids: dict[str, str] = field(default_factory=dict)  # view -> photo id once submitted
    match: dict[str, Any] = field(default_factory=dict)  # view -> baseline-match summary
    submitted_at: datetime | None = None

    def overdue(self, today: date) -> bool:
        return self.status == "open" and is_overdue(self.due_date, today)


@dataclass(frozen=True)
class Task:
    kind: str  # checkin_due / checkin_review / report_to_write / visit_to_book / visit_to_confirm
    title: str
    due: date | None
    overdue: bool
    case_id: str
    ref_id: str | None = None
    patient_name: str | None = None


_APPOINTMENT_COLUMNS = (
    "a.id, a.case_id, a.patient_id, a.physician_id, a.start_utc, a.end_utc, a.duration_min, a.clinic_timezone,"
    " a.patient_timezone, a.reason, a.location, a.status, a.booked_by, a.confirmed_at, a.cancel_reason,"
    " u.display_name, p.name, c.reference"
)
_APPOINTMENT_JOINS = (
    " FROM care_appointments a LEFT JOIN users u ON u.id = a.physician_id"
    " LEFT JOIN patients p ON p.id = a.patient_id LEFT JOIN cases c ON c.id = a.case_id"
)


def _appointment(row: tuple) -> Appointment:
    return Appointment(
        appointment_id=row[0],
        case_id=row[1],
        patient_id=row[2],
        physician_id=row[3],
        start_utc=from_db_time(row[4]),
        end_utc=from_db_time(row[5]),
        duration_min=int(row[6]),
        clinic_timezone=row[7],
        patient_timezone=row[8],
        reason=row[9],
        location=row[10],
        status=row[11],
        booked_by=row[12],
        confirmed=row[13] is not None,
        cancel_reason=row[14],
        physician_name=row[15],
        patient_name=row[16],
        case_reference=row[17],
    )


_TREATMENT_COLUMNS = (
    "id, case_id, patient_id, physician_id, treatment_type, area, product, amount, unit, treated_on, notes"
)


def _treatment(row: tuple) -> Treatment:
    return Treatment(*row[:9], treated_on=row[9], notes=row[10])


_CHECKIN_COLUMNS = (
    "id, case_id, patient_id, treatment_id, due_date, label, views_json, status, photo_ids_json, match_json,"
    " submitted_at"
)


def _checkin(row: tuple) -> CheckIn:
    return CheckIn(
        checkin_id=row[0],
        case_id=row[1],
        patient_id=row[2],
        treatment_id=row[3],
        due_date=row[4],
        label=row[5],
        views=tuple(json.loads(row[6])),
        status=row[7],
        photo_ids=json.loads(row[8]) if row[8] else {},
        match=json.loads(row[9]) if row[9] else {},
        submitted_at=from_db_time(row[10]),
    )


class CareService:
    """Hybrid-care workflow over the clinic's database, blob store and audit log."""

    def __init__(self, clinic: Any) -> None:
        # The Clinic facade gives db, blobs, audit, settings and the cases service.
        self._clinic = clinic
        self.db = clinic.db
        self.settings = clinic.settings
        self._lock = _booking_lock(str(getattr(self.db, "path", id(self.db))))
        self._archive: ArchiveQueries | None = None
        self._exports: CareExports | None = None

    # -- helpers --------------------------------------------------------------------------------
    @property
    def archive(self) -> ArchiveQueries:
        if self._archive is None:
            from core.care.archive import ArchiveQueries

            self._archive = ArchiveQueries(self)
        return self._archive

    @property
    def exports(self) -> CareExports:
        if self._exports is None:
            from core.care.exports import CareExports

            self._exports = CareExports(self)
        return self._exports

    @property
    def clinic_timezone(self) -> str:
        return self.settings.clinic_timezone

    def _audit(
        self, principal: Principal | None, action: str, object_type: str, object_id: str, **details: Any
    ) -> None:
        self._clinic.audit.record(principal, action, object_type, object_id, details or None)

    def case_owner(self, principal: Principal, case_id: str) -> tuple[str, str]:
        """(patient_id, case reference) after checking the principal may see the case."""
        row = self.db.fetchone("SELECT patient_id, reference FROM cases WHERE id = ?", [case_id])
        if row is None:
            if principal.role == PATIENT:
                raise AccessDenied("you may only see your own consultations")
            raise NotFound(f"case {case_id} does not exist")
        require_patient_or_staff(principal, row[0])
        return row[0], row[1]

    def patient_timezone(self, patient_id: str) -> str:
        row = self.db.fetchone("SELECT time_zone FROM patients WHERE id = ?", [patient_id])
        return row[0] if row and row[0] else self.clinic_timezone

    def physician_name(self, physician_id: str) -> str:
        row = self.db.fetchone("SELECT display_name FROM users WHERE id = ?", [physician_id])
        return row[0] if row else physician_id

    def list_physicians(self, principal: Principal) -> list[tuple[str, str]]:
        require_role(principal, PATIENT, PHYSICIAN, ADMIN)
        rows = self.db.fetchall(
            "SELECT id, display_name FROM users WHERE role = ? AND NOT disabled ORDER BY display_name",
            [PHYSICIAN],
        )
        return [(row[0], row[1]) for row in rows]

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
        try:
            window = Interval(
                booking.local_to_utc(day, start, self.clinic_timezone),
                booking.local_to_utc(day, end, self.clinic_timezone),
            )
            if not booking.split_window(window, slot_minutes):
                raise BookingError("the window is shorter than one slot")
        except BookingError as error:
            raise ValidationError({"window": str(error)}) from error
        window_id = new_id()
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
        self._audit(principal, "care.availability_published", "availability", window_id)
        return window_id

    def free_slots(
        self,
        principal: Principal,
        start_utc: datetime | None = None,
        end_utc: datetime | None = None,
        physician_id: str | None = None,
    ) -> list[Slot]:
        """Bookable slots of published windows (future only), not overlapping any booked visit."""
        require_role(principal, PATIENT, PHYSICIAN, ADMIN)
        now = utcnow()
        start_utc = max(start_utc or now, now)
        end_utc = end_utc or start_utc + timedelta(days=60)
        params: list[Any] = [to_db_time(end_utc), to_db_time(start_utc)]
        where = "w.start_utc < ? AND w.end_utc > ?"
        if physician_id:
            where += " AND w.physician_id = ?"
            params.append(physician_id)
        windows = self.db.fetchall(
            "SELECT w.physician_id, u.display_name, w.start_utc, w.end_utc, w.slot_minutes, w.location"
            f" FROM care_availability w JOIN users u ON u.id = w.physician_id WHERE {where} ORDER BY w.start_utc",
            params,
        )
        slots: list[Slot] = []
        for phys_id, name, w_start, w_end, minutes, location in windows:
            booked = self._booked_intervals(phys_id)
            for interval in booking.free_slots(
                [Interval(from_db_time(w_start), from_db_time(w_end))], int(minutes), booked
            ):
                if interval.start >= start_utc and interval.end <= end_utc:
                    slots.append(Slot(phys_id, name, interval.start, interval.end, location))
        return sorted(slots, key=lambda slot: (slot.start_utc, slot.physician_name))

    def _booked_intervals(self, physician_id: str, exclude_id: str | None = None) -> list[Interval]:
        rows = self.db.fetchall(
            "SELECT id, start_utc, end_utc FROM care_appointments WHERE physician_id = ? AND status = 'booked'",
            [physician_id],
        )
        return [Interval(from_db_time(s), from_db_time(e)) for i, s, e in rows if i != exclude_id]

    # -- appointments ---------------------------------------------------------------------------
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
        patient_id, _ = self.case_owner(principal, case_id)
        if principal.role == ADMIN:
            raise AccessDenied("appointments are booked by the physician or the patient")
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
            appointment_id = new_id()
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
                        self.clinic_timezone,
                        self.patient_timezone(patient_id),
                        reason.strip(),
                        (location or DEFAULT_LOCATION).strip(),
                        principal.role,
                        now,
                        now,
                        now if principal.role == PHYSICIAN else None,
                    ],
                )
        self._audit(principal, "care.appointment_booked", "appointment", appointment_id, case_id=case_id)
        return self.get_appointment(principal, appointment_id)

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
            start = booking.local_to_utc(day, clock, self.clinic_timezone)
        except BookingError as error:
            raise ValidationError({"start": str(error)}) from error
        return self.book_appointment(principal, case_id, start, duration_min, reason, location)

    def _ensure_free_in(
        self, tx: Any, physician_id: str, interval: Interval, exclude_id: str | None = None
    ) -> None:
        rows = tx.execute(
            "SELECT id, start_utc, end_utc FROM care_appointments WHERE physician_id = ? AND status = 'booked'"
            " AND start_utc < ? AND end_utc > ?",
            [physician_id, to_db_time(interval.end), to_db_time(interval.start)],
        ).fetchall()
        booked = [Interval(from_db_time(s), from_db_time(e)) for i, s, e in rows if i != exclude_id]
        try:
            booking.ensure_free(interval, booked)
        except BookingError as error:
            raise ValidationError({"start": str(error)}) from error

    def get_appointment(self, principal: Principal, appointment_id: str) -> Appointment:
        row = self.db.fetchone(
            f"SELECT {_APPOINTMENT_COLUMNS}{_APPOINTMENT_JOINS} WHERE a.id = ?", [appointment_id]
        )
        if row is None:
            raise (
                AccessDenied("no such appointment") if principal.role == PATIENT else NotFound(appointment_id)
            )
        appointment = _appointment(row)
        require_patient_or_staff(principal, appointment.patient_id)
        return appointment

    def reschedule(
        self,
        principal: Principal,
        appointment_id: str,
        new_start_utc: datetime,
        duration_min: int | None = None,
    ) -> Appointment:
        current = self.get_appointment(principal, appointment_id)
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
        self._audit(principal, "care.appointment_rescheduled", "appointment", appointment_id)
        return self.get_appointment(principal, appointment_id)

    def cancel(self, principal: Principal, appointment_id: str, reason: str = "") -> Appointment:
        current = self.get_appointment(principal, appointment_id)
        if current.status != "booked":
            raise ValidationError({"status": f"the appointment is already {current.status}"})
        self.db.execute(
            "UPDATE care_appointments SET status = 'cancelled', cancel_reason = ?, updated_at = ? WHERE id = ?",
            [reason.strip() or None, to_db_time(utcnow()), appointment_id],
        )
        self._audit(principal, "care.appointment_cancelled", "appointment", appointment_id)
        return self.get_appointment(principal, appointment_id)

    def set_appointment_status(self, principal: Principal, appointment_id: str, status: str) -> Appointment:
        """Physician: confirm a patient's booking ('booked'), or mark it completed / no_show."""
        require_role(principal, PHYSICIAN)
        if status not in ("booked", "completed", "no_show"):
            raise ValidationError({"status": "must be booked (confirm), completed or no_show"})
        self.get_appointment(principal, appointment_id)
        self.db.execute(
            "UPDATE care_appointments SET status = ?, confirmed_at = COALESCE(confirmed_at, ?), updated_at = ?"
            " WHERE id = ?",
            [status, to_db_time(utcnow()), to_db_time(utcnow()), appointment_id],
        )
        self._audit(
            principal,
            f"care.appointment_{'confirmed' if status == 'booked' else status}",
            "appointment",
            appointment_id,
        )
        return self.get_appointment(principal, appointment_id)

    def case_appointments(self, principal: Principal, case_id: str) -> list[Appointment]:
        self.case_owner(principal, case_id)
        rows = self.db.fetchall(
            f"SELECT {_APPOINTMENT_COLUMNS}{_APPOINTMENT_JOINS} WHERE a.case_id = ? ORDER BY a.start_utc",
            [case_id],
        )
        return [_appointment(row) for row in rows]

    def patient_agenda(
        self, principal: Principal, patient_id: str | None = None, include_past: bool = False
    ) -> list[Appointment]:
        """A patient's appointments (their own only), soonest first."""
        patient_id = patient_id or principal.patient_id
        if patient_id is None:
            raise ValidationError({"patient": "which patient?"})
        require_patient_or_staff(principal, patient_id)
        since = "" if include_past else " AND a.end_utc >= ?"
        params: list[Any] = [patient_id] + (
            [] if include_past else [to_db_time(utcnow() - timedelta(days=1))]
        )
        rows = self.db.fetchall(
            f"SELECT {_APPOINTMENT_COLUMNS}{_APPOINTMENT_JOINS} WHERE a.patient_id = ?{since} ORDER BY a.start_utc",
            params,
        )
        return [_appointment(row) for row in rows]

    def physician_agenda(
        self,
        principal: Principal,
        start_utc: datetime | None = None,
        end_utc: datetime | None = None,
        physician_id: str | None = None,
    ) -> list[Appointment]:
        require_role(principal, PHYSICIAN, ADMIN)
        physician_id = physician_id or principal.user_id
        start_utc = start_utc or utcnow() - timedelta(days=1)
        end_utc = end_utc or start_utc + timedelta(days=90)
        rows = self.db.fetchall(
            f"SELECT {_APPOINTMENT_COLUMNS}{_APPOINTMENT_JOINS} WHERE a.physician_id = ? AND a.start_utc < ?"
            " AND a.end_utc > ? ORDER BY a.start_utc",
            [physician_id, to_db_time(end_utc), to_db_time(start_utc)],
        )
        return [_appointment(row) for row in rows]

    # -- treatments and follow-up plans ---------------------------------------------------------
    def baseline_photos(self, principal: Principal, case_id: str) -> dict[str, str]:
        """view -> photo id of the case's first non-follow-up photo of that view (the baseline)."""
        self.case_owner(principal, case_id)
        rows = self.db.fetchall(
            "SELECT \"view\", id FROM photos WHERE case_id = ? AND source <> 'followup' ORDER BY created_at",
            [case_id],
        )
        baseline: dict[str, str] = {}
        for view, photo_id in rows:
            baseline.setdefault(view, photo_id)
        return baseline

    def propose_follow_up(
        self, principal: Principal, case_id: str, treatment_type: str, treated_on: date
    ) -> list[PlannedCheckIn]:
        require_role(principal, PHYSICIAN)
        views = tuple(v for v in self.baseline_photos(principal, case_id) if v != "close_up")
        return propose_plan(treatment_type, treated_on, views)

    def record_treatment(
        self,
        principal: Principal,
        case_id: str,
        treatment: TreatmentInput,
        plan: list[PlannedCheckIn] | None = None,
    ) -> tuple[Treatment, list[CheckIn]]:
        """Record a treatment and create its check-in tasks (the proposed plan unless one is given)."""
        require_role(principal, PHYSICIAN)
        patient_id, _ = self.case_owner(principal, case_id)
        errors: dict[str, str] = {}
        if treatment.treatment_type not in TREATMENT_TYPES:
            errors["treatment_type"] = f"must be one of {', '.join(TREATMENT_TYPES)}"
        if not treatment.area.strip():
            errors["area"] = "which area was treated?"
        if treatment.amount is not None:
            if treatment.amount <= 0:
                errors["amount"] = "must be positive"
            allowed = AMOUNT_UNITS.get(treatment.treatment_type, ("",))
            if treatment.unit not in allowed and allowed != ("",):
                errors["unit"] = f"use {' or '.join(allowed)}"
        if treatment.treated_on > date.today() + timedelta(days=1):
            errors["treated_on"] = "a treatment is recorded once it is done"
        if errors:
            raise ValidationError(errors)
        if plan is None:
            plan = self.propose_follow_up(principal, case_id, treatment.treatment_type, treatment.treated_on)
        treatment_id = new_id()
        now = to_db_time(utcnow())
        with self.db.transaction() as tx:
            tx.execute(
                f"INSERT INTO care_treatments ({_TREATMENT_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    treatment_id,
                    case_id,
                    patient_id,
                    principal.user_id,
                    treatment.treatment_type,
                    treatment.area.strip(),
                    (treatment.product or "").strip() or None,
                    treatment.amount,
                    treatment.unit if treatment.amount is not None else None,
                    treatment.treated_on,
                    (treatment.notes or "").strip() or None,
                    now,
                ],
            )
            for item in plan:
                self._insert_checkin(tx, case_id, patient_id, treatment_id, item)
        self._audit(
            principal,
            "care.treatment_recorded",
            "case",
            case_id,
            treatment_id=treatment_id,
            checkins=len(plan),
        )
        recorded = self.db.fetchone(
            f"SELECT {_TREATMENT_COLUMNS} FROM care_treatments WHERE id = ?", [treatment_id]
        )
        return _treatment(recorded), [
            c for c in self.case_checkins(principal, case_id) if c.treatment_id == treatment_id
        ]

    def _insert_checkin(
        self, tx: Any, case_id: str, patient_id: str, treatment_id: str | None, item: PlannedCheckIn
    ) -> str:
        if not item.views:
            raise ValidationError({"views": "a check-in needs at least one view"})
        checkin_id = new_id()
        tx.execute(
            "INSERT INTO care_checkins (id, case_id, patient_id, treatment_id, due_date, label, views_json, status,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
            [
                checkin_id,
                case_id,
                patient_id,
                treatment_id,
                item.due_date,
                item.label.strip() or "Check-in",
                json.dumps(list(item.views)),
                to_db_time(utcnow()),
            ],
        )
        return checkin_id

    def case_treatments(self, principal: Principal, case_id: str) -> list[Treatment]:
        self.case_owner(principal, case_id)
        rows = self.db.fetchall(
            f"SELECT {_TREATMENT_COLUMNS} FROM care_treatments WHERE case_id = ? ORDER BY treated_on, created_at",
            [case_id],
        )
        return [_treatment(row) for row in rows]

    def add_checkin(
        self, principal: Principal, case_id: str, item: PlannedCheckIn, treatment_id: str | None = None
    ) -> CheckIn:
        require_role(principal, PHYSICIAN)
        patient_id, _ = self.case_owner(principal, case_id)
        with self.db.transaction() as tx:
            checkin_id = self._insert_checkin(tx, case_id, patient_id, treatment_id, item)
        self._audit(principal, "care.checkin_added", "case", case_id, checkin_id=checkin_id)
        return self.get_checkin(principal, checkin_id)

    def update_checkin(
        self, principal: Principal, checkin_id: str, due_date: date | None = None, label: str | None = None
    ) -> CheckIn:
        """Physician edits the plan: move a check-in or rename it (only while open)."""
        require_role(principal, PHYSICIAN)
        current = self.get_checkin(principal, checkin_id)
        if current.status != "open":
            raise ValidationError({"status": "only open check-ins can be changed"})
        self.db.execute(
            "UPDATE care_checkins SET due_date = ?, label = ? WHERE id = ?",
            [due_date or current.due_date, (label or current.label).strip(), checkin_id],
        )
        self._audit(principal, "care.checkin_updated", "checkin", checkin_id)
        return self.get_checkin(principal, checkin_id)

    def cancel_checkin(self, principal: Principal, checkin_id: str) -> CheckIn:
        require_role(principal, PHYSICIAN)
        if self.get_checkin(principal, checkin_id).status != "open":
            raise ValidationError({"status": "only open check-ins can be dropped"})
        self.db.execute("UPDATE care_checkins SET status = 'cancelled' WHERE id = ?", [checkin_id])
        self._audit(principal, "care.checkin_cancelled", "checkin", checkin_id)
        return self.get_checkin(principal, checkin_id)

    def get_checkin(self, principal: Principal, checkin_id: str) -> CheckIn:
        row = self.db.fetchone(f"SELECT {_CHECKIN_COLUMNS} FROM care_checkins WHERE id = ?", [checkin_id])
        if row is None:
            raise AccessDenied("no such check-in") if principal.role == PATIENT else NotFound(checkin_id)
        checkin = _checkin(row)
        require_patient_or_staff(principal, checkin.patient_id)
        return checkin

    def case_checkins(self, principal: Principal, case_id: str) -> list[CheckIn]:
        self.case_owner(principal, case_id)
        rows = self.db.fetchall(
            f"SELECT {_CHECKIN_COLUMNS} FROM care_checkins WHERE case_id = ? ORDER BY due_date, created_at",
            [case_id],
        )
        return [_checkin(row) for row in rows]

    def patient_checkins(
        self, principal: Principal, patient_id: str | None = None, open_only: bool = True
    ) -> list[CheckIn]:
        patient_id = patient_id or principal.patient_id
        if patient_id is None:
            raise ValidationError({"patient": "which patient?"})
        require_patient_or_staff(principal, patient_id)
        status = " AND status = 'open'" if open_only else ""
        rows = self.db.fetchall(
            f"SELECT {_CHECKIN_COLUMNS} FROM care_checkins WHERE patient_id = ?{status} ORDER BY due_date",
            [patient_id],
        )
        return [_checkin(row) for row in rows]

    def submit_checkin(
        self,
        principal: Principal,
        checkin_id: str,
        photos: Mapping[str, CheckedPhoto],
        matches: dict[str, dict[str, Any]] | None = None,
    ) -> CheckIn:
        """The patient's checked photos (from the intake) join the case as source 'followup', with
        their quality results; the task is then done."""
        require_role(principal, PATIENT)
        checkin = self.get_checkin(principal, checkin_id)
        if checkin.status != "open":
            raise ValidationError({"status": "this check-in was already sent"})
        missing = [view for view in checkin.views if view not in photos]
        if missing:
            raise ValidationError({"photos": f"still missing: {', '.join(missing)}"})
        photo_ids: dict[str, str] = {}
        for view in checkin.views:
            # The server names the origin: a check-in photo is a follow-up, however it was taken.
            followup = dataclasses.replace(photos[view], source="followup")
            stored = self._clinic.cases.add_photo(principal, checkin.case_id, followup)
            photo_ids[view] = getattr(stored, "photo_id", None) or getattr(stored, "id", None) or str(stored)
        self.db.execute(
            "UPDATE care_checkins SET status = 'submitted', photo_ids_json = ?, match_json = ?, submitted_at = ? WHERE id = ?",
            [
                json.dumps(photo_ids),
                json.dumps(matches or {}, default=float),
                to_db_time(utcnow()),
                checkin_id,
            ],
        )
        self._audit(principal, "care.checkin_submitted", "checkin", checkin_id, case_id=checkin.case_id)
        return self.get_checkin(principal, checkin_id)

    def mark_checkin_reviewed(self, principal: Principal, checkin_id: str) -> CheckIn:
        require_role(principal, PHYSICIAN)
        if self.get_checkin(principal, checkin_id).status != "submitted":
            raise ValidationError({"status": "only submitted check-ins can be reviewed"})
        self.db.execute(
            "UPDATE care_checkins SET status = 'reviewed', reviewed_at = ? WHERE id = ?",
            [to_db_time(utcnow()), checkin_id],
        )
        self._audit(principal, "care.checkin_reviewed", "checkin", checkin_id)
        return self.get_checkin(principal, checkin_id)

    # -- outstanding tasks ----------------------------------------------------------------------
    def outstanding_tasks(self, principal: Principal, today: date | None = None) -> list[Task]:
        """What needs doing by this person, overdue first then by due date."""
        today = today or datetime.now(UTC).date()
        tasks: list[Task] = []
        if principal.role == PATIENT:
            for checkin in self.patient_checkins(principal):
                tasks.append(
                    Task(
                        "checkin_due",
                        checkin.label,
                        checkin.due_date,
                        checkin.overdue(today),
                        checkin.case_id,
                        checkin.checkin_id,
                    )
                )
            for appointment in self.patient_agenda(principal):
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
        else:
            require_role(principal, PHYSICIAN, ADMIN)
            rows = self.db.fetchall(
                "SELECT k.id, k.case_id, k.label, k.due_date, k.status, p.name FROM care_checkins k"
                " JOIN patients p ON p.id = k.patient_id WHERE k.status IN ('open', 'submitted') ORDER BY k.due_date"
            )
            for checkin_id, case_id, label, due, status, name in rows:
                if status == "submitted":
                    tasks.append(
                        Task(
                            "checkin_review",
                            f"Review check-in photos: {label}",
                            due,
                            False,
                            case_id,
                            checkin_id,
                            name,
                        )
                    )
                elif is_overdue(due, today):
                    # Open and late: the physician may want to nudge the patient.
                    tasks.append(
                        Task(
                            "checkin_due",
                            f"Patient check-in overdue: {label}",
                            due,
                            True,
                            case_id,
                            checkin_id,
                            name,
                        )
                    )
            # Reports still to write: cases waiting for the physician, without a sent report.
            rows = self.db.fetchall(
                "SELECT c.id, c.reference, c.created_at, p.name FROM cases c JOIN patients p ON p.id = c.patient_id"
                " LEFT JOIN reports r ON r.case_id = c.id WHERE r.sent_at IS NULL"
                " AND c.status IN ('submitted', 'in_review') ORDER BY c.created_at"
            )
            for case_id, reference, created_at, name in rows:
                created = from_db_time(created_at).date()
                tasks.append(
                    Task(
                        "report_to_write",
                        f"Write the report for {reference}",
                        created + timedelta(days=2),
                        is_overdue(created + timedelta(days=2), today),
                        case_id,
                        None,
                        name,
                    )
                )
            # In-person visits advised in a report but not booked yet.
            rows = self.db.fetchall(
                "SELECT c.id, c.reference, r.sent_at, p.name FROM reports r JOIN cases c ON c.id = r.case_id"
                " JOIN patients p ON p.id = c.patient_id WHERE r.in_person_needed AND NOT EXISTS ("
                " SELECT 1 FROM care_appointments a WHERE a.case_id = c.id AND a.status IN ('booked', 'completed'))"
            )
            for case_id, reference, sent_at, name in rows:
                due = (from_db_time(sent_at).date() + timedelta(days=7)) if sent_at else None
                tasks.append(
                    Task(
                        "visit_to_book",
                        f"Book the in-person visit for {reference}",
                        due,
                        bool(due and is_overdue(due, today)),
                        case_id,
                        None,
                        name,
                    )
                )
            for appointment in self.physician_agenda(principal):
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
        return sorted(tasks, key=lambda task: (not task.overdue, task.due or date.max))
