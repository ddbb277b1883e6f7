"""The new-consultation page keeps its answers and accepted photos as a server-side draft: a new
session (a reload, a new log-in the next day) finds them again; Start over and sending end it."""

from __future__ import annotations

from tests.ui.conftest import ACCOUNTS

PAGE = "pages/patient_new_consultation.py"


def _texts(app, kind: str) -> list[str]:
    return [str(element.value) for element in app.get(kind)]


def _all_text(app) -> str:
    kinds = ("title", "header", "markdown", "caption", "info", "success", "warning", "error")
    return "\n".join(text for kind in kinds for text in _texts(app, kind))


def _patient(clinic):
    account = ACCOUNTS["patient"]
    return clinic.auth.login(account.email, account.password).principal


def _photos():
    from tests.foundation.conftest import required_photos

    return required_photos()


def test_typed_answers_come_back_in_a_new_session(app_as, clinic) -> None:
    app = app_as("patient", page=PAGE)
    assert not app.exception
    assert "We kept your answers" not in _all_text(app)  # nothing kept yet
    app.multiselect(key="intake_concerns").select("pigmentation_melasma").run()
    app.multiselect(key="intake_areas").select("cheeks").run()
    app.text_area(key="intake_goals").input("An even tone by summer").run()
    app.radio(key="intake_pregnant").set_value("Yes").run()
    app.checkbox(key="intake_consent_storage").check().run()
    # A reload (or the next day): a new session with nothing in memory.
    again = app_as("patient", page=PAGE)
    assert not again.exception
    assert again.multiselect(key="intake_concerns").value == ["pigmentation_melasma"]
    assert again.multiselect(key="intake_areas").value == ["cheeks"]
    assert again.text_area(key="intake_goals").value == "An even tone by summer"
    assert again.radio(key="intake_pregnant").value == "Yes"
    assert again.checkbox(key="intake_consent_storage").value is True
    assert "We kept your answers from" in _all_text(again)
    assert "An even tone by summer" not in clinic.db.scalar("SELECT answers_sealed FROM intake_drafts")


def test_kept_photos_count_and_sending_consumes_the_draft(app_as, clinic) -> None:
    from core.consult.cases import IntakeForm

    patient = _patient(clinic)
    answers = IntakeForm(
        concerns=["redness_rosacea"],
        areas=["cheeks", "nose"],
        duration="1 to 3 years",
        goals="Less redness",
        consent_photo_storage=True,
    )
    clinic.drafts.save_answers(patient, answers)
    for photo in _photos():
        clinic.drafts.save_photo(patient, photo)
    app = app_as("patient", page=PAGE)
    assert not app.exception
    assert app.radio(key="intake_duration").value == "1 to 3 years"
    progress = [str(element.proto) for element in app.get("progress")]
    assert any("3 of 3 views done" in text for text in progress), progress
    assert _texts(app, "caption").count("Kept from your saved answers.") == 3
    app.button(key="intake_submit").click().run()
    assert not app.exception
    assert "Thank you, your consultation was sent" in _all_text(app)
    assert clinic.db.scalar("SELECT count(*) FROM cases") == 1
    assert clinic.db.scalar("SELECT count(*) FROM intake_drafts") == 0
    assert clinic.drafts.load(patient) is None


def test_removing_a_kept_photo_and_starting_over(app_as, clinic) -> None:
    patient = _patient(clinic)
    front, left, _ = _photos()
    clinic.drafts.save_photo(patient, front)
    clinic.drafts.save_photo(patient, left)
    app = app_as("patient", page=PAGE)
    app.button(key="intake_photos_front_remove_kept").click().run()
    assert not app.exception
    draft = clinic.drafts.load(patient)
    assert draft is not None and set(draft.photos) == {"left_oblique"}
    app.text_area(key="intake_goals").input("Something").run()
    again = app_as("patient", page=PAGE)
    assert again.text_area(key="intake_goals").value == "Something"
    again.button(key="intake_draft_start_over").click().run()
    assert not again.exception
    assert clinic.drafts.load(patient) is None
    assert again.text_area(key="intake_goals").value in ("", None)
    assert "We kept your answers" not in _all_text(again)
