"""Fixtures for the e-mail and live-notice tests: a real SMTP server (aiosmtpd) on 127.0.0.1,
the clinic's SMTP settings pointing at it, and a clinic with a physician, a patient and a case."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

PUBLIC_URL = "https://portal.example.test"
PASSWORD = "Long-Enough-Pass-123"
PATIENT_EMAIL = "pat@example.test"
PHYSICIAN_EMAIL = "doc@example.test"
CASE_TEXT = "Brown patches on the cheeks since my pregnancy"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with test-sized costs (the default costs make every log-in ~0.1 s of CPU)."""
    import argon2

    import core.auth

    monkeypatch.setattr(
        core.auth,
        "PasswordHasher",
        lambda: argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class MailBox:
    """What the test SMTP server received: (envelope recipients, parsed message) per mail."""

    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        self.arrived.set()
        return "250 Message accepted for delivery"

    def wait(self, count: int = 1, timeout: float = 20.0) -> bool:
        deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
        while len(self.received) < count and dt.datetime.now() < deadline:
            self.arrived.wait(0.1)
            self.arrived.clear()
        return len(self.received) >= count


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a received message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (text.get_content() if text else ""), (html.get_content() if html else "")


@pytest.fixture
def mailbox() -> Iterator[MailBox]:
    from aiosmtpd.controller import Controller

    box = MailBox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def smtp_env(mailbox: MailBox, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> MailBox:
    """The clinic's SMTP settings point at the test server (plain SMTP on localhost)."""
    monkeypatch.setenv("CLINIC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLINIC_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("CLINIC_SMTP_TLS", "none")
    monkeypatch.setenv("CLINIC_SMTP_FROM", "no-reply@clinic.example.test")
    monkeypatch.setenv("CLINIC_PUBLIC_URL", PUBLIC_URL + "/")
    monkeypatch.setenv("CLINIC_NAME", "Test Skin Clinic")
    return mailbox


@pytest.fixture
def no_smtp_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLINIC_SMTP_HOST", "CLINIC_SMTP_PORT", "CLINIC_SMTP_TLS", "CLINIC_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:400, 0:320]
    rgb = np.stack([x * 255 // 320, y * 255 // 400, np.full_like(x, 128)], axis=-1)
    rgb = np.clip(rgb + rng.integers(-10, 10, rgb.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=90)
    return out.getvalue()


@dataclass
class World:
    clinic: Any
    physician: Any
    patient: Any
    case_id: str

    @property
    def reference(self) -> str:
        return self.clinic.cases.get_case(self.physician, self.case_id).reference


def populate(clinic: Any, patient_timezone: str = "America/New_York") -> World:
    """A physician, a patient (in `patient_timezone`) and one submitted case, through core."""
    from core.access import SYSTEM_PRINCIPAL
    from core.consult.cases import IntakeForm
    from tests.photo_factory import checked_photo

    clinic.case_submitted_listeners.clear()  # no background pre-assessment: not what is tested here
    physician = clinic.auth.create_staff(
        SYSTEM_PRINCIPAL, role="physician", email=PHYSICIAN_EMAIL, name="Dr Ada Doc", password=PASSWORD
    )
    patient = clinic.auth.register_patient(
        email=PATIENT_EMAIL, password=PASSWORD, name="Pat Example", date_of_birth=dt.date(1980, 3, 1),
        language="en", timezone=patient_timezone, accepted_telemedicine_consent=True,
    )  # fmt: skip
    intake = IntakeForm(
        concerns=["pigmentation_melasma"],
        areas=["cheeks"],
        duration="1 to 3 years",
        concern_other_text=CASE_TEXT,
        consent_photo_storage=True,
    )
    photos = [
        checked_photo(view, jpeg(i)) for i, view in enumerate(("front", "left_oblique", "right_oblique"))
    ]
    case_id = clinic.cases.submit_case(patient, intake, photos)
    return World(clinic, physician, patient, case_id)


@pytest.fixture
def open_clinic(data_dir: Path) -> Iterator[Callable[[], Any]]:
    """Opens the clinic with the environment's settings as they are when called; closes it after."""
    from core.clinic import Clinic
    from core.config import Settings

    opened: list[Any] = []

    def make() -> Any:
        clinic = Clinic.open(Settings.from_env())
        opened.append(clinic)
        return clinic

    yield make
    for clinic in opened:
        clinic.close()


@pytest.fixture
def world(smtp_env: MailBox, open_clinic: Callable[[], Any]) -> World:
    return populate(open_clinic())
