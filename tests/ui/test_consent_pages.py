"""Consent texts on the pages: registration and the intake show them in the patient's language
with their version; what was accepted (version, language) is recorded and the physician sees it."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from core.consent import consent_text
from core.vocabulary import ConsentKind
from tests.ui.conftest import ACCOUNTS, APP_TIMEOUT_S, REPO_ROOT, submit_demo_case


def _all_text(app) -> str:
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error")
    return "\n".join(str(element.value) for kind in kinds for element in app.get(kind))


def test_registration_in_german_shows_and_records_the_german_text(clinic) -> None:
    from components.i18n import LANGUAGE_KEY

    german = consent_text("telemedicine", "de")
    app = AppTest.from_file(str(REPO_ROOT / "pages/register.py"), default_timeout=APP_TIMEOUT_S)
    app.session_state[LANGUAGE_KEY] = "de"
    app.run()
    assert not app.exception
    body = _all_text(app)
    # (An empty body: the page stopped early or did not compile; the tree says which.)
    assert german.title in body and german.body.splitlines()[0] in body, (body, app.main)
    assert consent_text("telemedicine", "en").title not in body
    assert german.version in body  # the caption names the version shown
    app.text_input(key="reg_name").input("Greta Gruber")
    app.text_input(key="reg_email").input("greta@example.test")
    app.text_input(key="reg_password").input("Lange-Passwort-Satz-2026")
    app.text_input(key="reg_password_confirm").input("Lange-Passwort-Satz-2026")
    app.date_input(key="reg_dob").set_value(dt.date(1979, 2, 3))
    app.checkbox(key="reg_consent").check()
    submit = [b for b in app.button if b.proto.is_form_submitter]
    assert len(submit) == 1, [b.label for b in app.button]
    submit[0].click().run()
    assert not app.exception
    row = clinic.db.fetchone(
        "SELECT c.kind, c.version, c.language, c.text_sha256 FROM consents c JOIN users u ON u.patient_id = c.patient_id"
        " WHERE u.email = ?",
        ["greta@example.test"],
    )
    assert row == ("telemedicine", german.version, "de", german.sha256)


def test_intake_in_arabic_shows_the_arabic_consent_texts(app_as, clinic) -> None:
    from components.i18n import LANGUAGE_KEY
    from components.session import TOKEN_KEY

    account = ACCOUNTS["patient"]
    app = AppTest.from_file(
        str(REPO_ROOT / "pages/patient_new_consultation.py"), default_timeout=APP_TIMEOUT_S
    )
    app.session_state[TOKEN_KEY] = clinic.auth.login(account.email, account.password).token
    app.session_state[LANGUAGE_KEY] = "ar"
    app.run()
    assert not app.exception
    body = _all_text(app)
    for kind in ("photo_storage", "anonymised_use"):
        text = consent_text(kind, "ar")
        assert text.title in body and text.body.splitlines()[0] in body
        assert consent_text(kind, "en").title not in body


def test_physician_sees_which_consent_texts_the_patient_accepted(app_as, clinic, face_photo_bgr) -> None:
    case_id = submit_demo_case(clinic, face_photo_bgr)
    app = app_as("physician", page="pages/physician_case.py", query={"case": case_id})
    assert not app.exception
    body = _all_text(app)
    assert "Consent texts the patient answered" in body
    labels: tuple[tuple[ConsentKind, str], ...] = (
        ("telemedicine", "Telemedicine consultations"),
        ("photo_storage", "Storing photos and answers"),
        ("anonymised_use", "Anonymised use of photos"),
    )
    for kind, label in labels:
        version = consent_text(kind, "en").version
        answer = "declined" if kind == "anonymised_use" else "accepted"
        assert f"{label}: {answer}" in body and f"(text version {version}, English)" in body
