"""The AR photo panel and the live-consult launcher inside a real Streamlit run (AppTest)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

PASSWORD = "Long-Enough-Pass-123"


def _panel_script(case_id: str, role: str) -> None:
    import streamlit as st

    from components.ar_panel import render_ar_photo_panel, render_live_consult_launcher
    from components.session import get_clinic

    clinic = get_clinic()
    email = "doc@example.test" if role == "physician" else "pat@example.test"
    principal = clinic.auth.login(email, "Long-Enough-Pass-123").principal
    if role == "physician":
        render_ar_photo_panel(clinic, principal, case_id)
    render_live_consult_launcher(clinic, principal, case_id)
    st.write("done")


@pytest.fixture
def clinic_case(data_dir: Path, face_photo_bgr: np.ndarray):
    from components.session import _open_clinic, get_clinic
    from core.access import SYSTEM_PRINCIPAL
    from core.consult.cases import REQUIRED_VIEWS, IntakeForm
    from core.consult.photos import encode_rgb
    from tests.photo_factory import checked_photo

    clinic = get_clinic()
    clinic.auth.create_staff(
        SYSTEM_PRINCIPAL, role="physician", email="doc@example.test", name="Dr D", password=PASSWORD
    )
    patient = clinic.auth.register_patient(
        email="pat@example.test", password=PASSWORD, name="Pat P", date_of_birth=dt.date(1980, 1, 1),
        language="en", timezone="Europe/Amsterdam", accepted_telemedicine_consent=True,
    )  # fmt: skip
    rgb = cv2.cvtColor(face_photo_bgr, cv2.COLOR_BGR2RGB)
    intake = IntakeForm(
        concerns=["lines_wrinkles"], areas=["lips"], duration="1 year", consent_photo_storage=True
    )
    case_id = clinic.cases.submit_case(
        patient, intake, [checked_photo(view, encode_rgb(rgb)) for view in REQUIRED_VIEWS]
    )
    assessments = getattr(clinic, "assessments", None)
    if assessments is not None:  # the AI pre-assessment of the new case runs in the background
        assessments.wait_idle(120)
    try:
        yield clinic, case_id
    finally:
        clinic.close()
        _open_clinic.clear()


def _run(case_id: str, role: str) -> AppTest:
    return AppTest.from_function(_panel_script, args=(case_id, role), default_timeout=60).run()


def test_physician_simulates_a_photo_and_saves_it_as_a_simulation(clinic_case) -> None:
    clinic, case_id = clinic_case
    app = _run(case_id, "physician")
    assert not app.exception, app.exception
    images = app.get("image")
    assert images and "not a guaranteed result" in str(images[0].proto)
    app.checkbox(key="ar-" + case_id + "-lips-on").check().run()
    app.button(key=f"ar-save-{case_id}").click().run()
    assert not app.exception, app.exception
    assert any("Saved to the case as a simulation" in s.value for s in app.success)
    doctor = clinic.auth.login("doc@example.test", PASSWORD).principal
    saved = [p for p in clinic.cases.list_photos(doctor, case_id) if p.source == "simulation"]
    assert len(saved) == 1
    from core.ar.effects import has_watermark
    from core.consult.photos import decode_to_bgr

    image = decode_to_bgr(clinic.cases.get_photo_bytes(doctor, saved[0].photo_id))
    assert has_watermark(image)


def test_launcher_starts_a_room_and_the_patient_sees_the_join_button(clinic_case) -> None:
    _, case_id = clinic_case
    patient_app = _run(case_id, "patient")
    assert any("No live video consult is open" in c.value for c in patient_app.caption)
    doctor_app = _run(case_id, "physician")
    doctor_app.button(key=f"live-start-{case_id}").click().run()
    # switch_page to the live page is not available to a function script; the room exists now.
    patient_app = _run(case_id, "patient")
    assert patient_app.button(key=f"live-join-{case_id}") is not None
    assert any("opened a live video consult" in i.value for i in patient_app.info)
