"""Exports and GDPR: the report PDF, a case's FHIR R4 bundle, "download all my data", erasure.

Every export is audited (ids only in the audit details). Erasure deletes the patient's rows in
every table that references them (found through the catalog, so other areas' tables are covered
without this module knowing them) and every blob those rows point at. The audit log is kept
intact: its rows hold ids and codes only (core.audit asks every area for that), so the hash
chain still verifies and nothing left there names the person.
"""

from __future__ import annotations

import io
import json
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
    require_patient_or_staff,
    require_role,
)
from core.care.fhir import build_case_bundle, validate_bundle
from core.care.pdf import ReportPdfInput, build_report_pdf
from core.care.records import (
    AppointmentRecord,
    CaseExport,
    ConsentRecord,
    MetricRecord,
    PatientRecord,
    PhotoRecord,
    ReportRecord,
    TreatmentRecord,
)
from core.db import from_db_time

if TYPE_CHECKING:
    from core.care.service import CareService

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


class CareExports:
    def __init__(self, service: CareService) -> None:
        self._service = service
        self._clinic = service._clinic
        self.db = service.db

    # -- case export ---------------------------------------------------------------------------
    def case_export(
        self, principal: Principal, case_id: str, include_photo_bytes: bool = False
    ) -> CaseExport:
        patient_id, reference = self._service.case_owner(principal, case_id)
        archive = self._service.archive
        patient_row = self.db.fetchone(
            "SELECT p.id, p.name, u.email, p.date_of_birth, p.preferred_language, p.time_zone"
            " FROM patients p LEFT JOIN users u ON u.id = p.user_id WHERE p.id = ?",
            [patient_id],
        )
        if patient_row is None:
            raise NotFound(f"patient {patient_id} does not exist")
        patient = PatientRecord(
            patient_row[0],
            patient_row[1],
            patient_row[2],
            patient_row[3],
            patient_row[4] or "en",
            patient_row[5] or self._service.clinic_timezone,
        )
        concern_row = self.db.fetchone("SELECT concerns FROM cases WHERE id = ?", [case_id])
        consents = [
            ConsentRecord(r[0], r[1], bool(r[2]), from_db_time(r[3]))
            for r in self.db.fetchall(
                "SELECT id, kind, granted, recorded_at FROM consents WHERE patient_id = ? AND (case_id IS NULL OR case_id = ?)"
                " ORDER BY recorded_at",
                [patient_id, case_id],
            )
        ]
        photos = []
        for photo_id, view, created_at, source, mime, blob_id in self.db.fetchall(
            'SELECT id, "view", created_at, source, mime, blob_id FROM photos WHERE case_id = ? ORDER BY created_at',
            [case_id],
        ):
            data = self._clinic.blobs.get(blob_id) if include_photo_bytes else None
            photos.append(PhotoRecord(photo_id, view, from_db_time(created_at), source, mime, data))
        metrics: list[MetricRecord] = []
        if archive.table_columns("assessment_metrics"):
            metrics = [
                MetricRecord(
                    str(r[0]),
                    r[1],
                    r[2],
                    float(r[3]),
                    r[4],
                    from_db_time(r[5]),
                    r[6],
                    None if r[7] is None else float(r[7]),
                    r[8],
                )
                for r in self.db.fetchall(
                    "SELECT id, metric, region, value, unit, measured_at, photo_id, score, band FROM assessment_metrics"
                    " WHERE case_id = ? AND value IS NOT NULL ORDER BY measured_at, metric, region",
                    [case_id],
                )
            ]
        reports = self._pre_assessment_reports(case_id)
        report = self._clinic.reports.get_report(principal, case_id)
        if report is not None:
            reports.append(
                ReportRecord(
                    report.report_id,
                    "physician",
                    report.sent_at or report.updated_at,
                    "",
                    {
                        "Findings": report.findings,
                        "Assessment": report.assessment,
                        "Recommended treatments": report.recommended_treatments,
                        "Home care": report.home_care,
                        "In-person visit": report.in_person_reason or "",
                        "Follow-up": report.follow_up_suggestion or "",
                    },
                    self._service.physician_name(report.physician_id),
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
            )
            for a in self._service.case_appointments(principal, case_id)
        ]
        treatments = [
            TreatmentRecord(
                t.treatment_id, t.treatment_type, t.area, t.product, t.amount, t.unit, t.treated_on, t.notes
            )
            for t in self._service.case_treatments(principal, case_id)
        ]
        return CaseExport(
            case_id,
            reference,
            patient,
            concern_row[0] if concern_row else None,
            consents,
            photos,
            metrics,
            reports,
            appointments,
            treatments,
        )

    def _pre_assessment_reports(self, case_id: str) -> list[ReportRecord]:
        columns = self._service.archive.table_columns("assessments")
        if not {"id", "case_id"} <= columns:
            return []
        time_column = next((c for c in ("created_at", "finished_at", "assessed_at") if c in columns), None)
        status_column = "status" if "status" in columns else "NULL"
        version_column = "engine_version" if "engine_version" in columns else "NULL"
        select = f"id, {time_column or 'NULL'}, {status_column}, {version_column}"
        return [
            ReportRecord(
                str(r[0]),
                "pre_assessment",
                from_db_time(r[1]) if isinstance(r[1], datetime) else None,
                f"AI pre-assessment ({r[2] or 'unknown status'}, engine {r[3] or 'unknown'}):"
                " image measurements as decision support for the physician.",
            )
            for r in self.db.fetchall(f"SELECT {select} FROM assessments WHERE case_id = ?", [case_id])
        ]

    def fhir_bundle(
        self, principal: Principal, case_id: str, include_photo_data: bool = False
    ) -> dict[str, Any]:
        """The case as a validated FHIR R4 collection Bundle; audited."""
        require_role(principal, PHYSICIAN, PATIENT)
        export = self.case_export(principal, case_id, include_photo_bytes=include_photo_data)
        bundle = build_case_bundle(export, include_photo_data=include_photo_data)
        validate_bundle(bundle)  # never hand out a bundle a receiving system would reject
        self._service._audit(principal, "care.fhir_export", "case", case_id, resources=len(bundle["entry"]))
        return bundle

    # -- report PDF ----------------------------------------------------------------------------
    def report_pdf(self, principal: Principal, case_id: str, photo_ids: list[str] | None = None) -> bytes:
        """The sent physician report as a PDF for the patient (physicians may preview drafts)."""
        require_role(principal, PATIENT, PHYSICIAN)
        patient_id, reference = self._service.case_owner(principal, case_id)
        report = self._clinic.reports.get_report(principal, case_id)
        if report is None:
            raise NotFound("there is no report for this consultation yet")
        patient = self.db.fetchone("SELECT name, preferred_language FROM patients WHERE id = ?", [patient_id])
        photos: list[tuple[str, bytes]] = []
        if photo_ids:
            rows = self.db.fetchall(
                'SELECT id, "view", blob_id, mime FROM photos WHERE case_id = ? ORDER BY created_at',
                [case_id],
            )
            wanted = set(photo_ids)
            photos = [
                (view.replace("_", " "), self._clinic.blobs.get(blob))
                for pid, view, blob, mime in rows
                if pid in wanted and mime in ("image/jpeg", "image/png")
            ]
        data = ReportPdfInput(
            clinic_name=self._service.settings.clinic_name,
            patient_name=patient[0] if patient else "",
            case_reference=reference,
            physician_name=self._service.physician_name(report.physician_id),
            issued_on=(report.sent_at or report.updated_at).date(),
            language=(patient[1] if patient else None) or "en",
            sections={
                "Findings": report.findings,
                "Assessment": report.assessment,
                "Recommendations": report.recommended_treatments,
                "Home care": report.home_care,
            },
            in_person_reason=report.in_person_reason if report.in_person_needed else None,
            follow_up=report.follow_up_suggestion,
            photos=photos,
        )
        pdf = build_report_pdf(data)
        self._service._audit(principal, "care.report_pdf_export", "case", case_id, photos=len(photos))
        return pdf

    # -- GDPR ----------------------------------------------------------------------------------
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
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'clinic' AND table_schema = 'main'"
                " AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        filters: list[tuple[str, str, list[Any]]] = []
        for table in tables:
            if table in KEPT_TABLES:
                continue
            columns = self._service.archive.table_columns(table)
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
        """Everything stored about the patient: data.json (rows per table) + photos decrypted."""
        patient_id = patient_id or principal.patient_id
        if patient_id is None:
            raise AccessDenied("only a patient (or an administrator for a patient) can export patient data")
        require_patient_or_staff(principal, patient_id)
        if principal.role == PHYSICIAN:
            raise AccessDenied("the full data export is for the patient or an administrator")
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
                archive.writestr(name, self._clinic.blobs.get(blob_id))
            archive.writestr(
                "README.txt",
                "data.json holds every database row stored about you, per table; photos/ holds your photos\n"
                "decrypted, one folder per consultation. Times are UTC.\n",
            )
        self._service._audit(
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
        if principal.role != ADMIN:
            raise AccessDenied("only an administrator can erase a patient")
        filters = self._patient_row_filters(patient_id)
        blob_ids: set[str] = set()
        for table, where, params in filters:
            columns = self._service.archive.table_columns(table)
            for column in sorted(c for c in columns if c == "blob_id" or c.endswith("_blob_id")):
                blob_ids.update(
                    r[0]
                    for r in self.db.fetchall(f"SELECT {column} FROM {table} WHERE {where}", params)
                    if r[0]
                )
        deleted: dict[str, int] = {}
        with self.db.transaction() as tx:
            for table, where, params in filters:
                count = tx.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
                if count:
                    tx.execute(f"DELETE FROM {table} WHERE {where}", params)
                    deleted[table] = int(count)
        # Blobs after the commit: a failed transaction must not leave rows pointing at lost photos.
        removed = sum(1 for blob_id in sorted(blob_ids) if self._clinic.blobs.delete(blob_id))
        self._service._audit(
            principal, "care.patient_erased", "patient", patient_id, rows=sum(deleted.values()), blobs=removed
        )
        return ErasureResult(patient_id, deleted, removed)


def _extension(mime: str | None) -> str:
    return {"image/png": "png", "image/heic": "heic"}.get(mime or "", "jpg")
