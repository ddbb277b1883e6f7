"""What every hybrid-care service shares: the database, the audit log, the settings, and the
case-access gate every other area uses too (so care never has a role set of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.access import Principal
from core.consult.case_access import CaseOwner, check_case_access

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.config import Settings
    from core.db import Database


@dataclass(frozen=True)
class CareContext:
    db: Database
    audit_log: AuditLog
    settings: Settings

    @property
    def clinic_timezone(self) -> str:
        return self.settings.clinic_timezone

    def audit(
        self, principal: Principal | None, action: str, object_type: str, object_id: str, **details: Any
    ) -> None:
        self.audit_log.record(principal, action, object_type, object_id, details or None)

    def audit_read(
        self, principal: Principal | None, action: str, object_type: str, object_id: str, **details: Any
    ) -> None:
        """One row for a read of patient data. Every public read method calls it; none takes a
        flag to skip it (issue 12: no caller can turn read auditing off for a page)."""
        self.audit_log.record(principal, action, object_type, object_id, details or None)

    def case_owner(self, principal: Principal, case_id: str) -> CaseOwner:
        """Whose case it is, after the one gate let the principal through."""
        return check_case_access(self.db.cursor(), principal, case_id, self.audit_log)

    def patient_timezone(self, patient_id: str) -> str:
        row = self.db.fetchone("SELECT time_zone FROM patients WHERE id = ?", [patient_id])
        return row[0] if row and row[0] else self.clinic_timezone

    def physician_name(self, physician_id: str) -> str:
        row = self.db.fetchone("SELECT display_name FROM users WHERE id = ?", [physician_id])
        return row[0] if row else physician_id
