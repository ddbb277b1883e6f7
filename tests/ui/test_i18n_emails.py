"""E-mails go out in the recipient's language (core/notifications.py): the live consult
invitation and the appointment reminder, with the time in the patient's own zone, named."""

from __future__ import annotations

import email.message
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from core.access import PHYSICIAN, Principal
from core.notifications import Notifier, _Recipient

SETTINGS = SimpleNamespace(
    clinic_name="Test Skin Clinic",
    public_url="https://portal.example.test",
    clinic_timezone="Europe/Amsterdam",
    smtp_from="",
    smtp_user="",
    smtp_host="clinic.example.test",
)
DOCTOR = Principal("u-doc", PHYSICIAN, "doc@example.test", "Dr Ada Doc")


def notifier() -> Notifier:
    return Notifier(SimpleNamespace(settings=SETTINGS))  # type: ignore[arg-type] - only the settings are read


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Dear Pat,", "is waiting for you now", "Before you join, please have ready:"]),
        ("de", ["Guten Tag Pat,", "wartet jetzt auf Sie", "Bitte halten Sie vor dem Beitreten bereit:"]),
        ("fr", ["Bonjour Pat,", "vous attend maintenant", "Avant de rejoindre, préparez :"]),
        ("ar", ["عزيزي/عزيزتي Pat،", "وينتظرك الآن"]),
    ],
)
def test_the_invitation_is_written_in_the_patient_language(language: str, words: list[str]) -> None:
    recipient = _Recipient("pat@example.test", "Pat", "Europe/Berlin", language)
    message = notifier()._invitation_message(DOCTOR, recipient, "r" * 20)
    text = text_of(message)
    for word in words:
        assert word in text, (word, text)
    assert "Dr Ada Doc" in text and "https://portal.example.test/patient_live_consult?room=" in text
    assert "Test Skin Clinic" in message["Subject"]
    if language != "en":
        assert "Dear" not in text and "waiting for you now" not in text


def test_the_reminder_names_the_patient_zone_and_speaks_turkish() -> None:
    start = datetime(2027, 3, 29, 8, 0, tzinfo=UTC)
    recipient = _Recipient("pat@example.test", "Pat", "America/New_York", "tr")
    message = notifier()._reminder_message(recipient, start, "America/New_York", "Dr Ada Doc", "Room 2")
    text = text_of(message)
    local = start.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%H:%M}" in text and "America/New York" in text and str(local.tzname()) in text
    assert "Sayın Pat," in text and "randevunuzu hatırlatırız" in text and "Nerede: Room 2" in text
    assert "reminder" not in text.lower()
