"""A half-done follow-up check-in is kept as an encrypted draft, like the intake: the same draft
service, kind "checkin", the check-in as its subject. A reload (a phone opening its camera app
reloads the tab) or coming back later finds the photos accepted so far; sending ends the draft."""

from __future__ import annotations

from core.i18n import translator
from core.vocabulary import DRAFT_CHECKIN
from tests.care.test_pages import PASSWORD, run_page, seeded  # noqa: F401 - the fixture

PAGE = "pages/patient_my_consultations.py"


def _open_checkin(clinic, patient):
    return next(c for c in clinic.care.checkins.patient_checkins(patient) if c.status == "open")


def _front_photo(clinic, patient, case_id: str) -> bytes:
    """The case's own front photo (the baseline), as the patient would take it again."""
    baseline = clinic.care.treatments.baseline_photos(patient, case_id)
    return clinic.cases.get_photo_bytes(patient, baseline["front"])


def test_checkin_drafts_are_kept_per_checkin_apart_from_the_intake(seeded) -> None:  # noqa: F811
    from tests.photo_factory import checked_photo

    clinic, patient = seeded["clinic"], seeded["patient"]
    checkin = _open_checkin(clinic, patient)
    photo = checked_photo("front", _front_photo(clinic, patient, seeded["case_id"]))
    clinic.drafts.save_photo(patient, photo, DRAFT_CHECKIN, checkin.checkin_id)
    # A new log-in (the next day): the check-in's photo is there, and only there.
    fresh = clinic.auth.login("pat@example.test", PASSWORD).principal
    draft = clinic.drafts.load(fresh, DRAFT_CHECKIN, checkin.checkin_id)
    assert draft is not None and set(draft.photos) == {"front"}
    assert draft.photos["front"].image_bytes == photo.image_bytes
    assert clinic.drafts.load(fresh) is None  # the intake's draft is another one
    assert clinic.drafts.load(fresh, DRAFT_CHECKIN, "another-checkin") is None
    assert clinic.db.scalar("SELECT kind FROM intake_drafts") == DRAFT_CHECKIN
    assert clinic.drafts.discard(fresh, DRAFT_CHECKIN, checkin.checkin_id) is True
    assert clinic.db.scalar("SELECT count(*) FROM intake_draft_photos") == 0


def test_checkin_photos_come_back_after_a_reload_and_sending_ends_the_draft(seeded) -> None:  # noqa: F811
    from components.intake_draft import save_checkin_photos
    from tests.photo_factory import checked_photo

    clinic, patient = seeded["clinic"], seeded["patient"]
    checkin = _open_checkin(clinic, patient)
    fr = translator("fr")  # the patient registered in French
    app = run_page(clinic, "pat@example.test", PAGE)
    assert not app.exception, app.exception
    assert fr("Kept from your saved answers.") not in [c.value for c in app.caption]
    # The photo the gate accepted in this session, saved as the page saves it after each run.
    photo = checked_photo("front", _front_photo(clinic, patient, seeded["case_id"]))
    save_checkin_photos(patient, clinic, checkin.checkin_id, {"front": photo})
    # A reload: a new session with nothing in memory.
    again = run_page(clinic, "pat@example.test", PAGE)
    assert not again.exception, again.exception
    assert fr("Kept from your saved answers.") in [c.value for c in again.caption]
    send = next(b for b in again.button if b.label == fr("Send check-in photos"))
    assert not send.disabled  # the kept photo counts: the check-in can be sent
    sent = send.click().run()
    assert not sent.exception, sent.exception
    assert clinic.care.checkins.get_checkin(patient, checkin.checkin_id).status == "submitted"
    assert clinic.drafts.load(patient, DRAFT_CHECKIN, checkin.checkin_id) is None  # the draft ended
    assert clinic.db.scalar("SELECT count(*) FROM intake_drafts") == 0
