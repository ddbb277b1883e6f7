"""Finding patients and cases by what people see: a case's reference (`C-YYMMDD-XXXX`), a
patient's e-mail, or the internal id. For the operator's CLI (`list-patients`, `list-cases`) and
any command that takes a case or a patient. Lists name people and cases (no clinical content),
so administrators may read them; every listing is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.access import ADMIN, PHYSICIAN, NotFound, Principal, ValidationError, require_role
from core.rows import fetch_all_as

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.db import Database

REFERENCE = re.compile(r"^C-\d{6}-[0-9A-Z]{4}$")
_MAX_REF = 320


@dataclass(frozen=True)
class PatientEntry:
    patient_id: str
    name: str
    email: str | None
    cases: int


@dataclass(frozen=True)
class CaseEntry:
    case_id: str
    reference: str
    status: str
    created_at: datetime
    patient_id: str
    patient_email: str | None


def patient_text_filter(db: Database, text: str | None, limit: int) -> tuple[str, list[Any]]:
    """A condition over `patients p LEFT JOIN users u`: name or e-mail contains `text`.

    The embedded engine matches in SQL. With sealed columns (PostgreSQL, core.db_sealing) the
    service opens every patient's name and address and matches here, passing the first `limit`
    ids by name; callers then sort what they fetched by name (`sort_by_name`)."""
    needle = (text or "").strip().lower()
    if not db.seals_columns:
        like = f"%{needle}%"
        return "(lower(p.name) LIKE ? OR lower(coalesce(u.email, '')) LIKE ?)", [like, like]
    rows = db.fetchall("SELECT p.id, p.name, u.email FROM patients p LEFT JOIN users u ON u.id = p.user_id")
    found = sorted(
        (str(name), str(pid))
        for pid, name, email in rows
        if needle in f"{name}".lower() or needle in f"{email or ''}".lower()
    )
    return "p.id = ANY(?)", [[pid for _, pid in found[:limit]]]


def _clean(ref: str) -> str:
    ref = (ref or "").strip()
    if not ref or len(ref) > _MAX_REF or not ref.isprintable():
        raise ValidationError({"reference": "give a case reference (C-YYMMDD-XXXX), an e-mail or an id"})
    return ref


class Directory:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    def patients(self, principal: Principal, text: str | None = None, limit: int = 200) -> list[PatientEntry]:
        """Patients whose name or e-mail contains `text` (all when empty), by name."""
        require_role(principal, ADMIN, PHYSICIAN)
        limit = max(1, min(int(limit), 10_000))
        matches, params = patient_text_filter(self._db, text, limit)
        found = fetch_all_as(
            self._db.cursor(),
            PatientEntry,
            "SELECT p.id AS patient_id, p.name, u.email,"
            " (SELECT count(*) FROM cases c WHERE c.patient_id = p.id) AS cases"
            " FROM patients p LEFT JOIN users u ON u.id = p.user_id"
            f" WHERE {matches} ORDER BY p.name, p.id LIMIT ?",
            [*params, limit],
        )
        if self._db.seals_columns:  # sealed names sort as ciphertext in SQL
            found.sort(key=lambda entry: (entry.name, entry.patient_id))
        self._audit.record(principal, "directory.patients_listed", "patient", None, {"count": len(found)})
        return found

    def resolve_patient(self, principal: Principal, ref: str) -> str:
        """A patient's id from their e-mail or id."""
        require_role(principal, ADMIN, PHYSICIAN)
        ref = _clean(ref)
        row = self._db.fetchone(
            "SELECT p.id FROM patients p LEFT JOIN users u ON u.id = p.user_id"
            " WHERE p.id = ? OR u.email = ? LIMIT 1",  # addresses are stored normalised (core.auth)
            [ref, ref.strip().lower()],
        )
        if row is None:
            raise NotFound(f"no patient {ref!r} (give their e-mail or id)")
        return str(row[0])

    def resolve_case(self, principal: Principal, ref: str) -> str:
        """A case's id from its reference (`C-YYMMDD-XXXX`, any case) or id."""
        require_role(principal, ADMIN, PHYSICIAN)
        ref = _clean(ref)
        reference = ref.upper()
        rows = self._db.fetchall(
            "SELECT id FROM cases WHERE id = ? OR reference = ? ORDER BY created_at LIMIT 2", [ref, reference]
        )
        if not rows:
            raise NotFound(f"no case {ref!r} (give its reference, e.g. C-260301-7QX4, or its id)")
        if len(rows) > 1:
            raise ValidationError({"reference": f"{ref} names more than one case; give the case id"})
        return str(rows[0][0])

    def cases(
        self,
        principal: Principal,
        patient_ref: str | None = None,
        case_ref: str | None = None,
        limit: int = 500,
    ) -> list[CaseEntry]:
        """Cases, newest first; one patient's (`patient_ref`: e-mail or id) and/or one case
        (`case_ref`: reference or id) when given."""
        require_role(principal, ADMIN, PHYSICIAN)
        conditions: list[str] = []
        params: list[str] = []
        if patient_ref:
            conditions.append("c.patient_id = ?")
            params.append(self.resolve_patient(principal, patient_ref))
        if case_ref:
            conditions.append("c.id = ?")
            params.append(self.resolve_case(principal, case_ref))
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        found = fetch_all_as(
            self._db.cursor(),
            CaseEntry,
            "SELECT c.id AS case_id, c.reference, c.status, c.created_at, c.patient_id, u.email AS patient_email"
            " FROM cases c JOIN patients p ON p.id = c.patient_id LEFT JOIN users u ON u.id = p.user_id"
            f"{where} ORDER BY c.created_at DESC, c.id LIMIT ?",
            [*params, max(1, min(int(limit), 10_000))],
        )
        self._audit.record(
            principal,
            "directory.cases_listed",
            "patient",
            params[0] if patient_ref else None,
            {"count": len(found)},
        )
        return found
