"""Accounts, log-in, lockout and server-side sessions.

Passwords are hashed with argon2id (argon2-cffi defaults) and must pass zxcvbn's strength
estimate (common, repeated and keyboard-pattern passwords are refused). Five failed log-ins lock
an account for `settings.lockout_minutes`; each attempt is counted before its password is checked,
under one lock, so parallel guesses get no more checks than the limit. Sessions live in the
database (only a SHA-256 of the token is stored) and end after `settings.session_idle_minutes`
without activity or `settings.session_max_hours` after log-in. Messages and work are the same
whether or not an account exists. All times come from an injectable clock so tests need no
sleeping.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from core.access import (
    ADMIN,
    PATIENT,
    PHYSICIAN,
    STAFF_ROLES,
    AccessDenied,
    Principal,
    ValidationError,
    require_role,
    text_problem,
)
from core.audit import AuditLog
from core.config import Settings
from core.consent import ConsentAnswer, consent_text, record_consent
from core.db import CONFLICT_ERRORS, Cursor, Database, from_db_time, scalar, to_db_time, utcnow
from core.vocabulary import CONSENT_TELEMEDICINE

MIN_PASSWORD_LENGTH = 10
# zxcvbn score 0-4; 3 = "safely unguessable": no common password, name, date or simple pattern.
MIN_PASSWORD_SCORE = 3
_PASSWORD_ESTIMATE_CHARS = 128  # zxcvbn's cost grows with length; the start of a long one decides
WEAK_PASSWORD_MESSAGE = (
    "This password is too easy to guess. Please choose a longer one made of three or four unrelated"
    " words (for example a short sentence only you would think of), without your name, your email,"
    " dates or common passwords."
)
LOGIN_FAILED_MESSAGE = (
    "Email or password is not correct. After several failed attempts log-in is locked for a while:"
    " please check both, or wait 15 minutes before trying again."
)
REGISTRATION_REFUSED_MESSAGE = (
    "We could not create an account with these details. If you have registered before, please log in instead."
)
_PURGE_EVERY = timedelta(minutes=10)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class LoginFailed(Exception):
    """Wrong email or password, or a locked account; the message never says which."""

    def __init__(self, message: str = LOGIN_FAILED_MESSAGE) -> None:
        super().__init__(message)


InvalidCredentials = LoginFailed  # alias used by the UI


class AccountLocked(LoginFailed):
    """Too many failed log-ins; `until` is when the lock ends (UTC). Its message is the same as
    a wrong password's, so a lock does not tell that the account exists."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__()


class SessionExpired(Exception):
    """The session token is unknown, logged out, idle for too long or past its lifetime."""


class LoginSession(NamedTuple):
    """Result of a log-in: unpacks as `(principal, token)`."""

    principal: Principal
    token: str


