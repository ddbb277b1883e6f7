"""The physician's report as stored: the typed row and its loader.

Apart from `core.consult.reports` (the workflow) so the case service can show a case's report
without importing the workflow that itself moves cases on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.db import Cursor
from core.rows import fetch_one_as


@dataclass(frozen=True)
class Report:
    report_id: str
    case_id: str
    physician_id: str
    findings: str
    assessment: str
    recommended_treatments: str
    home_care: str
    in_person_needed: bool
    in_person_reason: str | None
    follow_up_suggestion: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None

    @property
    def follow_up(self) -> str | None:
        return self.follow_up_suggestion


_REPORT_COLUMNS = (
    "id AS report_id, case_id, physician_id, findings, assessment, recommended_treatments, home_care, in_person_needed,"
    " in_person_reason, follow_up_suggestion, created_at, updated_at, sent_at"
)


def load_report(cursor: Cursor, case_id: str) -> Report | None:
    """Raw read without access checks (callers check first)."""
    return fetch_one_as(cursor, Report, f"SELECT {_REPORT_COLUMNS} FROM reports WHERE case_id = ?", [case_id])
