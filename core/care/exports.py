"""Exports and GDPR: the report letter (PDF), a case's FHIR R4 bundle, "download all my data", erasure.

Every export is audited (ids only in the audit details). Erasure deletes the patient's rows in
every table that references them (found through the catalog, so other areas' tables are covered
without this module knowing them) and every blob those rows point at. The audit log is kept
intact: its rows hold ids and codes only (core.audit asks every area for that), so the hash
chain still verifies and nothing left there names the person.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from core.access import (
    ADMIN,
    PATIENT,
    PHYSICIAN,
    AccessDenied,
    NotFound,
    Principal,
    require_patient_access,
    require_role,
)
from core.assessment.findings import ENGLISH, PLAIN_NAMES, measure_name, plain_value, region_words
from core.care.context import CareContext
from core.care.fhir import build_case_bundle, metric_label, validate_bundle
from core.care.pdf import PdfMeasurement, PdfPhoto, ReportPdfInput, build_report_pdf
from core.care.records import (
    AppointmentRecord,
    AssessmentRecord,
    CaseExport,
    ClinicRecord,
    ConsentRecord,
    MetricRecord,
    PatientRecord,
    PhotoRecord,
    PractitionerRecord,
    ReportRecord,
    TreatmentRecord,
)
from core.care.release import filter_for_principal
from core.db import to_db_time
from core.i18n import Translator, translator
from core.rows import fetch_all_as, fetch_one_as

if TYPE_CHECKING:
    from core.blobstore import BlobStore
    from core.care.appointments import AppointmentService
    from core.care.treatments import TreatmentService
    from core.consult.reports import ReportService

# Tables never exported or erased row by row: the audit chain and bookkeeping.
KEPT_TABLES = frozenset({"audit_log", "schema_migrations"})
# Columns never put in a data export (secrets, not personal data of the requester).
SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})


@dataclass(frozen=True)
class ErasureResult:
    patient_id: str
    rows_deleted: dict[str, int]
    blobs_deleted: int


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@dataclass(frozen=True)
class _PhotoRow:
    photo_id: str
    view: str
    taken_at: datetime
    source: str
    content_type: str
    blob_id: str


@dataclass(frozen=True)
class _AssessmentRun:
    assessment_id: str
    status: str | None
    issued_at: datetime | None
    engine_version: str | None
    engine_sha256: str | None
    report_json: str | None


@dataclass(frozen=True)
class _CaseRow:
    reference: str
    concerns: str | None
    submitted_at: datetime | None
    status: str | None
    assigned_physician_id: str | None


@dataclass(frozen=True)
class _PdfPatient:
    name: str
    language: str | None
    date_of_birth: date | None


_PHOTO_SQL = (
    'SELECT id AS photo_id, "view", created_at AS taken_at, source, mime AS content_type, blob_id'
    " FROM photos WHERE case_id = ? ORDER BY created_at"
)
PDF_MAX_MEASUREMENTS = 10


def _concern_text(raw: str | None) -> str | None:
    """cases.concerns holds a JSON list of concern codes: 'lines wrinkles, redness'."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    items = value if isinstance(value, list) else [value]
    return ", ".join(str(item).replace("_", " ") for item in items) or None


def _summary_and_inputs(report_json: str | None) -> tuple[str, tuple[str, ...]]:
    try:
        report = json.loads(report_json) if report_json else {}
    except ValueError:
        return "", ()
    if not isinstance(report, dict):
        return "", ()
    inputs = tuple(
        str(i.get("photo_id")) for i in report.get("inputs", []) if isinstance(i, dict) and i.get("photo_id")
    )
    return str(report.get("summary") or ""), inputs