@dataclass(frozen=True)
class UserSummary:
    user_id: str
    email: str
    name: str
    role: str
    created_at: datetime
    last_login_at: datetime | None
    locked: bool


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def password_problem(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why `password` is refused (a message for the person choosing it), or None when it is fine."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        return f"The password needs at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > 1024:
        return "The password is too long."
    words = [w for text in user_inputs for w in re.split(r"[\s@._-]+", text or "") if len(w) > 2]
    estimate = zxcvbn(password[:_PASSWORD_ESTIMATE_CHARS], user_inputs=[*user_inputs, *words])
    if estimate["score"] < MIN_PASSWORD_SCORE:
        return WEAK_PASSWORD_MESSAGE
    return None


class AuthService:
    def __init__(
        self, db: Database, audit: AuditLog, settings: Settings, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._audit = audit
        self._settings = settings
        self._clock = clock
        self._hasher = PasswordHasher()  # argon2id with the library's current recommended costs
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        # Serialises the failure counter (and every write to a user's log-in columns): the slow
        # password check runs outside it, but each check is counted before it starts.
        self._login_lock = threading.Lock()
        self._last_purge: datetime | None = None

    # -- accounts ------------------------------------------------------------------------------
    def register_patient(
        self,
        email: str,
        password: str,
        name: str,
        date_of_birth: date,
        language: str,
        timezone: str,
        accepted_telemedicine_consent: bool = False,
        consent_version: str | None = None,
        *,
        telemedicine_consent: bool | None = None,
    ) -> Principal:
        """Create a patient account and profile; refused without the telemedicine consent.

        `telemedicine_consent` is accepted as another spelling of `accepted_telemedicine_consent`.
        The consent recorded is the telemedicine text in the patient's language (`core.consent`):
        its version, language and words' sha256; `consent_version` (the version the page showed)
        must still be that text's version, else the patient is asked to read it again.
        """
        if telemedicine_consent is not None:
            accepted_telemedicine_consent = accepted_telemedicine_consent or telemedicine_consent
        errors = self._check_account_fields(email, password, name)
        today = self._clock().date()
        if not isinstance(date_of_birth, date) or isinstance(date_of_birth, datetime):
            errors["date_of_birth"] = "Please enter a valid date of birth."
        elif date_of_birth >= today:
            errors["date_of_birth"] = "The date of birth must be in the past."
        elif date_of_birth.year < today.year - 130:
            errors["date_of_birth"] = "Please check the year of birth."
        if not language or not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", language):
            errors["language"] = "Please choose a language."
        if not _valid_timezone(timezone):
            errors["timezone"] = "Please choose a time zone from the list."
        if not accepted_telemedicine_consent:
            errors["telemedicine_consent"] = "You need to accept the telemedicine consent to register."
        consent = consent_text(CONSENT_TELEMEDICINE, language if isinstance(language, str) else None)
        if consent_version is not None and consent_version != consent.version:
            errors["telemedicine_consent"] = (
                "The consent text has changed. Please read it again and accept it."
            )
        if errors:
            raise ValidationError(errors)
        user_id, patient_id = str(uuid.uuid4()), str(uuid.uuid4())
        now = to_db_time(self._clock())
        email_norm = normalise_email(email)
        # Hashed before the look-up: an existing address costs the same work as a new one.
        password_hash = self._hasher.hash(password)
        with self._db.transaction() as tx:
            if tx.execute("SELECT 1 FROM users WHERE email = ?", [email_norm]).fetchone():
                self._audit.record(None, "patient.register_refused", "user", None, {"reason": "email_in_use"})
                raise ValidationError({"": REGISTRATION_REFUSED_MESSAGE})
            tx.execute(
                "INSERT INTO users (id, email, password_hash, role, display_name, patient_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [user_id, email_norm, password_hash, PATIENT, name.strip(), patient_id, now],
            )
            tx.execute(
                "INSERT INTO patients (id, user_id, name, date_of_birth, preferred_language, time_zone, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [patient_id, user_id, name.strip(), date_of_birth, language, timezone, now],
            )
            record_consent(tx, patient_id, None, ConsentAnswer.to(consent, True), now)
            principal = Principal(user_id, PATIENT, email_norm, name.strip(), patient_id, timezone, language)
            self._audit.record(
                principal,
                "patient.register",
                "patient",
                patient_id,
                {"consent_version": consent.version, "consent_language": consent.language},
                tx=tx,
            )
        return principal

    def create_staff(
        self, admin_principal: Principal, role: str, email: str, name: str, password: str
    ) -> Principal:
        """Create a physician or admin account (administrators only; the CLI uses SYSTEM_PRINCIPAL)."""
        require_role(admin_principal, ADMIN)
        errors = self._check_account_fields(email, password, name)
        if role not in STAFF_ROLES:
            errors["role"] = f"Staff accounts are {' or '.join(STAFF_ROLES)}."
        if errors:
            raise ValidationError(errors)
        user_id = str(uuid.uuid4())
        email_norm = normalise_email(email)
        with self._db.transaction() as tx:
            # Staff accounts are made by administrators, who may know which addresses exist.
            if tx.execute("SELECT 1 FROM users WHERE email = ?", [email_norm]).fetchone():
                raise ValidationError({"email": "An account with this email address already exists."})
            tx.execute(
                "INSERT INTO users (id, email, password_hash, role, display_name, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    user_id,
                    email_norm,
                    self._hasher.hash(password),
                    role,
                    name.strip(),
                    to_db_time(self._clock()),
                ],
            )
            self._audit.record(admin_principal, "user.create", "user", user_id, {"role": role}, tx=tx)
        return Principal(user_id, role, email_norm, name.strip())

    def list_users(self, principal: Principal) -> list[UserSummary]:
        require_role(principal, ADMIN)
        now = to_db_time(self._clock())
        rows = self._db.fetchall(
            "SELECT id, email, display_name, role, created_at, last_login_at, locked_until FROM users ORDER BY created_at"
        )
        self._audit.record(principal, "user.list", "user", None, {"count": len(rows)})
        return [
            UserSummary(
                r[0], r[1], r[2], r[3], from_db_time(r[4]), from_db_time(r[5]), bool(r[6] and r[6] > now)
            )
            for r in rows
        ]

    # -- log-in and sessions -------------------------------------------------------------------
    def login(self, email: str, password: str) -> LoginSession:
        """Check the password; returns `(principal, token)` or raises LoginFailed / AccountLocked.

        Every outcome costs one argon2 check and gives the same message, so neither the time
        nor the words tell whether the account exists or is locked.
        """
        email_norm = normalise_email(email)
        now = self._clock()
        lockout = timedelta(minutes=self._settings.lockout_minutes)
        with self._login_lock:
            self._purge_stale_sessions(now)
            row = self._db.fetchone(
                "SELECT id, password_hash, failed_logins, locked_until, disabled FROM users WHERE email = ?",
                [email_norm],
            )
            locked_until = None
            attempt, last_try = 0, False  # set below when this attempt counts
            if row is not None:
                user_id, _, failed, stored_locked_until, _ = row
                locked_until = from_db_time(stored_locked_until)
                if locked_until is None or locked_until <= now:
                    # Count this attempt before checking it. The last allowed attempt locks the
                    # account at once (a success lifts it), so no parallel guess slips past.
                    attempt = (failed or 0) + 1
                    last_try = attempt >= self._settings.max_failed_logins
                    locked_until = None
                    self._db.execute(
                        "UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                        [
                            0 if last_try else attempt,
                            to_db_time(now + lockout) if last_try else None,
                            user_id,
                        ],
                    )
        if row is None:
            self._verify_quietly(self._dummy_hash, password)  # same cost as a real check
            self._audit.record(None, "auth.login_failed", "user", None, {"reason": "unknown_email"})
            raise LoginFailed()
        user_id, password_hash, _, _, disabled = row
        if locked_until is not None:
            self._verify_quietly(self._dummy_hash, password)
            self._audit.record(None, "auth.login_refused_locked", "user", user_id, {})
            raise AccountLocked(locked_until)
        if disabled or not self._verify_quietly(password_hash, password):
            if last_try:
                self._audit.record(None, "auth.account_locked", "user", user_id, {"failed": attempt})
                raise AccountLocked(now + lockout)
            self._audit.record(None, "auth.login_failed", "user", user_id, {"failed": attempt})
            raise LoginFailed()
        token = secrets.token_urlsafe(32)
        new_hash = self._hasher.hash(password) if self._hasher.check_needs_rehash(password_hash) else None
        with self._login_lock, self._db.transaction() as tx:
            tx.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?,"
                " password_hash = coalesce(?, password_hash) WHERE id = ?",
                [to_db_time(now), new_hash, user_id],
            )
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                [_hash_token(token), user_id, to_db_time(now), to_db_time(now)],
            )
            principal = self._principal(user_id, tx)
            if principal is None:  # disabled between the password check and now: no session
                raise LoginFailed()
            self._audit.record(principal, "auth.login", "user", user_id, {}, tx=tx)
        return LoginSession(principal, token)

    def resume(self, token: str, *, touch: bool = True) -> Principal:
        """The principal of a live session; raises SessionExpired.

        `touch` refreshes last_seen (activity); a timed poll passes False, so an open page
        that only polls still times out.
        """
        if not token:
            raise SessionExpired("no session")
        now = self._clock()
        token_hash = _hash_token(token)
        row = self._db.fetchone(
            "SELECT user_id, last_seen, created_at FROM sessions WHERE token_hash = ?", [token_hash]
        )
        if row is None:
            raise SessionExpired("session unknown or logged out")
        user_id, last_seen, created_at = row
        reason = None
        if now - from_db_time(last_seen) > timedelta(minutes=self._settings.session_idle_minutes):
            reason = "idle"
        elif now - from_db_time(created_at) > timedelta(hours=self._settings.session_max_hours):
            reason = "lifetime"
        if reason is not None:
            # A parallel rerun of the same browser session may be deleting it too.
            with contextlib.suppress(*CONFLICT_ERRORS), self._db.transaction() as tx:
                tx.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])
                self._audit.record(None, "auth.session_expired", "user", user_id, {"reason": reason}, tx=tx)
            raise SessionExpired(
                "session expired after inactivity"
                if reason == "idle"
                else "session reached its maximum lifetime"
            )
        principal = self._principal(user_id)
        if principal is None:
            raise SessionExpired("account no longer active")
        if touch:
            # Two reruns of one browser session may touch it at once; losing one refresh is harmless.
            with contextlib.suppress(*CONFLICT_ERRORS):
                self._db.execute(
                    "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", [to_db_time(now), token_hash]
                )
        return principal

    def logout(self, token: str) -> None:
        token_hash = _hash_token(token or "")
        with self._db.transaction() as tx:
            row = tx.execute("SELECT user_id FROM sessions WHERE token_hash = ?", [token_hash]).fetchone()
            tx.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])
            if row:
                self._audit.record(None, "auth.logout", "user", row[0], {}, tx=tx)

    def purge_sessions(self) -> int:
        """Delete sessions past the idle timeout or the absolute lifetime; returns how many."""
        now = to_db_time(self._clock())
        idle_since = now - timedelta(minutes=self._settings.session_idle_minutes)
        born_before = now - timedelta(hours=self._settings.session_max_hours)
        with self._db.transaction() as tx:
            count = scalar(
                tx,
                "SELECT count(*) FROM sessions WHERE last_seen < ? OR created_at < ?",
                [idle_since, born_before],
            )
            if count:
                tx.execute(
                    "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?", [idle_since, born_before]
                )
                self._audit.record(None, "auth.sessions_purged", "session", None, {"count": count}, tx=tx)
        return int(count)

    def _purge_stale_sessions(self, now: datetime) -> None:
        """`purge_sessions` at most every few minutes (log-ins call it; no extra thread)."""
        if self._last_purge is not None and now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        # A session touched at this very moment may conflict; the next purge gets it.
        with contextlib.suppress(*CONFLICT_ERRORS):
            self.purge_sessions()

    def principal_for_user(self, principal: Principal, user_id: str) -> Principal:
        """Staff look-up of another account's principal (e.g. to show who did something)."""
        require_role(principal, PHYSICIAN, ADMIN)
        found = self._principal(user_id)
        if found is None:
            raise AccessDenied("no such account")
        return found

    def set_language(self, principal: Principal, language: str) -> Principal:
        """The language `principal` reads the portal in, stored on their own account (a patient's
        in patients.preferred_language, which the report letter and e-mails read; staff's in
        user_languages). Returns the principal as the next run will load it."""
        if not language or not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", language):
            raise ValidationError({"language": "Please choose a language."})
        now = self._clock()
        with self._db.transaction() as tx:
            if principal.patient_id:
                tx.execute(
                    "UPDATE patients SET preferred_language = ? WHERE id = ?",
                    [language, principal.patient_id],
                )
            else:
                tx.execute("DELETE FROM user_languages WHERE user_id = ?", [principal.user_id])
                tx.execute(
                    "INSERT INTO user_languages (user_id, language, updated_at) VALUES (?, ?, ?)",
                    [principal.user_id, language, to_db_time(now)],
                )
            self._audit.record(
                principal, "account.language", "user", principal.user_id, {"language": language}, tx=tx
            )
        found = self._principal(principal.user_id)
        return found if found is not None else principal

    # -- helpers -------------------------------------------------------------------------------
    def _principal(self, user_id: str, cursor: Cursor | None = None) -> Principal | None:
        row = (
            (cursor or self._db.cursor())
            .execute(
                "SELECT u.id, u.role, u.email, u.display_name, u.patient_id, p.time_zone,"
                " COALESCE(p.preferred_language, l.language), u.disabled"
                " FROM users u LEFT JOIN patients p ON p.id = u.patient_id"
                " LEFT JOIN user_languages l ON l.user_id = u.id WHERE u.id = ?",
                [user_id],
            )
            .fetchone()
        )
        if row is None or row[7]:
            return None
        return Principal(row[0], row[1], row[2], row[3], row[4], row[5], row[6])

    def _verify_quietly(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _check_account_fields(email: str, password: str, name: str) -> dict[str, str]:
        errors: dict[str, str] = {}
        # Wrong types and unstorable text (a lone surrogate) are a field error, never a crash.
        if text_problem(email, 254) or not _EMAIL.match(normalise_email(email)):
            errors["email"] = "Please enter a valid email address."
        if text_problem(password, 1024):
            errors["password"] = "Please choose a password of letters, digits and symbols."
        else:
            problem = password_problem(password, (str(email or ""), str(name or "")))
            if problem:
                errors["password"] = problem
        if name_problem := text_problem(name, 200):
            errors["name"] = name_problem
        elif not name.strip():
            errors["name"] = "Please enter your name."
        return errors


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _valid_timezone(name: str) -> bool:
    if not name or name not in _timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
