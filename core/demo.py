"""Demo data: one admin, one physician, one patient and a demo case (scikit-image's astronaut).

Passwords are random, generated once and printed once; only their argon2id hashes are stored.
Running it again changes nothing and says the log-ins were shown at first start. The photos are
made at run time from `skimage.data.astronaut()` (public domain), never image files in git.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

import numpy as np

from core.access import ADMIN, PHYSICIAN, SYSTEM_PRINCIPAL
from core.consult.cases import IntakeForm
from core.consult.photos import CheckedPhoto, encode_rgb, intake_photo

DEMO_ADMIN_EMAIL = "admin@demo.clinic"
DEMO_PHYSICIAN_EMAIL = "physician@demo.clinic"
DEMO_PATIENT_EMAIL = "patient@demo.clinic"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str


def demo_photos() -> dict[str, bytes]:
    """Front from the astronaut's face; obliques as a shifted crop and its mirror image."""
    from PIL import Image
    from skimage import data

    rgb = np.ascontiguousarray(data.astronaut())

    def crop(x0: int) -> bytes:
        face = rgb[0:300, x0 : x0 + 250]
        return encode_rgb(np.asarray(Image.fromarray(face).resize((820, 984), Image.Resampling.BICUBIC)))

    oblique = rgb[0:300, 110:360]
    oblique_big = np.asarray(Image.fromarray(oblique).resize((820, 984), Image.Resampling.BICUBIC))
    return {
        "front": crop(90),
        "left_oblique": encode_rgb(oblique_big),
        "right_oblique": encode_rgb(np.ascontiguousarray(oblique_big[:, ::-1])),
    }


def demo_intake() -> IntakeForm:
    """The demo patient's answers (also what the benchmarks submit)."""
    return IntakeForm(
        concerns=["lines_wrinkles", "pigmentation_melasma"],
        areas=["forehead", "periorbital", "cheeks"],
        duration="1-2 years",
        goals="Softer forehead lines and a more even skin tone.",
        medications="none",
        allergies="none known",
        skin_type_self_assessment="II",
        consent_photo_storage=True,
    )


def demo_intake_photos() -> list[CheckedPhoto]:
    """The demo's three views as intake photos (the side views are crops the gate fails)."""
    return [intake_photo(image, view) for view, image in demo_photos().items()]


def seed_demo(clinic, echo=print) -> list[DemoLogin] | None:  # clinic: core.clinic.Clinic
    """Create the demo accounts and case once; returns the log-ins when created, else None."""
    if clinic.db.fetchone("SELECT 1 FROM users WHERE email = ?", [DEMO_ADMIN_EMAIL]):
        echo("Demo data already present; the demo log-ins were shown when it was first created.")
        return None
    logins = [
        DemoLogin(ADMIN, DEMO_ADMIN_EMAIL, secrets.token_urlsafe(12)),
        DemoLogin(PHYSICIAN, DEMO_PHYSICIAN_EMAIL, secrets.token_urlsafe(12)),
        DemoLogin("patient", DEMO_PATIENT_EMAIL, secrets.token_urlsafe(12)),
    ]
    admin, physician, patient = logins
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, ADMIN, admin.email, "Demo Admin", admin.password)
    clinic.auth.create_staff(
        SYSTEM_PRINCIPAL, PHYSICIAN, physician.email, "Dr Demo Physician", physician.password
    )
    clinic.auth.register_patient(
        patient.email,
        patient.password,
        "Demo Patient",
        date(1985, 6, 15),
        "en",
        clinic.settings.clinic_timezone,
        accepted_telemedicine_consent=True,
    )
    principal, token = clinic.auth.login(patient.email, patient.password)
    try:
        clinic.cases.submit_example_case(principal, demo_intake(), demo_intake_photos())
    finally:
        clinic.auth.logout(token)
    echo("Demo log-ins (shown only this once; they are stored only as password hashes):")
    for login in logins:
        echo(f"  {login.role:<9} {login.email:<24} {login.password}")
    return logins
