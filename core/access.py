"""Who is acting, and the checks every service method makes before touching patient data.

Every service method takes the acting `Principal` first; access is enforced here in core, never
only in the UI, so a page that forgets a check still cannot leak another patient's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PATIENT = "patient"
PHYSICIAN = "physician"
ADMIN = "admin"
ROLES: tuple[str, ...] = (PATIENT, PHYSICIAN, ADMIN)
STAFF_ROLES: tuple[str, ...] = (PHYSICIAN, ADMIN)
# Who reads clinical content (cases, photos, reports, treatments, measurements): the patient it
# belongs to and the clinic's physicians. Administrators run accounts, close cases, read the audit
# log and answer GDPR requests; they need no clinical content (least privilege).
CLINICAL_ROLES: tuple[str, ...] = (PATIENT, PHYSICIAN)


class AccessDenied(PermissionError):
    """The acting principal may not do this (wrong role, or another patient's data)."""


class NotFound(LookupError):
    """The object does not exist. Patients get `AccessDenied` instead for others' ids."""


class ValidationError(ValueError):
    """Input the user can correct; `errors` maps a field name to a message a person understands."""

    def __init__(self, errors: Mapping[str, str] | str) -> None:
        if isinstance(errors, str):
            errors = {"": errors}
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items()))


def text_problem(value: object, limit: int, *, multiline: bool = False) -> str | None:
    """Why `value` cannot be stored as a person's text (None when it can): not a string, longer
    than `limit`, not encodable as UTF-8 (a lone surrogate: the database refuses it), or holding
    control characters (line breaks and tabs only where `multiline`)."""
    if not isinstance(value, str):
        return "Please enter text."
    if len(value) > limit:
        return f"Please keep this under {limit} characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "This contains characters that cannot be stored; please type it again."
    allowed = "\n\r\t" if multiline else ""
    if any((ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0) and ch not in allowed for ch in value):
        return "This contains control characters; please type it again."
    return None


@dataclass(frozen=True)
class Principal:
    """The acting user. `patient_id` is set for patients only (their row in `patients`)."""

    user_id: str
    role: str
    email: str
    display_name: str
    patient_id: str | None = None
    timezone: str | None = None  # the patient's IANA zone (None for staff: use the clinic's)
    language: str | None = None


# The operator's CLI and the demo seeder act as this administrator; it never logs in.
SYSTEM_PRINCIPAL = Principal(user_id="system", role=ADMIN, email="system@localhost", display_name="system")


def require_role(principal: Principal | None, *roles: str) -> Principal:
    """Return the principal when its role is one of `roles`, else raise `AccessDenied`."""
    if principal is None:
        raise AccessDenied("please log in")
    if principal.role not in roles:
        raise AccessDenied(f"this needs a {' or '.join(roles)} account")
    return principal


def require_patient_access(principal: Principal | None, patient_id: str) -> Principal:
    """Clinical content of one patient: that patient, or a physician. The one ownership rule;
    `core.consult.case_access` applies it to cases and everything scoped to a case."""
    principal = require_role(principal, *CLINICAL_ROLES)
    if principal.role == PATIENT and principal.patient_id != patient_id:
        raise AccessDenied("you may only see your own consultations")
    return principal
