"""E-mail through a real SMTP server (aiosmtpd on 127.0.0.1): the live consult invitation,
appointment reminders, the unconfigured and failing cases, the CLI and the background thread."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.access import AccessDenied
from core.live.rooms import RoomRegistry
from tests.notifications.conftest import (
    CASE_TEXT,
    PATIENT_EMAIL,
    PUBLIC_URL,
    MailBox,
    World,
    free_port,
    parts,
    populate,
)


def audit_rows(clinic, action: str) -> list[dict]:
    rows = clinic.db.fetchall(
        "SELECT actor_id, object_type, object_id, detail_json FROM audit_log WHERE action = ? ORDER BY seq",
        [action],
    )
    return [{"actor": r[0], "type": r[1], "id": r[2], **json.loads(r[3])} for r in rows]


def all_audit_text(clinic) -> str:
    return json.dumps(clinic.db.fetchall("SELECT * FROM audit_log"), default=str)


def open_room(world: World) -> str:
    return RoomRegistry(world.clinic).open_room(world.physician, world.case_id).room_id


# -- the live consult invitation -------------------------------------------------------------------


def test_the_invitation_reaches_the_patient_with_a_join_link_and_no_case_details(
    world: World, smtp_env: MailBox
) -> None:
    room_id = open_room(world)
    result = world.clinic.notifications.send_consult_invitation(world.physician, world.case_id, room_id)
    assert result.sent and result.message == "Invitation e-mailed to the patient."
    assert smtp_env.wait(1)
    recipients, message = smtp_env.received[0]
    assert recipients == [PATIENT_EMAIL] and message["To"] == PATIENT_EMAIL
    assert "Test Skin Clinic" in message["From"] and "no-reply@clinic.example.test" in message["From"]
    assert "Test Skin Clinic" in message["Subject"] and "video consult" in message["Subject"]
    text, html = parts(message)
    link = f"{PUBLIC_URL}/patient_live_consult?room={room_id}"
    assert link in text and f'href="{link}"' in html
    for words in ("Dr Ada Doc", "waiting for you", "camera", "microphone", "quiet"):
        assert words in text, words
    # Privacy: nothing about the case travels by e-mail.
    everything = f"{message['Subject']}\n{text}\n{html}"  # decoded: no soft line break hides a word
    for secret in (world.case_id, world.reference, CASE_TEXT, "Pigmentation", "melasma", "cheeks"):
        assert secret not in everything, secret
    # Audited, without the address in clear.
    (row,) = audit_rows(world.clinic, "notify.consult_invitation")
    assert row["status"] == "sent" and row["id"] == world.case_id and row["room"] == room_id[:8]
    assert row["actor"] == world.physician.user_id and row["recipient"].startswith("sha256:")
    assert PATIENT_EMAIL not in all_audit_text(world.clinic)


def test_only_a_physician_sends_invitations(world: World, smtp_env: MailBox) -> None:
    room_id = open_room(world)
    with pytest.raises(AccessDenied):
        world.clinic.notifications.send_consult_invitation(world.patient, world.case_id, room_id)
    assert smtp_env.received == []


def test_the_automatic_invitation_goes_once_per_room(world: World, smtp_env: MailBox) -> None:
    notifier = world.clinic.notifications
    room_id = open_room(world)
    first = notifier.invite_once(world.physician, world.case_id, room_id)
    again = notifier.invite_once(world.physician, world.case_id, room_id)
    assert first.sent and again is first and notifier.last_invitation(room_id) is first
    assert smtp_env.wait(1) and len(smtp_env.received) == 1
    resent = notifier.send_consult_invitation(world.physician, world.case_id, room_id)  # "Send again"
    assert resent.sent and smtp_env.wait(2) and len(smtp_env.received) == 2


def test_nothing_is_sent_without_configuration(
    mailbox: MailBox, no_smtp_env: None, open_clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smtplib

    def no_connection(*args, **kwargs):
        raise AssertionError("no SMTP connection may be made without configuration")

    monkeypatch.setattr(smtplib, "SMTP", no_connection)
    monkeypatch.setattr(smtplib, "SMTP_SSL", no_connection)
    world = populate(open_clinic())
    notifier = world.clinic.notifications
    assert not notifier.configured
    room_id = open_room(world)
    result = notifier.send_consult_invitation(world.physician, world.case_id, room_id)
    assert result.status == "not_configured" and not result.sent
    assert result.message == "E-mail is not set up on this server: give the patient the invitation code."
    start = datetime.now(UTC) + timedelta(hours=3)
    world.clinic.care.appointments.book_appointment(
        world.physician, world.case_id, start, 30, "Follow-up visit"
    )
    assert notifier.send_due_reminders(datetime.now(UTC)) == 0
    assert notifier.start_reminders() is False
    assert mailbox.received == []


def test_an_unreachable_server_gives_a_failure_result_and_an_audit_row(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, open_clinic
) -> None:
    monkeypatch.setenv("CLINIC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLINIC_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("CLINIC_SMTP_TLS", "none")
    world = populate(open_clinic())
    room_id = open_room(world)
    result = world.clinic.notifications.send_consult_invitation(world.physician, world.case_id, room_id)
    assert result.status == "failed" and not result.sent
    assert result.message == "The invitation e-mail could not be sent: the mail server could not be reached."
    (row,) = audit_rows(world.clinic, "notify.consult_invitation")
    assert row["status"] == "failed" and row["reason"] == "the mail server could not be reached"
    assert PATIENT_EMAIL not in all_audit_text(world.clinic)
    assert world.clinic.notifications.last_invitation(room_id) == result


def test_starttls_is_required_by_default_and_never_falls_back_to_plain_text(
    mailbox: MailBox, data_dir: Path, monkeypatch: pytest.MonkeyPatch, open_clinic
) -> None:
    monkeypatch.setenv("CLINIC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLINIC_SMTP_PORT", str(mailbox.port))  # a plain server without STARTTLS
    monkeypatch.delenv("CLINIC_SMTP_TLS", raising=False)
    world = populate(open_clinic())
    assert world.clinic.settings.smtp_tls == "starttls"
    result = world.clinic.notifications.send_consult_invitation(
        world.physician, world.case_id, open_room(world)
    )
    assert result.status == "failed" and "encrypted connection" in result.message
    assert mailbox.received == []


def test_smtp_settings_from_the_environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import Settings

    monkeypatch.delenv("CLINIC_SMTP_HOST", raising=False)
    monkeypatch.delenv("CLINIC_SMTP_PORT", raising=False)
    monkeypatch.delenv("CLINIC_PUBLIC_URL", raising=False)
    monkeypatch.delenv("CLINIC_SMTP_TLS", raising=False)
    settings = Settings.from_env()
    assert not settings.smtp_configured and settings.smtp_port == 587 and settings.smtp_tls == "starttls"
    monkeypatch.setenv("CLINIC_SMTP_HOST", "mail.example.test")
    monkeypatch.setenv("CLINIC_SMTP_TLS", "SSL")
    monkeypatch.setenv("CLINIC_SMTP_PASSWORD", "s3cret-pass")
    settings = Settings.from_env()
    assert settings.smtp_configured and settings.smtp_tls == "ssl" and settings.smtp_port == 465
    assert "s3cret-pass" not in repr(settings)
    monkeypatch.setenv("CLINIC_SMTP_TLS", "maybe")
    with pytest.raises(ValueError, match="CLINIC_SMTP_TLS"):
        Settings.from_env()


# -- appointment reminders -------------------------------------------------------------------------


def book(world: World, start: datetime, reason: str = "Botulinum toxin follow-up of the forehead"):
    return world.clinic.care.appointments.book_appointment(
        world.physician, world.case_id, start, 30, reason, "Room 2"
    )


def test_a_reminder_goes_once_for_tomorrow_not_for_next_week(world: World, smtp_env: MailBox) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    tomorrow = book(world, now + timedelta(hours=20))
    book(world, now + timedelta(days=7))
    cancelled = book(world, now + timedelta(hours=5))
    world.clinic.care.appointments.cancel(world.physician, cancelled.appointment_id)
    notifier = world.clinic.notifications
    assert notifier.send_due_reminders(now) == 1
    assert smtp_env.wait(1)
    recipients, message = smtp_env.received[0]
    assert recipients == [PATIENT_EMAIL]
    text, html = parts(message)
    # The time in the patient's own zone (New York), not the clinic's.
    local = tomorrow.start_utc.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%H:%M}" in text and "America/New York" in text and local.tzname() in text
    assert "Room 2" in text and "Dr Ada Doc" in text and "Test Skin Clinic" in message["Subject"]
    assert f"{PUBLIC_URL}/" in text.splitlines() and f'href="{PUBLIC_URL}/"' in html and "Room 2" in html
    everything = f"{message['Subject']}\n{text}\n{html}"
    assert (
        "Botulinum" not in everything and "forehead" not in everything and world.reference not in everything
    )
    # Not twice: a second run (the thread, or the command) sends nothing new.
    assert notifier.send_due_reminders(now + timedelta(minutes=10)) == 0
    assert len(smtp_env.received) == 1
    (row,) = audit_rows(world.clinic, "notify.appointment_reminder")
    assert row["status"] == "sent" and row["id"] == tomorrow.appointment_id
    assert PATIENT_EMAIL not in all_audit_text(world.clinic)
    # A visit moved to another time is reminded of again.
    world.clinic.care.appointments.reschedule(
        world.physician, tomorrow.appointment_id, now + timedelta(hours=22)
    )
    assert notifier.send_due_reminders(now + timedelta(minutes=20)) == 1
    # Next week's comes when it is within a day.
    assert notifier.send_due_reminders(now + timedelta(days=6, hours=1)) == 1
    assert smtp_env.wait(3) and len(smtp_env.received) == 3


def test_a_failed_reminder_is_audited_and_tried_again_at_the_next_run(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, open_clinic, mailbox: MailBox
) -> None:
    monkeypatch.setenv("CLINIC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLINIC_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("CLINIC_SMTP_TLS", "none")
    world = populate(open_clinic())
    now = datetime.now(UTC)
    appointment = book(world, now + timedelta(hours=2))
    run = world.clinic.notifications.run_reminders(now)
    assert (run.sent, run.failed) == (0, 1)
    (row,) = audit_rows(world.clinic, "notify.appointment_reminder")
    assert row["status"] == "failed" and row["id"] == appointment.appointment_id
    # The server is back: the next run sends it.
    object.__setattr__(world.clinic.settings, "smtp_port", mailbox.port)  # as if fixed and restarted
    assert world.clinic.notifications.send_due_reminders(now + timedelta(minutes=10)) == 1
    assert mailbox.wait(1)


def test_send_reminders_command(world: World, smtp_env: MailBox, monkeypatch, capsys) -> None:
    from core.__main__ import main

    book(world, datetime.now(UTC) + timedelta(hours=6))
    world.clinic.close()  # the command opens the clinic itself (one handle per database file)
    assert main(["send-reminders"]) == 0
    assert "sent 1 reminder(s), 0 failed" in capsys.readouterr().out
    assert smtp_env.wait(1)
    assert main(["send-reminders"]) == 0
    assert "sent 0 reminder(s)" in capsys.readouterr().out
    monkeypatch.delenv("CLINIC_SMTP_HOST")
    assert main(["send-reminders"]) == 1
    assert "e-mail is not configured" in capsys.readouterr().err


def test_the_server_thread_sends_reminders_and_stops_with_the_clinic(world: World, smtp_env: MailBox) -> None:
    book(world, datetime.now(UTC) + timedelta(hours=6))
    notifier = world.clinic.notifications
    assert notifier.start_reminders(interval_s=3600) is True
    assert notifier.start_reminders(interval_s=3600) is True  # one thread, however often it is asked
    assert smtp_env.wait(1)  # the first run goes at once
    thread = notifier._reminder_thread
    assert thread is not None and thread.is_alive()
    world.clinic.close()
    assert not thread.is_alive()
    assert len(smtp_env.received) == 1
