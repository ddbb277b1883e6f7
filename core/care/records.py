"""Typed records of hybrid care (no database, no Streamlit): what the services return and what the
exporters work on. Easy to build in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.care import booking
from core.care.followup import TREATMENT_TYPES, is_overdue

APPOINTMENT_STATUSES = ("booked", "cancelled", "completed", "no_show")
CHECKIN_STATUSES = ("open", "submitted", "reviewed", "cancelled")


# -- workflow records (appointments, treatments, check-ins, tasks) -----------------------------


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


@dataclass(frozen=True)
class PatientRef:
    """A patient as the pickers list them (the admin's erase page, the archive)."""

    patient_id: str
    name: str
    email: str | None


# -- export records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientRecord:
    patient_id: str
    name: str
    email: str | None = None
    date_of_birth: date | None = None
    language: str = "en"
    timezone: str = "Europe/Amsterdam"
    sex: str | None = None


@dataclass(frozen=True)
class ConsentRecord:
    consent_id: str
    kind: str  # e.g. telemedicine, photo_storage, anonymised_use
    granted: bool
    recorded_at: datetime | None = None
    version: str | None = None  # of the consent text the patient answered
    language: str | None = None  # of that text (BCP 47); None: recorded before languages, English


@dataclass(frozen=True)
class PhotoRecord:
    photo_id: str
    view: str
    taken_at: datetime | None
    source: str = "upload"  # upload / camera / followup
    content_type: str = "image/jpeg"
    image_bytes: bytes | None = None  # embedded only where the export asks for it


@dataclass(frozen=True)
class MetricRecord:
    metric_id: str
    metric: str
    region: str
    value: float
    unit: str | None
    measured_at: datetime | None
    photo_id: str | None = None
    score: float | None = None
    band: str | None = None
    assessment_id: str | None = None  # the AI pre-assessment run that measured it
    view: str | None = None


@dataclass(frozen=True)
class AssessmentRecord:
    """One AI pre-assessment run: the engine that measured (version + sha256) and when."""

    assessment_id: str
    status: str | None
    issued_at: datetime | None
    engine_version: str | None
    engine_sha256: str | None
    summary: str = ""
    photo_ids: tuple[str, ...] = ()  # the photos it was given


@dataclass(frozen=True)
class PractitionerRecord:
    physician_id: str
    name: str
    credentials: str | None = None  # e.g. "MD, dermatologist"
    registration: str | None = None  # professional register number


@dataclass(frozen=True)
class ClinicRecord:
    """The clinic as settings describe it: letterhead and the FHIR Organization."""

    name: str = "Clinic"
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    public_url: str | None = None  # makes identifier systems the clinic's own URLs

    @property
    def address_lines(self) -> list[str]:
        raw = (self.address or "").replace(";", "\n")
        return [line.strip() for line in raw.splitlines() if line.strip()]


@dataclass(frozen=True)
class ReportRecord:
    report_id: str
    kind: str  # "physician" (the sent report); AI runs are AssessmentRecords
    issued_at: datetime | None
    summary: str
    sections: dict[str, str] = field(default_factory=dict)  # heading -> text
    author: str | None = None
    physician_id: str | None = None
    pdf: bytes | None = None  # the letter the patient received, for presentedForm
    status: str = "final"  # final once sent; preliminary for a draft a physician exports


@dataclass(frozen=True)
class AppointmentRecord:
    appointment_id: str
    start_utc: datetime
    end_utc: datetime
    status: str  # booked / cancelled / completed / no_show
    reason: str
    location: str
    physician_name: str | None = None
    clinic_timezone: str = "Europe/Amsterdam"
    physician_id: str | None = None


@dataclass(frozen=True)
class TreatmentRecord:
    treatment_id: str
    treatment_type: str
    area: str
    product: str | None
    amount: float | None
    unit: str | None
    treated_on: date
    notes: str | None = None
    physician_id: str | None = None


@dataclass(frozen=True)
class CaseExport:
    """Everything one case export contains, gathered by the service under access checks."""

    case_id: str
    reference: str
    patient: PatientRecord
    concern: str | None = None
    consents: list[ConsentRecord] = field(default_factory=list)
    photos: list[PhotoRecord] = field(default_factory=list)
    metrics: list[MetricRecord] = field(default_factory=list)
    reports: list[ReportRecord] = field(default_factory=list)
    appointments: list[AppointmentRecord] = field(default_factory=list)
    treatments: list[TreatmentRecord] = field(default_factory=list)
    assessments: list[AssessmentRecord] = field(default_factory=list)
    practitioners: list[PractitionerRecord] = field(default_factory=list)
    clinic: ClinicRecord = field(default_factory=ClinicRecord)
    submitted_at: datetime | None = None  # the remote consultation's start
    status: str | None = None  # the case's workflow status
