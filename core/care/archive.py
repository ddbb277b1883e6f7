"""Archive queries (storage layer): case search, a patient's timeline, metric series for charts.

`clinic.archive`; pages call these, no SQL elsewhere. It reads other areas' tables (cases,
photos, reports, the pre-assessment's `assessments` and `assessment_metrics`) as their
migrations define them; every migration runs when the clinic opens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from core.access import ADMIN, PHYSICIAN, Principal, require_patient_access, require_role
from core.care.context import CareContext
from core.care.progress import TreatedArea
from core.care.records import PatientRef
from core.care.release import filter_for_principal
from core.db import to_db_time
from core.directory import patient_text_filter
from core.rows import fetch_all_as


@dataclass(frozen=True)
class ArchiveFilter:
    patient_text: str | None = None  # part of the name or email
    concern: str | None = None
    treatment_type: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    flag: str | None = None  # an assessment flag / band code, when assessments exist
    limit: int = 200


@dataclass(frozen=True)
class ArchiveCase:
    case_id: str
    reference: str
    patient_id: str
    patient_name: str
    patient_email: str | None
    status: str
    concerns: list[str]
    created_at: datetime
    treatments: list[str]
    photo_count: int


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # case / status / photo / assessment / report / treatment / appointment / checkin
    case_id: str | None
    ref_id: str | None
    title: str
    detail: str | None = None


@dataclass(frozen=True)
class MetricPoint:
    measured_at: datetime
    metric: str
    region: str
    view: str | None
    value: float
    unit: str | None
    score: float | None
    band: str | None
    case_id: str | None
    photo_id: str | None


@dataclass(frozen=True)
class ChartData:
    points: list[MetricPoint]
    treatments: list[tuple[date, str]]  # (day, label) to mark on the chart
    treated: tuple[TreatedArea, ...] = ()  # the same treatments, oldest first: what the chart opens on
    concerns: tuple[str, ...] = ()  # the intake concerns of the patient's cases, newest case first


@dataclass(frozen=True)
class PhotoRef:
    photo_id: str
    case_id: str
    view: str
    source: str
    created_at: datetime


@dataclass(frozen=True)
class _CaseRow:
    """A search hit as stored: concerns are JSON text, treatment types a comma-joined list."""

    case_id: str
    reference: str
    patient_id: str
    patient_name: str
    patient_email: str | None
    status: str
    concerns: str | None
    created_at: datetime
    treatment_types: str | None
    photo_count: int

    def record(self) -> ArchiveCase:
        return ArchiveCase(
            self.case_id,
            self.reference,
            self.patient_id,
            self.patient_name,
            self.patient_email,
            self.status,
            _json_list(self.concerns),
            self.created_at,
            [t for t in (self.treatment_types or "").split(",") if t],
            int(self.photo_count),
        )


@dataclass(frozen=True)
class _MetricRow:
    measured_at: datetime
    metric: str
    region: str
    value: float | None
    unit: str | None
    score: float | None
    band: str | None
    case_id: str


@dataclass(frozen=True)
class _TreatmentDay:
    treated_on: date
    treatment_type: str
    area: str


def _json_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class ArchiveQueries:
    def __init__(self, context: CareContext) -> None:
        self._care = context
        self.db = context.db

    # -- search ------------------------------------------------------------------------------
    def search_cases(self, principal: Principal, archive_filter: ArchiveFilter) -> list[ArchiveCase]:
        require_role(principal, PHYSICIAN)
        where: list[str] = []
        params: list[Any] = []
        f = archive_filter
        if f.patient_text and f.patient_text.strip():
            matches, match_params = patient_text_filter(self.db, f.patient_text, 1_000_000)
            where.append(matches)
            params += match_params
        if f.concern:
            where.append("c.concerns LIKE ?")
            params.append(f"%{f.concern}%")
        if f.status:
            where.append("c.status = ?")
            params.append(f.status)
        if f.date_from:
            where.append("c.created_at >= ?")
            params.append(to_db_time(datetime.combine(f.date_from, time.min, tzinfo=UTC)))
        if f.date_to:
            where.append("c.created_at <= ?")
            params.append(to_db_time(datetime.combine(f.date_to, time.max, tzinfo=UTC)))
        if f.treatment_type:
            where.append(
                "EXISTS (SELECT 1 FROM care_treatments t WHERE t.case_id = c.id AND t.treatment_type = ?)"
            )
            params.append(f.treatment_type)
        if f.flag:
            # Flag codes live in the pre-assessment's report JSON.
            where.append(
                "EXISTS (SELECT 1 FROM assessments a WHERE a.case_id = c.id AND a.report_json LIKE ?)"
            )
            params.append(f"%{f.flag}%")
        sql = (
            "SELECT c.id AS case_id, c.reference, c.patient_id, p.name AS patient_name, u.email AS patient_email,"
            " c.status, c.concerns, c.created_at,"
            " (SELECT string_agg(DISTINCT t.treatment_type, ',') FROM care_treatments t WHERE t.case_id = c.id)"
            " AS treatment_types,"
            " (SELECT count(*) FROM photos ph WHERE ph.case_id = c.id) AS photo_count"
            " FROM cases c JOIN patients p ON p.id = c.patient_id LEFT JOIN users u ON u.id = p.user_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY c.created_at DESC LIMIT ?"
        )
        params.append(max(1, min(int(f.limit), 1000)))
        rows = fetch_all_as(self.db.cursor(), _CaseRow, sql, params)
        self._care.audit(principal, "care.archive_search", "archive", "cases", count=len(rows))
        return [row.record() for row in rows]

    # -- timeline ------------------------------------------------------------------------------
    def patient_timeline(self, principal: Principal, patient_id: str) -> list[TimelineEvent]:
        """Everything that happened to one patient, oldest first, in one UNION ALL query."""
        require_patient_access(principal, patient_id)
        parts = [
            "SELECT c.created_at AS at, 'case' AS kind, c.id AS case_id, c.id AS ref_id,"
            " 'Consultation ' || c.reference AS title, c.status AS detail FROM cases c WHERE c.patient_id = ?",
            "SELECT ph.created_at, 'photo', ph.case_id, ph.id, 'Photo: ' || ph.\"view\", ph.source"
            " FROM photos ph WHERE ph.patient_id = ?",
            "SELECT coalesce(r.sent_at, r.updated_at), 'report', r.case_id, r.id,"
            " CASE WHEN r.sent_at IS NULL THEN 'Report draft' ELSE 'Report sent' END,"
            " CASE WHEN r.in_person_needed THEN 'in-person visit advised' ELSE NULL END"
            # IN (subquery) keeps the lookup on the reports.case_id index; a join would scan reports.
            " FROM reports r WHERE r.case_id IN (SELECT id FROM cases WHERE patient_id = ?)",
            "SELECT CAST(t.treated_on AS TIMESTAMP), 'treatment', t.case_id, t.id, 'Treatment: ' || t.treatment_type,"
            " t.area || coalesce(' · ' || t.product, '') || coalesce(' · ' || CAST(t.amount AS TEXT) || ' ' || t.unit, '')"
            " FROM care_treatments t WHERE t.patient_id = ?",
            "SELECT a.start_utc, 'appointment', a.case_id, a.id, 'In-person visit (' || a.status || ')', a.reason"
            " FROM care_appointments a WHERE a.patient_id = ?",
            "SELECT coalesce(k.submitted_at, CAST(k.due_date AS TIMESTAMP)), 'checkin', k.case_id, k.id,"
            " 'Check-in: ' || k.label, k.status FROM care_checkins k WHERE k.patient_id = ?",
            # Straight from the indexed patient_id (no join over all runs).
            "SELECT a.created_at, 'assessment', a.case_id, a.id, 'AI pre-assessment', a.status"
            " FROM assessments a WHERE a.patient_id = ?",
        ]
        # The first part names the columns for the whole UNION ALL.
        sql = " UNION ALL ".join(parts) + " ORDER BY 1, 2"
        events = fetch_all_as(self.db.cursor(), TimelineEvent, sql, [patient_id] * len(parts))
        self._care.audit_read(principal, "care.timeline_read", "patient", patient_id)
        return events

    # -- progress chart data -------------------------------------------------------------------
    def available_metrics(self, principal: Principal, patient_id: str) -> list[tuple[str, str]]:
        """(metric, region) pairs measured for the patient, for the chart's picker (a patient:
        only those the physician released, `core.care.release`)."""
        require_patient_access(principal, patient_id)
        rows = self.db.fetchall(
            "SELECT metric, region, case_id FROM assessment_metrics WHERE patient_id = ?", [patient_id]
        )
        rows = filter_for_principal(
            self.db.cursor(), principal, patient_id, rows, lambda r: (r[2], r[0], r[1])
        )
        self._care.audit_read(principal, "care.metric_list_read", "patient", patient_id)
        return sorted({(metric, region) for metric, region, _ in rows})

    def metric_series(
        self,
        principal: Principal,
        patient_id: str,
        metric: str | None = None,
        region: str | None = None,
    ) -> ChartData:
        """Metric values over time (+ treatment days) for the progress chart."""
        require_patient_access(principal, patient_id)
        cursor = self.db.cursor()
        # Only `patient_id = ?` in SQL: DuckDB answers that from the single-column index, while
        # extra predicates turn the plan into a full scan; metric/region are filtered here.
        rows = fetch_all_as(
            cursor,
            _MetricRow,
            # Narrow projection: each fetched column costs a per-row lookup in compressed storage.
            "SELECT measured_at, metric, region, value, unit, score, band, case_id"
            " FROM assessment_metrics WHERE patient_id = ?",
            [patient_id],
        )
        # A patient sees only what the physician released (core.care.release).
        rows = filter_for_principal(
            cursor, principal, patient_id, rows, lambda r: (r.case_id, r.metric, r.region)
        )
        points = sorted(
            (
                MetricPoint(
                    r.measured_at,
                    r.metric,
                    r.region,
                    None,
                    float(r.value),
                    r.unit,
                    None if r.score is None else float(r.score),
                    r.band,
                    r.case_id,
                    None,
                )
                for r in rows
                if r.value is not None
                and (metric is None or r.metric == metric)
                and (region is None or r.region == region)
            ),
            key=lambda point: point.measured_at,
        )
        recorded = fetch_all_as(
            cursor,
            _TreatmentDay,
            "SELECT treated_on, treatment_type, area FROM care_treatments WHERE patient_id = ?"
            " ORDER BY treated_on",
            [patient_id],
        )
        treatments = [(t.treated_on, f"{t.treatment_type} ({t.area})") for t in recorded]
        concerns = [
            concern
            for (raw,) in self.db.fetchall(
                "SELECT concerns FROM cases WHERE patient_id = ? ORDER BY created_at DESC", [patient_id]
            )
            for concern in _json_list(raw)
        ]
        self._care.audit_read(principal, "care.metrics_read", "patient", patient_id)
        return ChartData(
            points,
            treatments,
            tuple(TreatedArea(t.treatment_type, t.area) for t in recorded),
            tuple(dict.fromkeys(concerns)),
        )

    def patient_photos(
        self, principal: Principal, patient_id: str, view: str | None = None
    ) -> list[PhotoRef]:
        """Photos of all the patient's cases (for before/after picking), oldest first."""
        require_patient_access(principal, patient_id)
        where, params = "patient_id = ?", [patient_id]
        if view:
            where += ' AND "view" = ?'
            params.append(view)
        photos = fetch_all_as(
            self.db.cursor(),
            PhotoRef,
            f'SELECT id AS photo_id, case_id, "view", source, created_at FROM photos WHERE {where}'
            " ORDER BY created_at, id",
            params,
        )
        self._care.audit_read(principal, "care.photos_read", "patient", patient_id, count=len(photos))
        return photos

    def list_patients(
        self, principal: Principal, text: str | None = None, limit: int = 200
    ) -> list[PatientRef]:
        """Patients by name or email, for the admin's erase page (names and emails only)."""
        require_role(principal, PHYSICIAN, ADMIN)
        limit = max(1, min(int(limit), 1000))
        matches, params = patient_text_filter(self.db, text, limit)
        found = fetch_all_as(
            self.db.cursor(),
            PatientRef,
            "SELECT p.id AS patient_id, p.name, u.email FROM patients p LEFT JOIN users u ON u.id = p.user_id"
            f" WHERE {matches} ORDER BY p.name LIMIT ?",
            [*params, limit],
        )
        if self.db.seals_columns:  # sealed names sort as ciphertext in SQL
            found.sort(key=lambda entry: entry.name)
        # The search text may be a name: only its length goes into the row.
        self._care.audit_read(
            principal,
            "care.patients_listed",
            "archive",
            "patients",
            count=len(found),
            query_chars=len(text or ""),
        )
        return found
