"""Who is acting, and the checks every service method makes before touching patient data.

Every service method takes the acting `Principal` first; access is enforced here in core, never
only in the UI, so a page that forgets a check still cannot leak another patient's data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PATIENT = "patient"
PHYSICIAN = "physician"
ADMIN = "admin"
ROLES: tuple[str, ...] = (PATIENT, PHYSICIAN, ADMIN)
STAFF_ROLES: tuple[str, ...] = (PHYSICIAN, ADMIN)


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

    @property
    def is_patient(self) -> bool:
        return self.role == PATIENT

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


# The operator's CLI and the demo seeder act as this administrator; it never logs in.
SYSTEM_PRINCIPAL = Principal(user_id="system", role=ADMIN, email="system@localhost", display_name="system")


def require_role(principal: Principal | None, *roles: str) -> Principal:
    """Return the principal when its role is one of `roles`, else raise `AccessDenied`."""
    if principal is None:
        raise AccessDenied("please log in")
    if principal.role not in roles:
        raise AccessDenied(f"this needs a {' or '.join(roles)} account")
    return principal


def require_staff(principal: Principal | None) -> Principal:
    return require_role(principal, *STAFF_ROLES)


def require_patient_or_staff(principal: Principal | None, patient_id: str) -> Principal:
    """Patients only for their own patient record; physicians and admins for any."""
    principal = require_role(principal, *ROLES)
    if principal.role == PATIENT and principal.patient_id != patient_id:
        raise AccessDenied("you may only see your own consultations")
    return principal


def require_one_of(value: str, allowed: Iterable[str], field: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValidationError({field: f"must be one of {', '.join(allowed)}"})
    return value
