"""Archive queries (storage layer): case search, a patient's timeline, metric series for charts.

Pages call these through `clinic.care.archive`; no SQL elsewhere. Tables of other areas that may
not exist yet (assessments, assessment_metrics) are looked up once in the catalog and left out
of a query when absent, so the archive works at every stage of the rollout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from core.access import ADMIN, PHYSICIAN, Principal, require_patient_or_staff, require_role
from core.db import from_db_time, to_db_time

if TYPE_CHECKING:
    from core.care.service import CareService


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


@dataclass(frozen=True)
class PhotoRef:
    photo_id: str
    case_id: str
    view: str
    source: str
    created_at: datetime


def _json_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class ArchiveQueries:
    def __init__(self, service: CareService) -> None:
        self._service = service
        self.db = service.db
        self._columns: dict[str, frozenset[str]] = {}

    # -- catalog -----------------------------------------------------------------------------
    def table_columns(self, table: str) -> set[str]:
        """Columns of a table ('' set when absent); cached, since the schema only changes at open."""
        cached = self._columns.get(table)
        if cached is None:
            rows = self.db.fetchall(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'clinic' AND table_name = ?",
                [table],
            )
            cached = self._columns[table] = frozenset(row[0] for row in rows)
        return set(cached)

    # -- search ------------------------------------------------------------------------------
    def search_cases(self, principal: Principal, archive_filter: ArchiveFilter) -> list[ArchiveCase]:
        require_role(principal, PHYSICIAN, ADMIN)
        where: list[str] = []
        params: list[Any] = []
        f = archive_filter
        if f.patient_text and f.patient_text.strip():
            like = f"%{f.patient_text.strip().lower()}%"
            where.append("(lower(p.name) LIKE ? OR lower(u.email) LIKE ?)")
            params += [like, like]
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
            flag_sql = self._flag_condition()
            if flag_sql is None:
                return []  # no assessments in this installation: nothing can carry the flag
            where.append(flag_sql)
            params.append(f"%{f.flag}%")
        sql = (
            "SELECT c.id, c.reference, c.patient_id, p.name, u.email, c.status, c.concerns, c.created_at,"
            " (SELECT string_agg(DISTINCT t.treatment_type, ',') FROM care_treatments t WHERE t.case_id = c.id),"
            " (SELECT count(*) FROM photos ph WHERE ph.case_id = c.id)"
            " FROM cases c JOIN patients p ON p.id = c.patient_id LEFT JOIN users u ON u.id = p.user_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY c.created_at DESC LIMIT ?"
        )
        params.append(max(1, min(int(f.limit), 1000)))
        rows = self.db.fetchall(sql, params)
        self._service._audit(principal, "care.archive_search", "archive", "cases", count=len(rows))
        return [
            ArchiveCase(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                _json_list(r[6]),
                from_db_time(r[7]),
                [t for t in (r[8] or "").split(",") if t],
                int(r[9]),
            )
            for r in rows
        ]

    def _flag_condition(self) -> str | None:
        """SQL matching a flag code in the pre-assessment's stored flags, wherever that area keeps them."""
        assessments = self.table_columns("assessments")
        if "case_id" in assessments:
            for column in ("flags_json", "flags", "report_json"):
                if column in assessments:
                    return (
                        f"EXISTS (SELECT 1 FROM assessments a WHERE a.case_id = c.id AND a.{column} LIKE ?)"
                    )
        flags = self.table_columns("assessment_flags")
        if "case_id" in flags:
            column = next((c for c in ("flag", "code", "kind", "name") if c in flags), None)
            if column:
                return (
                    f"EXISTS (SELECT 1 FROM assessment_flags a WHERE a.case_id = c.id AND a.{column} LIKE ?)"
                )
        if "band" in self.table_columns("assessment_metrics"):
            return "EXISTS (SELECT 1 FROM assessment_metrics m WHERE m.case_id = c.id AND m.band LIKE ?)"
        return None

    # -- timeline ------------------------------------------------------------------------------
    def patient_timeline(
        self, principal: Principal, patient_id: str, audit: bool = True
    ) -> list[TimelineEvent]:
        """Everything that happened to one patient, oldest first, in one UNION ALL query."""
        require_patient_or_staff(principal, patient_id)
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
        ]
        assessment_columns = self.table_columns("assessments")
        time_column = next(
            (c for c in ("created_at", "finished_at", "assessed_at") if c in assessment_columns), None
        )
        if time_column and {"case_id", "id"} <= assessment_columns:
            detail = "a.status" if "status" in assessment_columns else "NULL"
            # Straight from the indexed patient_id when the table has it (no join over all runs).
            owner = (
                "FROM assessments a WHERE a.patient_id = ?"
                if "patient_id" in assessment_columns
                else "FROM assessments a WHERE a.case_id IN (SELECT id FROM cases WHERE patient_id = ?)"
            )
            parts.append(
                f"SELECT a.{time_column}, 'assessment', a.case_id, a.id, 'AI pre-assessment', {detail} {owner}"
            )
        sql = " UNION ALL ".join(parts) + " ORDER BY 1, 2"
        rows = self.db.fetchall(sql, [patient_id] * len(parts))
        if audit:
            self._service._audit(principal, "care.timeline_read", "patient", patient_id)
        return [
            TimelineEvent(
                from_db_time(r[0]) if isinstance(r[0], datetime) else r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                None if r[5] is None else str(r[5]),
            )
            for r in rows
        ]

    # -- progress chart data -------------------------------------------------------------------
    def available_metrics(self, principal: Principal, patient_id: str) -> list[tuple[str, str]]:
        require_patient_or_staff(principal, patient_id)
        if not self.table_columns("assessment_metrics"):
            return []
        rows = self.db.fetchall(
            "SELECT metric, region FROM assessment_metrics WHERE patient_id = ?", [patient_id]
        )
        return sorted({(r[0], r[1]) for r in rows})

    def metric_series(
        self,
        principal: Principal,
        patient_id: str,
        metric: str | None = None,
        region: str | None = None,
        audit: bool = True,
    ) -> ChartData:
        """Metric values over time (+ treatment days) for the progress chart."""
        require_patient_or_staff(principal, patient_id)
        points: list[MetricPoint] = []
        if self.table_columns("assessment_metrics"):
            # Only `patient_id = ?` in SQL: DuckDB answers that from the single-column index, while
            # extra predicates turn the plan into a full scan; metric/region are filtered here.
            rows = self.db.fetchall(
                # Narrow projection: each fetched column costs a per-row lookup in compressed storage.
                "SELECT measured_at, metric, region, value, unit, score, case_id"
                " FROM assessment_metrics WHERE patient_id = ?",
                [patient_id],
            )
            points = sorted(
                (
                    MetricPoint(
                        from_db_time(r[0]),
                        r[1],
                        r[2],
                        None,
                        float(r[3]),
                        r[4],
                        None if r[5] is None else float(r[5]),
                        None,
                        r[6],
                        None,
                    )
                    for r in rows
                    if r[3] is not None
                    and (metric is None or r[1] == metric)
                    and (region is None or r[2] == region)
                ),
                key=lambda point: point.measured_at,
            )
        treatments = [
            (r[0], f"{r[1]} ({r[2]})")
            for r in self.db.fetchall(
                "SELECT treated_on, treatment_type, area FROM care_treatments WHERE patient_id = ? ORDER BY treated_on",
                [patient_id],
            )
        ]
        if audit:
            self._service._audit(principal, "care.metrics_read", "patient", patient_id)
        return ChartData(points, treatments)

    def patient_photos(
        self, principal: Principal, patient_id: str, view: str | None = None
    ) -> list[PhotoRef]:
        """Photos of all the patient's cases (for before/after picking), oldest first."""
        require_patient_or_staff(principal, patient_id)
        where, params = "patient_id = ?", [patient_id]
        if view:
            where += ' AND "view" = ?'
            params.append(view)
        rows = self.db.fetchall(
            f'SELECT id, case_id, "view", source, created_at FROM photos WHERE {where} ORDER BY created_at, id',
            params,
        )
        return [PhotoRef(r[0], r[1], r[2], r[3], from_db_time(r[4])) for r in rows]

    def list_patients(
        self, principal: Principal, text: str | None = None, limit: int = 200
    ) -> list[tuple[str, str, str | None]]:
        """(patient id, name, email) for the admin's erase page and archive pickers."""
        require_role(principal, PHYSICIAN, ADMIN)
        like = f"%{(text or '').strip().lower()}%"
        rows = self.db.fetchall(
            "SELECT p.id, p.name, u.email FROM patients p LEFT JOIN users u ON u.id = p.user_id"
            " WHERE lower(p.name) LIKE ? OR lower(u.email) LIKE ? ORDER BY p.name LIMIT ?",
            [like, like, max(1, min(int(limit), 1000))],
        )
        return [(r[0], r[1], r[2]) for r in rows]
