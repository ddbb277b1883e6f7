"""Registration rules, argon2id hashes, lockout, idle sessions and log-out (clock moved, no sleeping)."""

from __future__ import annotations

from datetime import date

import pytest

from core.access import SYSTEM_PRINCIPAL, AccessDenied, Principal, ValidationError
from core.auth import AccountLocked, LoginFailed, SessionExpired
from core.clinic import Clinic

from .conftest import PASSWORD, FakeClock, register


def _register(clinic: Clinic, **overrides: object) -> Principal:
    values: dict[str, object] = {
        "email": "new@example.test",
        "password": PASSWORD,
        "name": "New Patient",
        "date_of_birth": date(1990, 1, 1),
        "language": "en",
        "timezone": "Europe/Berlin",
        "accepted_telemedicine_consent": True,
    }
    values.update(overrides)
    return clinic.auth.register_patient(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"accepted_telemedicine_consent": False}, "telemedicine_consent"),
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"date_of_birth": date(2030, 1, 1)}, "date_of_birth"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "  "}, "name"),
    ],
)
def test_registration_is_refused_with_a_field_message(clinic: Clinic, overrides: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _register(clinic, **overrides)
    assert field in caught.value.errors
    assert clinic.db.fetchone("SELECT count(*) FROM users")[0] == 0


def test_registration_stores_profile_consent_and_an_argon2id_hash(clinic: Clinic) -> None:
    principal = _register(clinic, email="New@Example.TEST")
    assert principal.role == "patient" and principal.patient_id and principal.email == "new@example.test"
    password_hash = clinic.db.fetchone("SELECT password_hash FROM users")[0]
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash
    profile = clinic.db.fetchone("SELECT name, date_of_birth, preferred_language, time_zone FROM patients")
    assert profile == ("New Patient", date(1990, 1, 1), "en", "Europe/Berlin")
    assert clinic.db.fetchone("SELECT kind, granted FROM consents") == ("telemedicine", True)
    with pytest.raises(ValidationError, match="could not create an account"):
        _register(clinic)


def test_login_resume_and_logout(clinic: Clinic) -> None:
    register(clinic, "pat@example.test", "Pat")
    principal, token = clinic.auth.login("PAT@example.test ", PASSWORD)
    assert clinic.auth.resume(token) == principal
    assert clinic.db.fetchone("SELECT count(*) FROM sessions WHERE token_hash = ?", [token])[0] == 0  # hashed
    clinic.auth.logout(token)
    with pytest.raises(SessionExpired):
        clinic.auth.resume(token)


def test_wrong_password_and_unknown_email_fail_alike(clinic: Clinic) -> None:
    register(clinic, "pat@example.test", "Pat")
    with pytest.raises(LoginFailed) as wrong:
        clinic.auth.login("pat@example.test", "wrong-password!")
    with pytest.raises(LoginFailed) as unknown:
        clinic.auth.login("nobody@example.test", PASSWORD)
    assert str(wrong.value) == str(unknown.value)
    assert type(wrong.value) is type(unknown.value) is LoginFailed


def test_five_failures_lock_for_fifteen_minutes(clinic: Clinic, clock: FakeClock) -> None:
    register(clinic, "pat@example.test", "Pat")
    for _ in range(4):
        with pytest.raises(LoginFailed) as caught:
            clinic.auth.login("pat@example.test", "wrong-password!")
        assert not isinstance(caught.value, AccountLocked)
    with pytest.raises(AccountLocked) as locked:
        clinic.auth.login("pat@example.test", "wrong-password!")
    assert (locked.value.until - clock.now).total_seconds() == 15 * 60
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(AccountLocked):
        clinic.auth.login("pat@example.test", PASSWORD)  # even the right password
    clock.advance(seconds=2)
    principal, _ = clinic.auth.login("pat@example.test", PASSWORD)
    assert principal.email == "pat@example.test"
    assert "auth.account_locked" in clinic.audit.actions()


def test_success_resets_the_failure_count(clinic: Clinic) -> None:
    register(clinic, "pat@example.test", "Pat")
    for _ in range(4):
        with pytest.raises(LoginFailed):
            clinic.auth.login("pat@example.test", "wrong-password!")
    clinic.auth.login("pat@example.test", PASSWORD)
    for _ in range(4):
        with pytest.raises(LoginFailed) as caught:
            clinic.auth.login("pat@example.test", "wrong-password!")
        assert not isinstance(caught.value, AccountLocked)


def test_idle_session_expires_but_activity_keeps_it_alive(clinic: Clinic, clock: FakeClock) -> None:
    register(clinic, "pat@example.test", "Pat")
    _, token = clinic.auth.login("pat@example.test", PASSWORD)
    for _ in range(3):
        clock.advance(minutes=29)
        clinic.auth.resume(token)  # activity refreshes last_seen
    clock.advance(minutes=30, seconds=1)
    with pytest.raises(SessionExpired):
        clinic.auth.resume(token)
    with pytest.raises(SessionExpired):
        clinic.auth.resume(token)  # and it stays gone


def test_staff_accounts_only_by_admins(clinic: Clinic) -> None:
    patient = register(clinic, "pat@example.test", "Pat")
    with pytest.raises(AccessDenied):
        clinic.auth.create_staff(patient, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
    with pytest.raises(ValidationError) as caught:
        clinic.auth.create_staff(SYSTEM_PRINCIPAL, "patient", "doc@clinic.test", "Dr Doc", PASSWORD)
    assert "role" in caught.value.errors
    admin = clinic.auth.create_staff(SYSTEM_PRINCIPAL, "admin", "admin@clinic.test", "Ada", PASSWORD)
    doc = clinic.auth.create_staff(admin, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
    assert doc.role == "physician" and doc.patient_id is None
    users = clinic.auth.list_users(admin)
    assert {u.email for u in users} == {"pat@example.test", "admin@clinic.test", "doc@clinic.test"}
    with pytest.raises(AccessDenied):
        clinic.auth.list_users(doc)
