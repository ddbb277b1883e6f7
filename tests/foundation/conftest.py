"""Fixtures for the foundation tests: an open Clinic with a controllable clock, accounts, photos."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.access import SYSTEM_PRINCIPAL, Principal
from core.clinic import Clinic
from core.config import Settings
from core.consult.cases import IntakeForm
from core.consult.photos import CheckedPhoto
from tests.photo_factory import checked_photo

PASSWORD = "correct-horse-battery"


class FakeClock:
    """A settable UTC clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with test-sized costs: the default costs make every log-in ~0.1 s of CPU."""
    import argon2

    import core.auth

    monkeypatch.setattr(
        core.auth,
        "PasswordHasher",
        lambda: argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clinic(data_dir: Path, clock: FakeClock) -> Iterator[Clinic]:
    opened = Clinic.open(Settings.from_env(), clock=clock)
    # Other areas' listeners (e.g. the background pre-assessment) are tested by those areas;
    # here they would only add background load and extra blobs.
    opened.case_submitted_listeners.clear()
    yield opened
    opened.close()


def make_jpeg(width: int = 320, height: int = 400, seed: int = 0, exif: bytes | None = None) -> bytes:
    """A synthetic photo (smooth gradient + noise) encoded as JPEG, optionally with EXIF."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 255 // width), (y * 255 // height), np.full_like(x, 128)], axis=-1)
    rgb = np.clip(rgb + rng.integers(-10, 10, rgb.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=90, **({"exif": exif} if exif else {}))
    return out.getvalue()


def required_photos(seed: int = 0) -> list[CheckedPhoto]:
    return [
        checked_photo(view, make_jpeg(seed=seed + i))
        for i, view in enumerate(("front", "left_oblique", "right_oblique"))
    ]


def valid_intake(**overrides: object) -> IntakeForm:
    values: dict[str, object] = {
        "concerns": ["pigmentation_melasma"],
        "areas": ["cheeks", "forehead"],
        "duration": "about two years",
        "goals": "an even tone",
        "consent_photo_storage": True,
    }
    values.update(overrides)
    return IntakeForm(**values)  # type: ignore[arg-type]


@dataclass
class Accounts:
    patient_a: Principal
    patient_b: Principal
    physician: Principal
    admin: Principal


def register(clinic: Clinic, email: str, name: str) -> Principal:
    clinic.auth.register_patient(
        email, PASSWORD, name, date(1988, 5, 4), "en", "Europe/Amsterdam", accepted_telemedicine_consent=True
    )
    return clinic.auth.login(email, PASSWORD).principal


@pytest.fixture
def accounts(clinic: Clinic) -> Accounts:
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "admin", "admin@clinic.test", "Ada Admin", PASSWORD)
    return Accounts(
        patient_a=register(clinic, "alice@example.test", "Alice Quartermain"),
        patient_b=register(clinic, "bob@example.test", "Bob Brightwater"),
        physician=clinic.auth.login("doc@clinic.test", PASSWORD).principal,
        admin=clinic.auth.login("admin@clinic.test", PASSWORD).principal,
    )
