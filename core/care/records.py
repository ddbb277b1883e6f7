"""Plain dataclasses the exporters work on (no database, no Streamlit): easy to build in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


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


@dataclass(frozen=True)
class ReportRecord:
    report_id: str
    kind: str  # "pre_assessment" (AI, for the physician) or "physician"
    issued_at: datetime | None
    summary: str
    sections: dict[str, str] = field(default_factory=dict)  # heading -> text
    author: str | None = None


@dataclass(frozen=True)
class AppointmentRecord:
    appointment_id: str
    start_utc: datetime
    end_utc: datetime
    status: str  # booked / cancelled / completed
    reason: str
    location: str
    physician_name: str | None = None
    clinic_timezone: str = "Europe/Amsterdam"


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
