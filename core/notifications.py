"""E-mail to patients: the live consult invitation and appointment reminders (SMTP; no Streamlit).

Wired onto the Clinic as `clinic.notifications`. Nothing is sent unless `CLINIC_SMTP_HOST` is set:
callers then get a `SendResult` with status "not_configured" and a sentence for the page. Every
attempt is audit-logged (the address only as a short hash), and a failure is logged, audit-logged
and returned, never raised into a page. Messages carry no medical details: a mailbox is not a
safe place for them.

    result = clinic.notifications.send_consult_invitation(physician, case_id, room_id)
    sent = clinic.notifications.send_due_reminders()   # `python -m core send-reminders`
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import smtplib
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

from core.access import PHYSICIAN, SYSTEM_PRINCIPAL, AccessDenied, Principal, ValidationError, require_role
from core.care import booking
from core.db import from_db_time, to_db_time
from core.i18n import N_, Translator, translator

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.auth import AuthService
    from core.config import Settings
    from core.consult.cases import CaseService
    from core.db import Database


class NotifierClinic(Protocol):
    """What the notifier uses of `core.clinic.Clinic`, structurally (the facade creates the
    notifier, so the notifier does not import it)."""

    settings: Settings
    db: Database
    audit: AuditLog
    auth: AuthService
    cases: CaseService
    clock: Callable[[], datetime]

    @property
    def closed(self) -> bool: ...


log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 15.0
REMINDER_WINDOW = timedelta(hours=24)
REMINDER_INTERVAL_S = 600.0
# Page path under CLINIC_PUBLIC_URL (st.navigation derives it from the page file name).
LIVE_CONSULT_PATH = "patient_live_consult"
_ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")  # secrets.token_urlsafe ids; nothing else goes in a link

SENT = "sent"
NOT_CONFIGURED = "not_configured"
NO_ADDRESS = "no_address"
FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    """What happened to one e-mail; `message` is a sentence for the page (English: the page shows
    it translated, a failure as `failure` and `reason`, each a catalog entry)."""

    status: str  # sent | not_configured | no_address | failed
    message: str
    at: datetime | None = None
    failure: str = ""
    reason: str = ""

    @property
    def sent(self) -> bool:
        return self.status == SENT


@dataclass(frozen=True)
class ReminderRun:
    sent: int
    failed: int


@dataclass(frozen=True)
class _Recipient:
    email: str
    name: str
    timezone: str | None
    language: str | None = None  # the patient's preferred language: the e-mail is written in it


def address_ref(email: str) -> str:
    """A short hash naming an address in the audit log and server log without showing it."""
    return "sha256:" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:12]


def _failure_reason(error: BaseException) -> str:
    """Plain words for a failed delivery (smtplib's exceptions are OSErrors: check them first)."""
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return N_("the mail server does not offer an encrypted connection (STARTTLS)")
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return N_("the mail server did not accept the log-in")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return N_("the mail server refused the patient's address")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return N_("the mail server refused the sender address")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return N_("the mail server closed the connection")
    if isinstance(error, smtplib.SMTPException):
        return N_("the mail server refused the message")
    if isinstance(error, ssl.SSLCertVerificationError):
        return N_("the mail server's certificate could not be verified")
    if isinstance(error, ssl.SSLError):
        return N_("the secure connection to the mail server failed")
    if isinstance(error, TimeoutError):
        return N_("the mail server did not answer in time")
    if isinstance(error, OSError):
        return N_("the mail server could not be reached")
    return N_("an unexpected error occurred")


class Notifier:
    """Sends the clinic's e-mail through the configured SMTP server."""

    def __init__(self, clinic: NotifierClinic) -> None:
        # The Clinic facade gives settings, db, audit, clock and the auth/cases services.
        self._clinic = clinic
        self._settings = clinic.settings
        self._lock = threading.Lock()
        self._reminder_lock = threading.Lock()  # the background loop and a manual run never overlap
        self._invitations: dict[str, SendResult] = {}  # room id -> latest invitation result
        self._stop = threading.Event()
        self._reminder_thread: threading.Thread | None = None

    @property
    def configured(self) -> bool:
        return self._settings.smtp_configured

    # -- live consult invitation -----------------------------------------------------------------
    def send_consult_invitation(self, principal: Principal, case_id: str, room_id: str) -> SendResult:
        """E-mail the case's patient a link to the open live consult (physicians only)."""
        require_role(principal, PHYSICIAN)
        patient_id = self._clinic.cases.check_case_access(principal, case_id).patient_id
        if not _ROOM_ID.match(room_id or ""):
            raise ValidationError({"room": "this is not a consult room id"})
        if not self.configured:
            result = SendResult(
                NOT_CONFIGURED,
                N_("E-mail is not set up on this server: give the patient the invitation code."),
            )
        else:
            recipient = self._patient_recipient(principal, patient_id)
            if recipient is None:
                result = SendResult(
                    NO_ADDRESS,
                    N_(
                        "The patient's account is closed, so no e-mail was sent: give the patient the invitation"
                        " code."
                    ),
                )
                self._audit(principal, "notify.consult_invitation", "case", case_id, status=NO_ADDRESS)
            else:
                result = self._send(
                    principal,
                    "notify.consult_invitation",
                    ("case", case_id),
                    recipient,
                    lambda: self._invitation_message(principal, recipient, room_id),
                    success=N_("Invitation e-mailed to the patient."),
                    failure=N_("The invitation e-mail could not be sent"),
                    room=room_id[:8],
                )
        with self._lock:
            self._invitations[room_id] = result
        return result

    def invite_once(self, principal: Principal, case_id: str, room_id: str) -> SendResult:
        """The automatic invitation when a room opens: sent once per room, later calls return it."""
        with self._lock:
            previous = self._invitations.get(room_id)
        return previous if previous is not None else self.send_consult_invitation(principal, case_id, room_id)

    def last_invitation(self, room_id: str) -> SendResult | None:
        with self._lock:
            return self._invitations.get(room_id)

    def _invitation_message(self, physician: Principal, recipient: _Recipient, room_id: str) -> EmailMessage:
        """The invitation in the patient's language (whole sentences from the catalog)."""
        t = translator(recipient.language)
        clinic_name = self._settings.clinic_name
        doctor = physician.display_name or t.gettext("Your physician")
        link = self._link(f"{LIVE_CONSULT_PATH}?room={quote(room_id, safe='')}")
        prepare = [
            t.gettext(
                "a phone, tablet or computer with a camera and a microphone (allow the browser to use them)"
            ),
            t.gettext("a quiet, private place with good light on your face"),
            t.gettext("a few minutes: your physician lets you in from the waiting room"),
        ]
        if link:
            how_text = t.gettext("Join here (you will be asked to log in first):\n{link}", link=link)
            join, log_in_first = (
                t.gettext("Join the live video consult"),
                t.gettext("You will be asked to log in first."),
            )
            how_html = (
                f'<p><a href="{html.escape(link)}" style="font-weight:bold">{html.escape(join)}</a>'
                f"<br>{html.escape(log_in_first)}</p>"
            )

        else:
            how_text = t.gettext(
                'Log in to the clinic portal and open "My consultations": the consult is shown at the top.'
            )
            how_html = f"<p>{html.escape(how_text)}</p>"
        greeting = t.gettext("Dear {name},", name=recipient.name)
        opened = t.gettext(
            "{doctor} of {clinic} has opened a live video consult for you and is waiting for you now.",
            doctor=doctor,
            clinic=clinic_name,
        )
        ready = t.gettext("Before you join, please have ready:")
        later = t.gettext("If you cannot join now, your physician can invite you again later.")
        footer = self._footer(t)
        text = (
            f"{greeting}\n\n{opened}\n\n{how_text}\n\n{ready}\n"
            + "".join(f"- {item}\n" for item in prepare)
            + f"\n{later}\n\n{footer}\n"
        )
        body = (
            f"<p>{html.escape(greeting)}</p><p>{html.escape(opened)}</p>{how_html}"
            f"<p>{html.escape(ready)}</p><ul>"
            + "".join(f"<li>{html.escape(item)}</li>" for item in prepare)
            + f"</ul><p>{html.escape(later)}</p>"
            f'<p style="color:#666">{html.escape(footer)}</p>'
        )
        subject = t.gettext(
            "{clinic}: your physician is waiting for you in a video consult", clinic=clinic_name
        )
        return self._message(recipient.email, subject, text, body)

    # -- appointment reminders -------------------------------------------------------------------
    def send_due_reminders(self, now: datetime | None = None) -> int:
        """E-mail a reminder for each booked appointment in the next 24 hours that has none yet.

        A reminder is recorded per appointment and start time, so it goes once, and again only when
        the visit is moved; a failed one is audit-logged and tried again at the next run. Returns
        how many were sent (0 when e-mail is not configured).
        """
        return self.run_reminders(now).sent

    def run_reminders(self, now: datetime | None = None) -> ReminderRun:
        if not self.configured:
            return ReminderRun(0, 0)
        now = now or self._clinic.clock()
        sent = failed = 0
        with self._reminder_lock:
            rows = self._clinic.db.fetchall(
                "SELECT a.id, a.patient_id, a.case_id, a.start_utc, a.location, a.patient_timezone, u.display_name"
                " FROM care_appointments a LEFT JOIN users u ON u.id = a.physician_id"
                " WHERE a.status = 'booked' AND a.start_utc > ? AND a.start_utc <= ?"
                " AND NOT EXISTS (SELECT 1 FROM care_reminders r"
                " WHERE r.appointment_id = a.id AND r.start_utc = a.start_utc)"
                " ORDER BY a.start_utc",
                [to_db_time(now), to_db_time(now + REMINDER_WINDOW)],
            )
            for appointment_id, patient_id, case_id, start, location, booked_zone, physician in rows:
                recipient = self._patient_recipient(SYSTEM_PRINCIPAL, patient_id)
                if recipient is None:
                    log.info(
                        "no reminder for appointment %s: the patient's account is closed", appointment_id
                    )
                    continue
                start_utc = from_db_time(start)
                zone = recipient.timezone or booked_zone or self._settings.clinic_timezone
                result = self._send(
                    SYSTEM_PRINCIPAL,
                    "notify.appointment_reminder",
                    ("appointment", appointment_id),
                    recipient,
                    lambda r=recipient, s=start_utc, z=zone, p=physician, loc=location: (
                        self._reminder_message(r, s, z, p, loc)
                    ),
                    success=N_("Reminder e-mailed to the patient."),
                    failure=N_("The reminder could not be sent"),
                    case_id=case_id,
                )
                if not result.sent:
                    failed += 1
                    continue
                self._clinic.db.execute(
                    "INSERT INTO care_reminders (id, appointment_id, patient_id, case_id, start_utc, channel, sent_at)"
                    " VALUES (?, ?, ?, ?, ?, 'email', ?)",
                    [
                        uuid.uuid4().hex,
                        appointment_id,
                        patient_id,
                        case_id,
                        start,
                        to_db_time(result.at or now),
                    ],
                )
                sent += 1
        return ReminderRun(sent, failed)

    def _reminder_message(
        self, recipient: _Recipient, start_utc: datetime, zone: str, physician: str | None, location: str
    ) -> EmailMessage:
        """The reminder in the patient's language, the time in the patient's zone, named."""
        t = translator(recipient.language)
        clinic_name = self._settings.clinic_name
        try:
            local = booking.utc_to_local(start_utc, zone)
        except booking.BookingError:  # a zone name this system no longer knows: the clinic's
            zone = self._settings.clinic_timezone
            local = booking.utc_to_local(start_utc, zone)
        day, clock = t.date(local.date(), "full"), t.time(local, "HH:mm")
        when = t.gettext(
            "{day}, {time} ({abbreviation}, {zone})",
            day=day,
            time=clock,
            abbreviation=local.tzname() or "",
            zone=zone.replace("_", " "),
        )
        if physician:
            reminder = t.gettext(
                "This is a reminder of your appointment with {physician} at {clinic}.",
                physician=physician,
                clinic=clinic_name,
            )
        else:
            reminder = t.gettext("This is a reminder of your appointment at {clinic}.", clinic=clinic_name)
        link = self._link("")  # after log-in a patient lands on "My consultations"
        manage = (
            t.gettext("To see or change your appointments, log in to the portal:\n{link}", link=link)
            if link
            else t.gettext(
                'To see or change your appointments, log in to the portal and open "My consultations".'
            )
        )
        greeting = t.gettext("Dear {name},", name=recipient.name)
        when_label, where_label = t.gettext("When:"), t.gettext("Where:")
        footer = self._footer(t)
        text = f"{greeting}\n\n{reminder}\n\n{when_label} {when}\n{where_label} {location}\n\n{manage}\n\n{footer}\n"
        see, log_in_first = t.gettext("See or change your appointments"), t.gettext("(log in first).")
        manage_html = (
            f'<p><a href="{html.escape(link)}">{html.escape(see)}</a> {html.escape(log_in_first)}</p>'
            if link
            else f"<p>{html.escape(manage)}</p>"
        )

        body = (
            f"<p>{html.escape(greeting)}</p><p>{html.escape(reminder)}</p>"
            f"<p><b>{html.escape(when_label)}</b> {html.escape(when)}<br>"
            f"<b>{html.escape(where_label)}</b> {html.escape(location)}</p>"
            f"{manage_html}"
            f'<p style="color:#666">{html.escape(footer)}</p>'
        )
        subject = t.gettext(
            "{clinic}: reminder of your appointment on {day} at {time}",
            clinic=clinic_name,
            day=t.date(local.date(), "long"),
            time=clock,
        )
        return self._message(recipient.email, subject, text, body)

    # -- background reminders (the server) --------------------------------------------------------
    def start_reminders(self, interval_s: float = REMINDER_INTERVAL_S) -> bool:
        """Run `send_due_reminders` now and every `interval_s` in a thread; False when e-mail is off."""
        if not self.configured:
            return False
        with self._lock:
            if self._reminder_thread is not None and self._reminder_thread.is_alive():
                return True
            self._stop.clear()
            self._reminder_thread = threading.Thread(
                target=self._reminder_loop, args=(interval_s,), name="appointment-reminders", daemon=True
            )
            self._reminder_thread.start()
        return True

    def _reminder_loop(self, interval_s: float) -> None:
        while not self._stop.is_set() and not self._clinic.closed:
            try:
                run = self.run_reminders()
                if run.sent or run.failed:
                    log.info("appointment reminders: %d sent, %d failed", run.sent, run.failed)
            except Exception:  # noqa: BLE001 - the loop must outlive one bad run (it is retried)
                log.exception("appointment reminder run failed")
            if self._stop.wait(interval_s):
                return

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the reminder thread (Clinic.close calls this before the database closes)."""
        self._stop.set()
        thread = self._reminder_thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    # -- sending -----------------------------------------------------------------------------------
    def _patient_recipient(self, principal: Principal, patient_id: str) -> _Recipient | None:
        """The patient's address, name and zone through the auth service; None for a closed account."""
        row = self._clinic.db.fetchone("SELECT user_id FROM patients WHERE id = ?", [patient_id])
        if row is None:
            return None
        try:
            patient = self._clinic.auth.principal_for_user(principal, row[0])
        except AccessDenied:
            return None
        if not patient.email:
            return None
        return _Recipient(patient.email, patient.display_name, patient.timezone, patient.language)

    def _send(
        self,
        actor: Principal,
        action: str,
        target: tuple[str, str],
        recipient: _Recipient,
        build: Callable[[], EmailMessage],
        success: str,
        failure: str,
        **details: Any,
    ) -> SendResult:
        reference = address_ref(recipient.email)
        try:
            self._deliver(build())
        except Exception as error:  # noqa: BLE001 - reported to the caller, logged and audited
            reason = _failure_reason(error)
            code = getattr(error, "smtp_code", None)
            # The exception text may hold the address: log its type and code only.
            log.warning(
                "%s to %s failed: %s (%s %s)", action, reference, reason, type(error).__name__, code or ""
            )
            self._audit(actor, action, *target, status=FAILED, recipient=reference, reason=reason, **details)
            return SendResult(FAILED, f"{failure}: {reason}.", failure=failure, reason=reason)
        self._audit(actor, action, *target, status=SENT, recipient=reference, **details)
        return SendResult(SENT, success, at=self._clinic.clock())

    def _audit(self, actor: Principal, action: str, object_type: str, object_id: str, **details: Any) -> None:
        self._clinic.audit.record(actor, action, object_type, object_id, details)

    @property
    def _sender(self) -> str:
        settings = self._settings
        if settings.smtp_from:
            return settings.smtp_from
        if settings.smtp_user and "@" in settings.smtp_user:
            return settings.smtp_user
        return f"no-reply@{settings.smtp_host}"

    def _link(self, path: str) -> str | None:
        base = self._settings.public_url
        return f"{base.rstrip('/')}/{path}" if base else None  # e.g. https://portal.example.org/

    def _footer(self, t: Translator) -> str:
        return t.gettext(
            "This message was sent automatically by {clinic}. For your privacy it contains no medical"
            " information. Please do not reply to it.",
            clinic=self._settings.clinic_name,
        )

    def _message(self, to: str, subject: str, text: str, html_body: str) -> EmailMessage:
        sender = self._sender
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = formataddr((self._settings.clinic_name, sender))
        message["To"] = to
        message["Date"] = formatdate(usegmt=True)
        # An explicit domain: make_msgid's default looks up this host's name (DNS, can hang).
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
        message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies to a no-reply sender
        message["Content-Language"] = "en"
        message.set_content(text)
        message.add_alternative(f"<!DOCTYPE html><html><body>{html_body}</body></html>", subtype="html")
        return message

    def _deliver(self, message: EmailMessage) -> None:
        settings = self._settings
        assert settings.smtp_host is not None
        # EHLO name: the portal's public host when known; else smtplib asks DNS for this host's name.
        helo = urlsplit(settings.public_url).hostname if settings.public_url else None
        context = ssl.create_default_context()
        if settings.smtp_tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, helo, timeout=SMTP_TIMEOUT_S, context=context
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, helo, timeout=SMTP_TIMEOUT_S)
        with client:
            if settings.smtp_tls == "starttls":
                client.starttls(context=context)  # never falls back to plain text
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            client.send_message(message)
