"""The one case-access gate: may this principal see this case, and whose is it?

Every area that reads a case or anything scoped to it (consultations, reports, hybrid care,
exports, the pre-assessment, live rooms) asks here, so one rule decides for all of them: the
case's own patient and the clinic's physicians (`CLINICAL_ROLES`); administrators are refused.
An unknown case is `NotFound` for a physician but `AccessDenied` for a patient, the same answer
as another patient's case, so ids reveal nothing about what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.access import (
    CLINICAL_ROLES,
    PATIENT,
    AccessDenied,
    NotFound,
    Principal,
    require_patient_access,
    require_role,
)
from core.rows import fetch_one_as

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.db import Cursor

_DENIED = "you may only see your own consultations"


@dataclass(frozen=True)
class CaseOwner:
    """Whose case it is: what the gate hands back once it let the principal through."""

    patient_id: str
    reference: str


def authorize_case(
    principal: Principal | None, case_id: str, owner: CaseOwner | None, audit: AuditLog | None = None
) -> CaseOwner:
    """The decision, for a caller that already loaded the case (`owner` None: no such case).

    A refusal is audited when `audit` is given: someone tried a case that is not theirs.
    """
    try:
        authorize_patient_object(
            principal, owner.patient_id if owner else None, _DENIED, f"case {case_id} does not exist"
        )
    except AccessDenied:
        if audit is not None:
            audit.record(principal, "access.denied", "case", case_id, {})
        raise
    assert owner is not None  # authorize_patient_object raised for a missing case
    return owner


def check_case_access(
    cursor: Cursor,
    principal: Principal | None,
    case_id: str,
    audit: AuditLog | None = None,
) -> CaseOwner:
    """Load the case's owner and decide; raises `AccessDenied` or `NotFound` (see the module)."""
    owner = fetch_one_as(cursor, CaseOwner, "SELECT patient_id, reference FROM cases WHERE id = ?", [case_id])
    return authorize_case(principal, case_id, owner, audit)


def authorize_patient_object(
    principal: Principal | None, patient_id: str | None, denied: str, missing: str
) -> Principal:
    """The same rule for an object owned by a patient (an appointment, a check-in), already
    loaded: `patient_id` None means it does not exist."""
    principal = require_role(principal, *CLINICAL_ROLES)
    if patient_id is None:
        raise AccessDenied(denied) if principal.role == PATIENT else NotFound(missing)
    return require_patient_access(principal, patient_id)
