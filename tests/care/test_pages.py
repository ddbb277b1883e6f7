"""The care pages and panels render through Streamlit's AppTest against a seeded clinic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_pages import run_page_as

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Care-Test-Pass-123"


@pytest.fixture
def seeded(data_dir: Path, face_photo_bgr) -> Iterator[dict]:
    """The Clinic the pages get (components.session.get_clinic) with a full hybrid-care case."""
    import cv2

    from components.session import _open_clinic, get_clinic
    from core.access import SYSTEM_PRINCIPAL
    from core.care.followup import PlannedCheckIn
    from core.care.records import TreatmentInput
    from core.consult.cases import IntakeForm
    from core.consult.reports import PhysicianReport
    from tests.photo_factory import checked_photo

    clinic = get_clinic()
    physician = clinic.auth.create_staff(
        SYSTEM_PRINCIPAL, "physician", "doc@example.test", "Dr Care", PASSWORD
    )
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "admin", "admin@example.test", "Ann Admin", PASSWORD)
    patient = clinic.auth.register_patient(
        "pat@example.test", PASSWORD, "Pat Care", dt.date(1985, 1, 1), "fr", "America/New_York", True
    )
    photo = cv2.imencode(".jpg", face_photo_bgr)[1].tobytes()
    intake = IntakeForm(
        concerns=["volume_loss"], areas=["cheeks"], duration="1 year", consent_photo_storage=True
    )
    case_id = clinic.cases.submit_case(
        patient, intake, [checked_photo(v, photo) for v in ("front", "left_oblique", "right_oblique")]
    )
    clinic.cases.transition(physician, case_id, "in_review")
    clinic.reports.save_draft(
        physician,
        case_id,
        PhysicianReport(
            "Mid-face volume loss",
            "Filler indicated",
            "Hyaluronic acid filler",
            "SPF",
            True,
            "Filler session",
            "Check-in 2 weeks",
        ),
    )
    clinic.reports.send(physician, case_id)
    clinic.care.appointments.book_local(
        physician, case_id, dt.date.today() + dt.timedelta(days=9), dt.time(10), 30, "Filler session"
    )
    plan = [
        PlannedCheckIn(dt.date.today() - dt.timedelta(days=1), "2-week check-in", ("front",)),
        PlannedCheckIn(dt.date.today() + dt.timedelta(days=80), "3-month check-in", ("front",)),
    ]
    _, checkins = clinic.care.treatments.record_treatment(
        physician,
        case_id,
        TreatmentInput("filler", "cheeks", dt.date.today() - dt.timedelta(days=15), "Juvederm", 1, "ml"),
        plan,
    )
    clinic.care.checkins.submit_checkin(
        patient,
        checkins[0].checkin_id,
        {"front": checked_photo("front", photo)},
        {"front": {"score": 97.0, "instruction": "Good"}},
    )
    try:
        yield {"clinic": clinic, "case_id": case_id, "patient": patient, "physician": physician}
    finally:
        from tests.care.conftest import _settle

        _settle(clinic)
        clinic.close()
        _open_clinic.clear()


def run_page(clinic, email: str, page: str, query: dict[str, str] | None = None) -> AppTest:
    return run_page_as(clinic, email, PASSWORD, page, query)


def all_text(app: AppTest) -> str:
    parts = (
        [e.value for e in app.markdown] + [e.value for e in app.caption] + [str(e.value) for e in app.info]
    )
    parts += (
        [str(e.value) for e in app.error]
        + [str(e.value) for e in app.success]
        + [str(e.value) for e in app.warning]
    )
    parts += [e.label for e in app.expander] + [e.label for e in app.button]
    return "\n".join(parts)


def test_physician_case_care_tab(seeded) -> None:
    app = run_page(
        seeded["clinic"], "doc@example.test", "pages/physician_case.py", {"case": seeded["case_id"]}
    )
    assert not app.exception, app.exception
    text = all_text(app)
    assert "Filler session" in text
    assert "America/New_York" in text  # the patient's own time shown beside the clinic's
    assert "2-week check-in" in text and "3-month check-in" in text
    assert "Prepare FHIR R4 bundle" in text


def test_physician_agenda_shows_overdue_and_review(seeded) -> None:
    app = run_page(seeded["clinic"], "doc@example.test", "pages/physician_agenda.py")
    assert not app.exception, app.exception
    text = all_text(app)
    assert "Review check-in photos" in text
    assert "Pat Care" in text and "Filler session" in text


def test_physician_archive_renders_search_timeline_and_compare(seeded) -> None:
    app = run_page(seeded["clinic"], "doc@example.test", "pages/physician_archive.py")
    assert not app.exception, app.exception
    assert "1 case" in all_text(app)
    assert len(app.dataframe) >= 2  # results + timeline


def test_patient_panel_shows_own_zone_overdue_checkin_and_downloads(seeded) -> None:
    app = run_page(seeded["clinic"], "pat@example.test", "pages/patient_my_consultations.py")
    assert not app.exception, app.exception
    text = all_text(app)
    assert "America/New_York" in text
    assert "3-month check-in" in text  # the open one (the 2-week one was sent)
    # The patient registered in French: the panel speaks French.
    assert "Préparer toutes mes données (zip)" in text
    pdf_button = next(b for b in app.button if b.label.startswith("Préparer le PDF du compte rendu"))
    app = pdf_button.click().run()
    assert not app.exception, app.exception
    assert any(
        getattr(e, "label", "").startswith("Télécharger le compte rendu") for e in app.get("download_button")
    )


def test_admin_patients_page_erases(seeded) -> None:
    clinic = seeded["clinic"]
    app = run_page(clinic, "admin@example.test", "pages/admin_patients.py")
    assert not app.exception, app.exception
    erase = next(b for b in app.button if b.label == "Erase permanently")
    assert erase.disabled
    app.text_input(key=f"erase_confirm_{seeded['patient'].patient_id}").input("pat@example.test").run()
    app = next(b for b in app.button if b.label == "Erase permanently").click().run()
    assert not app.exception, app.exception
    assert any("Erased" in str(e.value) for e in app.success)
    assert clinic.db.fetchone("SELECT count(*) FROM photos")[0] == 0
    assert clinic.audit.verify().ok