def pdf_measurements(metrics: list[MetricRecord], t: Translator = ENGLISH) -> list[PdfMeasurement]:
    """The letter's compact table: per metric the region that scored highest, most notable first,
    in `t`'s language with the assessment card's words (measure, region, value; the band stays a
    key the letter says in the same words)."""
    best: dict[str, MetricRecord] = {}
    for metric in metrics:
        if not math.isfinite(metric.value) or metric.score is None or not math.isfinite(metric.score):
            continue
        current = best.get(metric.metric)
        if current is None or (metric.score or 0.0) > (current.score or 0.0):
            best[metric.metric] = metric
    chosen = sorted(best.values(), key=lambda m: (-(m.score or 0.0), m.metric))[:PDF_MAX_MEASUREMENTS]
    rows = []
    for metric in chosen:
        # The card's words and units (degrees, percent of area, counts, 0-100 indices), not
        # the engine's raw units: a patient keeps this letter.
        shown = {"metric": metric.metric, "value": metric.value, "score": metric.score, "band": metric.band}
        label = (
            measure_name(metric.metric, t) if metric.metric in PLAIN_NAMES else metric_label(metric.metric, t)
        )
        rows.append(PdfMeasurement(label, region_words(metric.region, t), plain_value(shown, t), metric.band))
    return rows


