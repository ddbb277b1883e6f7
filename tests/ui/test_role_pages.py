"""The main page of each role renders real data from core (AppTest, no browser)."""

from __future__ import annotations

from tests.ui.conftest import submit_demo_case


def texts(app, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(app, kind)]


def all_text(app) -> str:
    kinds = (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "text",
        "info",
        "success",
        "warning",
        "error",
    )
    return "\n".join(text for kind in kinds for text in texts(app, kind))


def test_patient_lands_on_my_consultations_with_the_patient_menu(app_as) -> None:
    app = app_as("patient")
    assert not app.exception
    assert texts(app, "title") == ["My consultations"]
    assert "You have no consultations yet" in all_text(app)


def test_new_consultation_renders_the_intake_form(app_as) -> None:
    app = app_as("patient", page="pages/patient_new_consultation.py")
    assert not app.exception
    assert texts(app, "title") == ["New consultation"]
    concerns = app.multiselect(key="intake_concerns")
    assert "Pigmentation / melasma" in concerns.options  # people's words, not the stored code
    labels = {key: app.text_area(key=key).label for key in ("intake_medications", "intake_allergies")}
    assert labels == {
        "intake_medications": "Current medications (or 'none')",
        "intake_allergies": "Allergies (or 'none')",
    }
    for key in ("intake_description", "intake_goals", *labels):
        assert app.text_area(key=key).value in ("", None)  # empty and ready to type in
    assert app.checkbox(key="intake_consent_storage").value is False
    assert app.checkbox(key="intake_consent_anonymised").value is False
    progress_texts = [str(element.proto) for element in app.get("progress")]
    assert any("0 of 3 views done" in text for text in progress_texts), progress_texts


def test_new_consultation_without_photos_or_consent_shows_field_errors_and_keeps_input(app_as) -> None:
    app = app_as("patient", page="pages/patient_new_consultation.py")
    app.multiselect(key="intake_concerns").select("pigmentation_melasma")
    app.text_area(key="intake_goals").input("Even skin tone please")
    app.button(key="intake_submit").click().run()
    app.run()  # the page re-runs itself to show the messages beside their fields
    errors = "\n".join(texts(app, "error"))
    assert "Missing photos" in errors
    assert "Consent to photo storage is required" in errors
    assert "face area" in errors  # core's own validation message, shown too
    assert app.text_area(key="intake_goals").value == "Even skin tone please"
    assert app.multiselect(key="intake_concerns").value == ["pigmentation_melasma"]


def test_physician_queue_lists_a_submitted_case(app_as, clinic, face_photo_bgr) -> None:
    case_id = submit_demo_case(clinic, face_photo_bgr)
    reference = clinic.cases.get_case(
        clinic.auth.login("doc@example.test", "Physician-pass-123").principal, case_id
    ).reference
    app = app_as("physician")
    assert not app.exception
    assert texts(app, "title") == ["Case queue"]
    assert reference in all_text(app)
    assert "Pat Example" in all_text(app)


def test_case_page_shows_intake_photos_and_report_editor(app_as, clinic, face_photo_bgr) -> None:
    case_id = submit_demo_case(clinic, face_photo_bgr)
    app = app_as("physician", page="pages/physician_case.py", query={"case": case_id})
    assert not app.exception
    assert texts(app, "title")[0].startswith("Case C-")
    body = all_text(app)
    assert "Brown patches on the cheeks" in body
    assert "Pigmentation / melasma" in body
    assert "Please keep a neutral expression." in body  # the front photo's quality warning
    assert "Head turn +3°" in body
    assert len(app.get("imgs")) >= 1 or len(app.get("image")) >= 1
    labels = [area.label for area in app.text_area]
    for label in ("Findings", "Assessment", "Recommended treatments", "Home care"):
        assert label in labels
    # The page's own tabs, in order (the assessment card adds nested per-region tabs).
    page_tabs = ["Intake & photos", "AI pre-assessment", "Report", "AR preview", "Care plan"]
    assert [tab.label for tab in app.tabs if tab.label in page_tabs] == page_tabs


def test_physician_saves_and_sends_a_report_the_patient_then_sees(app_as, clinic, face_photo_bgr) -> None:
    case_id = submit_demo_case(clinic, face_photo_bgr)
    app = app_as("physician", page="pages/physician_case.py", query={"case": case_id})
    findings = next(area for area in app.text_area if area.label == "Findings")
    findings.input("Light-brown macules on both cheeks.")
    next(area for area in app.text_area if area.label == "Assessment").input("Melasma, epidermal type.")
    send = next(button for button in app.button if button.label == "Send report to patient")
    send.click().run()
    assert not app.exception, app.exception
    app.run()
    assert "can no longer be edited" in all_text(app)
    patient = app_as("patient")
    body = all_text(patient)
    assert "Light-brown macules on both cheeks." in body
    assert "Report sent" in body


def test_case_page_refuses_an_unknown_case(app_as, clinic) -> None:
    app = app_as("physician", page="pages/physician_case.py", query={"case": "no-such-case"})
    assert any("does not exist" in text for text in texts(app, "error"))


def test_admin_users_page_lists_accounts_and_creates_a_physician(app_as, clinic) -> None:
    app = app_as("admin")
    assert texts(app, "title") == ["Users"]
    table = app.dataframe[0].value
    assert {"doc@example.test", "admin@example.test", "pat@example.test"} <= set(table["Email"])
    app.text_input(key="staff_name").input("Dr New Colleague")
    app.text_input(key="staff_email").input("new.doc@example.test")
    app.text_input(key="staff_password").input("Colleague-pass-123")
    next(button for button in app.button if button.label == "Create account").click().run()
    assert any("created for new.doc@example.test" in text for text in texts(app, "success"))
    assert clinic.auth.login("new.doc@example.test", "Colleague-pass-123").principal.role == "physician"


def test_admin_audit_page_verifies_the_chain(app_as) -> None:
    app = app_as("admin", page="pages/admin_audit.py")
    assert texts(app, "title") == ["Audit log"]
    assert len(app.dataframe[0].value) > 0
    app.button(key="audit_verify").click().run()
    assert any("Audit chain intact" in text for text in texts(app, "success"))
