"""AppTest fixtures: a clinic in a temp data dir, seeded accounts, and logged-in app runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_TIMEOUT_S = 30


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    name: str


ACCOUNTS: dict[str, Account] = {
    "patient": Account("pat@example.test", "Patient-pass-123", "Pat Example"),
    "physician": Account("doc@example.test", "Physician-pass-123", "Dr Doc Example"),
    "admin": Account("admin@example.test", "Admin-pass-1234", "Ada Admin"),
}


@pytest.fixture
def clinic(data_dir: Path) -> Iterator[object]:
    """The same Clinic the pages get (components.session.get_clinic), with the test accounts."""
    from components.session import _open_clinic, get_clinic
    from core.access import SYSTEM_PRINCIPAL

    instance = get_clinic()
    for role in ("physician", "admin"):
        account = ACCOUNTS[role]
        instance.auth.create_staff(
            SYSTEM_PRINCIPAL, role=role, email=account.email, name=account.name, password=account.password
        )
    patient = ACCOUNTS["patient"]
    instance.auth.register_patient(
        email=patient.email,
        password=patient.password,
        name=patient.name,
        date_of_birth=dt.date(1980, 3, 1),
        language="en",
        timezone="Europe/Amsterdam",
        accepted_telemedicine_consent=True,
    )
    try:
        yield instance
    finally:
        instance.close()
        _open_clinic.clear()


@pytest.fixture
def app_as(clinic) -> Callable[..., AppTest]:
    """app_as(role or None, page=None, query=None, token=None) -> an AppTest already run once.

    Runs app.py (the role's menu and landing page) or one page file. Note: after its first run,
    AppTest re-runs only the page file, not app.py, so a flow across pages uses a fresh app_as().
    """

    def make(
        role: str | None,
        page: str | None = None,
        query: dict[str, str] | None = None,
        token: str | None = None,
    ) -> AppTest:
        from components.session import TOKEN_KEY

        script = REPO_ROOT / (page or "app.py")
        app = AppTest.from_file(str(script), default_timeout=APP_TIMEOUT_S)
        if role is not None:
            account = ACCOUNTS[role]
            token = clinic.auth.login(account.email, account.password).token
        if token is not None:
            app.session_state[TOKEN_KEY] = token
        for key, value in (query or {}).items():
            app.query_params[key] = value
        return app.run()

    return make


def submit_demo_case(clinic, face_bgr) -> str:
    """A real case submitted through core by the test patient; returns its case id."""
    import cv2

    from core.consult.cases import IntakeForm
    from core.consult.photos import normalise_upload
    from core.vision.landmarks import HeadPose
    from core.vision.quality import QualityCheck
    from tests.photo_factory import checked_photo

    account = ACCOUNTS["patient"]
    patient = clinic.auth.login(account.email, account.password).principal
    ok, jpeg = cv2.imencode(".jpg", face_bgr)
    assert ok
    photo = normalise_upload(jpeg.tobytes(), "face.jpg").image_bytes
    intake = IntakeForm(
        concerns=["pigmentation_melasma"],
        areas=["cheeks"],
        duration="1 to 3 years",
        goals="Even skin tone",
        concern_other_text="Brown patches on the cheeks",
        consent_photo_storage=True,
    )
    # The front view carries a quality warning as the quality gate records it.
    warned = QualityCheck("expression", "warn", 0.4, 0.3, "Please keep a neutral expression.")
    front = checked_photo("front", photo, verdict="warn", checks=[warned])
    front = dataclasses.replace(
        front, quality=dataclasses.replace(front.quality, pose=HeadPose(3.0, -8.0, 1.0))
    )
    photos = [front] + [checked_photo(view, photo) for view in ("left_oblique", "right_oblique")]
    case_id = clinic.cases.submit_case(patient, intake, photos)
    # Let the background pre-assessment finish first: AppTest cannot follow a page whose
    # assessment card switches from "running" to "done" between two scripted runs.
    clinic.assessments.wait_idle()
    return case_id