class CareExports:
    """`clinic.exports`: exports of one case or of everything about one patient, and erasure."""

    def __init__(
        self,
        context: CareContext,
        blobs: BlobStore,
        reports: ReportService,
        appointments: AppointmentService,
        treatments: TreatmentService,
    ) -> None:
        self._care = context
        self.db = context.db
        self._blobs = blobs
        self._reports = reports
        self._appointments = appointments
        self._treatments = treatments
        self._columns: dict[str, frozenset[str]] = {}

    # -- physicians ----------------------------------------------------------------------------
    def set_physician_credentials(
        self, principal: Principal, physician_id: str, credentials: str | None, registration: str | None
    ) -> None:
        """What letters and FHIR exports say about a physician: credentials and register number."""
        require_role(principal, ADMIN)
        row = self.db.fetchone("SELECT role FROM users WHERE id = ?", [physician_id])
        if row is None or row[0] != PHYSICIAN:
            raise NotFound(f"no physician {physician_id}")
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM care_physician_profiles WHERE physician_id = ?", [physician_id])
            tx.execute(
                "INSERT INTO care_physician_profiles (physician_id, credentials, registration, updated_at)"
                " VALUES (?, ?, ?, ?)",
                [
                    physician_id,
                    (credentials or "").strip() or None,
                    (registration or "").strip() or None,
                    to_db_time(datetime.now(UTC)),
                ],
            )
            self._care.audit_log.record(
                principal, "care.physician_credentials", "user", physician_id, None, tx=tx
            )

    def practitioner(self, physician_id: str) -> PractitionerRecord:
        row = self.db.fetchone(
            "SELECT u.display_name, p.credentials, p.registration FROM users u"
            " LEFT JOIN care_physician_profiles p ON p.physician_id = u.id WHERE u.id = ?",
            [physician_id],
        )
        if row is None:
            return PractitionerRecord(physician_id, physician_id)
        return PractitionerRecord(physician_id, row[0], row[1], row[2])

    def _clinic_record(self) -> ClinicRecord:
        settings = self._care.settings
        return ClinicRecord(
            settings.clinic_name,
            settings.clinic_address,
            settings.clinic_phone,
            settings.clinic_email,
            settings.public_url,
        )

    # -- case export ---------------------------------------------------------------------------
    def case_export(
        self, principal: Principal, case_id: str, include_photo_bytes: bool = False
    ) -> CaseExport:
        owner = self._care.case_owner(principal, case_id)
        cursor = self.db.cursor()
        patient = fetch_one_as(
            cursor,
            PatientRecord,
            "SELECT p.id AS patient_id, p.name, u.email, p.date_of_birth,"
            " coalesce(p.preferred_language, 'en') AS language, coalesce(p.time_zone, ?) AS timezone"
            " FROM patients p LEFT JOIN users u ON u.id = p.user_id WHERE p.id = ?",
            [self._care.clinic_timezone, owner.patient_id],
        )
        if patient is None:
            raise NotFound(f"patient {owner.patient_id} does not exist")
        case = fetch_one_as(
            cursor,
            _CaseRow,
            "SELECT reference, concerns, created_at AS submitted_at, status, assigned_physician_id"
            " FROM cases WHERE id = ?",
            [case_id],
        )
        consents = fetch_all_as(
            cursor,
            ConsentRecord,
            "SELECT id AS consent_id, kind, granted, recorded_at, version, language FROM consents"
            " WHERE patient_id = ? AND (case_id IS NULL OR case_id = ?) ORDER BY recorded_at",
            [owner.patient_id, case_id],
        )
        photos = [
            PhotoRecord(
                row.photo_id,
                row.view,
                row.taken_at,
                row.source,
                row.content_type,
                self._blobs.get(row.blob_id) if include_photo_bytes else None,
            )
            for row in fetch_all_as(cursor, _PhotoRow, _PHOTO_SQL, [case_id])
        ]
        metrics = fetch_all_as(
            cursor,
            MetricRecord,
            "SELECT id AS metric_id, metric, region, value, unit, measured_at, photo_id, score, band,"
            ' assessment_id, "view" FROM assessment_metrics WHERE case_id = ? AND value IS NOT NULL'
            " ORDER BY measured_at, metric, region",
            [case_id],
        )
        assessments = self._assessment_runs(case_id)
        if principal.role == PATIENT:
            # The patient's copy holds only the measures the physician released, and not the
            # engine's own summary (it names every measure that stood out).
            metrics = filter_for_principal(
                cursor, principal, owner.patient_id, metrics, lambda m: (case_id, m.metric, m.region)
            )
            assessments = [dataclasses.replace(run, summary="") for run in assessments]
        physician_ids: list[str] = []
        reports: list[ReportRecord] = []
        report = self._reports.get_report(principal, case_id)
        if report is not None:
            physician_ids.append(report.physician_id)
            reports.append(
                ReportRecord(
                    report.report_id,
                    "physician",
                    report.sent_at or report.updated_at,
                    "",
                    {
                        "findings": report.findings,
                        "assessment": report.assessment,
                        "recommendations": report.recommended_treatments,
                        "home_care": report.home_care,
                        "in_person": report.in_person_reason or "",
                        "follow_up": report.follow_up_suggestion or "",
                    },
                    self._care.physician_name(report.physician_id),
                    physician_id=report.physician_id,
                    pdf=self._report_pdf_bytes(principal, case_id, report, None),
                    status="final" if report.sent_at else "preliminary",
                )
            )
        appointments = [
            AppointmentRecord(
                a.appointment_id,
                a.start_utc,
                a.end_utc,
                a.status,
                a.reason,
                a.location,
                a.physician_name,
                a.clinic_timezone,
                a.physician_id,
            )
            for a in self._appointments.case_appointments(principal, case_id)
        ]
        treatments = [
            TreatmentRecord(
                t.treatment_id,
                t.treatment_type,
                t.area,
                t.product,
                t.amount,
                t.unit,
                t.treated_on,
                t.notes,
                t.physician_id,
            )
            for t in self._treatments.case_treatments(principal, case_id)
        ]
        physician_ids += [a.physician_id for a in appointments if a.physician_id]
        physician_ids += [t.physician_id for t in treatments if t.physician_id]
        if case and case.assigned_physician_id:
            physician_ids.append(case.assigned_physician_id)
        return CaseExport(
            case_id,
            owner.reference,
            patient,
            _concern_text(case.concerns) if case else None,
            consents,
            photos,
            metrics,
            reports,
            appointments,
            treatments,
            assessments,
            [self.practitioner(physician_id) for physician_id in dict.fromkeys(physician_ids)],
            self._clinic_record(),
            case.submitted_at if case else None,
            case.status if case else None,
        )

    def _assessment_runs(self, case_id: str, baseline_only: bool = False) -> list[AssessmentRecord]:
        """The case's runs, oldest first (`baseline_only`: those of the submission's own photos,
        not of follow-up check-ins)."""
        runs = fetch_all_as(
            self.db.cursor(),
            _AssessmentRun,
            "SELECT id AS assessment_id, status, coalesce(finished_at, created_at) AS issued_at, engine_version,"
            " engine_sha256, report_json FROM assessments WHERE case_id = ?"
            + (" AND checkin_id IS NULL" if baseline_only else "")
            + " ORDER BY created_at",
            [case_id],
        )
        records = []
        for run in runs:
            summary, inputs = _summary_and_inputs(run.report_json)
            records.append(
                AssessmentRecord(
                    run.assessment_id,
                    run.status,
                    run.issued_at,
                    run.engine_version,
                    run.engine_sha256,
                    summary,
                    inputs,
                )
            )
        return records

    def fhir_bundle(
        self, principal: Principal, case_id: str, include_photo_data: bool = False
    ) -> dict[str, Any]:
        """The case as a validated FHIR R4 collection Bundle; audited."""
        require_role(principal, PHYSICIAN, PATIENT)
        export = self.case_export(principal, case_id, include_photo_bytes=include_photo_data)
        bundle = build_case_bundle(export, include_photo_data=include_photo_data)
        validate_bundle(bundle)  # never hand out a bundle a receiving system would reject
        self._care.audit(
            principal,
            "care.fhir_export",
            "case",
            case_id,
            resources=len(bundle["entry"]),
            photos_embedded=include_photo_data,
        )
        return bundle

    # -- report PDF ----------------------------------------------------------------------------
    def report_pdf(self, principal: Principal, case_id: str, photo_ids: list[str] | None = None) -> bytes:
        """The physician report as a letter for the patient (physicians may preview drafts)."""
        require_role(principal, PATIENT, PHYSICIAN)
        self._care.case_owner(principal, case_id)
        report = self._reports.get_report(principal, case_id)
        if report is None:
            raise NotFound("there is no report for this consultation yet")
        pdf = self._report_pdf_bytes(principal, case_id, report, photo_ids)
        self._care.audit(principal, "care.report_pdf_export", "case", case_id, photos=len(photo_ids or []))
        return pdf

    def _report_pdf_bytes(
        self, principal: Principal, case_id: str, report: Any, photo_ids: list[str] | None
    ) -> bytes:
        owner = self._care.case_owner(principal, case_id)
        cursor = self.db.cursor()
        patient = fetch_one_as(
            cursor,
            _PdfPatient,
            "SELECT name, preferred_language AS language, date_of_birth FROM patients WHERE id = ?",
            [owner.patient_id],
        )
        case = fetch_one_as(
            cursor,
            _CaseRow,
            "SELECT reference, concerns, created_at AS submitted_at, status, assigned_physician_id"
            " FROM cases WHERE id = ?",
            [case_id],
        )
        photos: list[PdfPhoto] = []
        if photo_ids:
            wanted = set(photo_ids)
            photos = [
                PdfPhoto(row.view, self._blobs.get(row.blob_id), row.taken_at.date())
                for row in fetch_all_as(cursor, _PhotoRow, _PHOTO_SQL, [case_id])
                if row.photo_id in wanted and row.content_type in ("image/jpeg", "image/png")
            ]
        language = (patient.language if patient else None) or "en"
        runs = [run for run in self._assessment_runs(case_id, baseline_only=True) if run.status == "done"]
        measurements: list[PdfMeasurement] = []
        engine = None
        if runs:
            latest = runs[-1]
            metrics = fetch_all_as(
                cursor,
                MetricRecord,
                "SELECT id AS metric_id, metric, region, value, unit, measured_at, photo_id, score, band,"
                ' assessment_id, "view" FROM assessment_metrics WHERE assessment_id = ? AND value IS NOT NULL',
                [latest.assessment_id],
            )
            # A patient's letter lists only the measures the physician released.
            metrics = filter_for_principal(
                cursor, principal, owner.patient_id, metrics, lambda m: (case_id, m.metric, m.region)
            )
            measurements = pdf_measurements(metrics, translator(language))
            engine = latest.engine_version or None
        practitioner = self.practitioner(report.physician_id)
        clinic = self._clinic_record()
        data = ReportPdfInput(
            clinic_name=clinic.name,
            patient_name=patient.name if patient else "",
            case_reference=owner.reference,
            physician_name=practitioner.name,
            issued_on=(report.sent_at or report.updated_at).date(),
            language=language,
            sections={
                "findings": report.findings,
                "assessment": report.assessment,
                "recommendations": report.recommended_treatments,
                "home_care": report.home_care,
            },
            in_person_reason=report.in_person_reason if report.in_person_needed else None,
            follow_up=report.follow_up_suggestion,
            photos=photos,
            patient_birth_date=patient.date_of_birth if patient else None,
            consultation_date=case.submitted_at.date() if case and case.submitted_at else None,
            physician_credentials=practitioner.credentials,
            physician_registration=practitioner.registration,
            clinic_address_lines=clinic.address_lines,
            clinic_phone=clinic.phone,
            clinic_email=clinic.email,
            measurements=measurements,
            engine_version=engine,
            signed=report.sent_at is not None,
        )
        return build_report_pdf(data)

    # -- GDPR ----------------------------------------------------------------------------------
    def table_columns(self, table: str) -> frozenset[str]:
        """Columns of a table, from the catalog; cached, since the schema only changes at open."""
        cached = self._columns.get(table)
        if cached is None:
            rows = self.db.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database()"
                " AND table_schema = current_schema() AND table_name = ?",
                [table],
            )
            cached = self._columns[table] = frozenset(row[0] for row in rows)
        return cached

    def _patient_scope(self, patient_id: str) -> tuple[str | None, list[str]]:
        row = self.db.fetchone("SELECT user_id FROM patients WHERE id = ?", [patient_id])
        if row is None:
            raise NotFound(f"patient {patient_id} does not exist")
        case_ids = [r[0] for r in self.db.fetchall("SELECT id FROM cases WHERE patient_id = ?", [patient_id])]
        return row[0], case_ids

    def _patient_row_filters(self, patient_id: str) -> list[tuple[str, str, list[Any]]]:
        """(table, WHERE clause, params) selecting every row that belongs to the patient."""
        user_id, case_ids = self._patient_scope(patient_id)
        tables = [
            r[0]
            for r in self.db.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
                " AND table_schema = current_schema()"
                " AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        filters: list[tuple[str, str, list[Any]]] = []
        for table in tables:
            if table in KEPT_TABLES:
                continue
            columns = self.table_columns(table)
            clauses: list[str] = []
            params: list[Any] = []
            if table == "patients":
                clauses.append("id = ?")
                params.append(patient_id)
            if table == "users" and user_id:
                clauses.append("id = ?")
                params.append(user_id)
            if table == "cases":
                clauses.append("patient_id = ?")
                params.append(patient_id)
            else:
                if "patient_id" in columns:
                    clauses.append("patient_id = ?")
                    params.append(patient_id)
                if "case_id" in columns and case_ids:
                    clauses.append(f"case_id IN ({', '.join('?' for _ in case_ids)})")
                    params.extend(case_ids)
                if "user_id" in columns and user_id:
                    clauses.append("user_id = ?")
                    params.append(user_id)
            if clauses:
                filters.append((table, " OR ".join(f"({c})" for c in clauses), params))
        return filters

    def patient_data_zip(self, principal: Principal, patient_id: str | None = None) -> bytes:
        """Everything stored about the patient: data.json (rows per table), the photos and the
        pre-assessment's images of them (heat maps, the aligned face), decrypted."""
        if principal is None:
            raise AccessDenied("log in first")
        patient_id = patient_id or principal.patient_id
        if patient_id is None:
            raise AccessDenied("only a patient (or an administrator for a patient) can export patient data")
        # The data subject, or an administrator answering their request; never a physician.
        if require_role(principal, PATIENT, ADMIN).role == PATIENT:
            require_patient_access(principal, patient_id)
        tables: dict[str, list[dict[str, Any]]] = {}
        blob_files: list[tuple[str, str]] = []
        for table, where, params in self._patient_row_filters(patient_id):
            cursor = self.db.execute(f"SELECT * FROM {table} WHERE {where}", params)
            names = [d[0] for d in cursor.description]
            rows = [
                {k: v for k, v in zip(names, row, strict=True) if k not in SECRET_COLUMNS}
                for row in cursor.fetchall()
            ]
            if rows:
                tables[table] = rows
        for photo in tables.get("photos", []):
            blob_files.append(
                (
                    f"photos/{photo['case_id']}/{photo['view']}_{photo['id']}.{_extension(photo.get('mime'))}",
                    photo["blob_id"],
                )
            )
        for image in tables.get("assessment_blobs", []):  # owned by the patient like the photos
            blob_files.append(
                (f"assessments/{image['case_id']}/{image['kind']}_{image['blob_id']}", image["blob_id"])
            )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(
                "data.json",
                json.dumps(
                    {"patient_id": patient_id, "exported_at": datetime.now(UTC), "tables": tables},
                    default=_json_default,
                    indent=2,
                    ensure_ascii=False,
                ),
            )
            for name, blob_id in blob_files:
                data = self._blobs.get(blob_id)
                if name.startswith("assessments/"):
                    name += ".png" if data.startswith(b"\x89PNG") else ".jpg"
                archive.writestr(name, data)
            archive.writestr(
                "README.txt",
                "data.json holds every database row stored about you, per table; photos/ holds your photos\n"
                "decrypted, one folder per consultation; assessments/ the images the software made of\n"
                "them for the physician (heat maps, the aligned face). Times are UTC.\n",
            )
        self._care.audit(
            principal,
            "care.patient_data_export",
            "patient",
            patient_id,
            tables=len(tables),
            photos=len(blob_files),
        )
        return buffer.getvalue()

    def erase_patient(self, principal: Principal, patient_id: str) -> ErasureResult:
        """Right to erasure: remove every row and blob of the patient; the audit chain stays valid."""
        require_role(principal, ADMIN)
        filters = self._patient_row_filters(patient_id)
        # First in the erasure ledger beside the key file (ids and time only), so neither a crash
        # before the commit nor restoring an older backup brings the patient back (core.erasure).
        from core.erasure import record_erasure

        record_erasure(self._care.settings, patient_id)
        blob_ids: set[str] = set()
        for table, where, params in filters:
            columns = self.table_columns(table)
            for column in sorted(c for c in columns if c == "blob_id" or c.endswith("_blob_id")):
                blob_ids.update(
                    r[0]
                    for r in self.db.fetchall(f"SELECT {column} FROM {table} WHERE {where}", params)
                    if r[0]
                )
        deleted: dict[str, int] = {}
        with self.db.transaction() as tx:
            for table, where, params in filters:
                row = tx.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()
                count = row[0] if row else 0
                if count:
                    tx.execute(f"DELETE FROM {table} WHERE {where}", params)
                    deleted[table] = int(count)
        # Blobs after the commit: a failed transaction must not leave rows pointing at lost photos.
        removed = sum(1 for blob_id in sorted(blob_ids) if self._blobs.delete(blob_id))
        self._care.audit(
            principal, "care.patient_erased", "patient", patient_id, rows=sum(deleted.values()), blobs=removed
        )
        return ErasureResult(patient_id, deleted, removed)


def _extension(mime: str | None) -> str:
    return {"image/png": "png", "image/heic": "heic"}.get(mime or "", "jpg")
