"""The physician's report: drafts, sending (which moves the case on), and the patient's view.

A report is a draft until sent; the patient sees it only after sending, and a sent report is
never edited. Sending moves the case to `report_sent`, or to `in_person_requested` when the
physician asks for an in-person visit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.access import PATIENT, PHYSICIAN, AccessDenied, NotFound, Principal, ValidationError, require_role
from core.audit import AuditLog
from core.consult.cases import IN_PERSON_REQUESTED, IN_REVIEW, REPORT_SENT, SUBMITTED, CaseService
from core.consult.report_record import Report, load_report
from core.db import Database, to_db_time, utcnow

_TEXT_LIMIT = 10_000


@dataclass(frozen=True)
class PhysicianReport:
    """What the physician writes; `save_draft` takes this."""

    findings: str = ""
    assessment: str = ""
    recommended_treatments: str = ""
    home_care: str = ""
    in_person_needed: bool = False
    in_person_reason: str | None = None
    follow_up_suggestion: str | None = None

    def validate(self, for_sending: bool) -> None:
        errors: dict[str, str] = {}
        for name in (
            "findings",
            "assessment",
            "recommended_treatments",
            "home_care",
            "in_person_reason",
            "follow_up_suggestion",
        ):
            if len(getattr(self, name) or "") > _TEXT_LIMIT:
                errors[name] = f"Please keep this under {_TEXT_LIMIT} characters."
        if for_sending:
            if not (self.findings or "").strip():
                errors["findings"] = "Please describe your findings before sending."
            if not (self.assessment or "").strip():
                errors["assessment"] = "Please write an assessment before sending."
        if self.in_person_needed and not (self.in_person_reason or "").strip():
            errors["in_person_reason"] = "Please give the reason for the in-person visit."
        if errors:
            raise ValidationError(errors)


ReportDraft = PhysicianReport  # alias used by the UI


class ReportService:
    def __init__(
        self, db: Database, cases: CaseService, audit: AuditLog, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._cases = cases
        self._audit = audit
        self._clock = clock

    def save_draft(self, principal: Principal, case_id: str, report: PhysicianReport) -> Report:
        """Create or update the case's draft. A submitted case moves to in_review on the first draft."""
        require_role(principal, PHYSICIAN)
        self._cases.check_case_access(principal, case_id)
        report.validate(for_sending=False)
        now = to_db_time(self._clock())
        with self._db.transaction() as tx:
            existing = tx.execute("SELECT id, sent_at FROM reports WHERE case_id = ?", [case_id]).fetchone()
            if existing is not None and existing[1] is not None:
                raise ValidationError({"": "This report has been sent and can no longer be edited."})
            case_row = tx.execute("SELECT status FROM cases WHERE id = ?", [case_id]).fetchone()
            if case_row is None:
                raise NotFound(f"case {case_id} does not exist")
            status = case_row[0]
            if status == SUBMITTED:
                self._cases._transition(tx, principal, case_id, IN_REVIEW, "report draft started")
            elif status != IN_REVIEW:
                raise ValidationError(
                    {"": f"A report can only be written while the case is in review (now {status})."}
                )
            values = [
                report.findings or "",
                report.assessment or "",
                report.recommended_treatments or "",
                report.home_care or "",
                bool(report.in_person_needed),
                report.in_person_reason,
                report.follow_up_suggestion,
            ]
            if existing is None:
                report_id = str(uuid.uuid4())
                tx.execute(
                    "INSERT INTO reports (id, case_id, physician_id, findings, assessment, recommended_treatments, home_care,"
                    " in_person_needed, in_person_reason, follow_up_suggestion, created_at, updated_at, sent_at) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    [report_id, case_id, principal.user_id, *values, now, now],
                )
            else:
                report_id = existing[0]
                tx.execute(
                    "UPDATE reports SET findings = ?, assessment = ?, recommended_treatments = ?, home_care = ?,"
                    " in_person_needed = ?, in_person_reason = ?, follow_up_suggestion = ?, physician_id = ?,"
                    " updated_at = ? WHERE id = ?",
                    [*values, principal.user_id, now, report_id],
                )
            self._audit.record(
                principal, "report.save_draft", "case", case_id, {"report_id": report_id}, tx=tx
            )
        return self._saved_report(case_id)

    def send(self, principal: Principal, case_id: str) -> Report:
        """Send the draft to the patient; the case moves to report_sent or in_person_requested."""
        require_role(principal, PHYSICIAN)
        self._cases.check_case_access(principal, case_id)
        now = to_db_time(self._clock())
        with self._db.transaction() as tx:
            draft = load_report(tx, case_id)
            if draft is None:
                raise ValidationError({"": "Please write and save the report first."})
            if draft.sent_at is not None:
                raise ValidationError({"": "This report has already been sent."})
            PhysicianReport(
                draft.findings,
                draft.assessment,
                draft.recommended_treatments,
                draft.home_care,
                draft.in_person_needed,
                draft.in_person_reason,
                draft.follow_up_suggestion,
            ).validate(for_sending=True)
            target = IN_PERSON_REQUESTED if draft.in_person_needed else REPORT_SENT
            self._cases._transition(tx, principal, case_id, target, "report sent")
            tx.execute(
                "UPDATE reports SET sent_at = ?, updated_at = ? WHERE id = ?", [now, now, draft.report_id]
            )
            self._audit.record(principal, "report.send", "case", case_id, {"status": target}, tx=tx)
        return self._saved_report(case_id)

    def _saved_report(self, case_id: str) -> Report:
        """The report this thread has just written."""
        report = load_report(self._db.cursor(), case_id)
        if report is None:
            raise NotFound(f"the report of case {case_id} does not exist")
        return report

    def get_report(self, principal: Principal, case_id: str) -> Report | None:
        """The case's report: physicians see drafts; the patient only a sent report (else None)."""
        require_role(principal, PATIENT, PHYSICIAN)
        self._cases.check_case_access(principal, case_id)
        report = load_report(self._db.cursor(), case_id)
        if report is not None and principal.role == PATIENT and report.sent_at is None:
            report = None
        if report is not None:
            self._audit.record(principal, "report.read", "case", case_id, {"report_id": report.report_id})
        return report


__all__ = ["AccessDenied", "PhysicianReport", "Report", "ReportDraft", "ReportService", "load_report"]
