"""Intake drafts (core/consult/drafts.py): kept as the patient goes, encrypted at rest, restored
in a new session, consumed by the submission in its own transaction, expired, erased."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.access import AccessDenied, ValidationError
from core.clinic import Clinic
from core.consult.drafts import draft_id, empty_answers
from core.recovery import owned_blob_ids, sweep_orphans

from .conftest import PASSWORD, Accounts, FakeClock, required_photos, valid_intake

SECRET = "Unmistakable-draft-concern-5309"


def _blob_count(clinic: Clinic) -> int:
    return len(clinic.blobs.list_ids())


def _draft_rows(clinic: Clinic) -> tuple[int, int]:
    return (
        clinic.db.scalar("SELECT count(*) FROM intake_drafts"),
        clinic.db.scalar("SELECT count(*) FROM intake_draft_photos"),
    )


def test_answers_and_photos_survive_a_new_session(clinic: Clinic, accounts: Accounts) -> None:
    front, left, _ = required_photos()
    clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=SECRET, consent_photo_storage=False))
    clinic.drafts.save_photo(accounts.patient_a, front)
    clinic.drafts.save_photo(accounts.patient_a, left)
    # The next day, a new log-in: a new session, nothing in memory.
    fresh = clinic.auth.login("alice@example.test", PASSWORD).principal
    draft = clinic.drafts.load(fresh)
    assert draft is not None and not draft.empty
    assert draft.answers.goals == SECRET and draft.answers.concerns == ["pigmentation_melasma"]
    assert draft.answers.consent_photo_storage is False  # a half-filled form, as it was
    assert set(draft.photos) == {"front", "left_oblique"}
    restored = draft.photos["front"]
    assert restored.image_bytes == front.image_bytes  # the very bytes the gate checked
    assert restored.quality.to_json() == front.quality.to_json() and restored.source == front.source
    assert (restored.width, restored.height, restored.mime) == (front.width, front.height, front.mime)
    # Another patient sees only their own (none).
    assert clinic.drafts.load(accounts.patient_b) is None


def test_a_replaced_photo_and_a_removed_one_leave_no_blob_behind(clinic: Clinic, accounts: Accounts) -> None:
    first, _, _ = required_photos(seed=0)
    second, _, _ = required_photos(seed=5)
    clinic.drafts.save_photo(accounts.patient_a, first)
    clinic.drafts.save_photo(accounts.patient_a, second)  # the same view again: replaces it
    draft = clinic.drafts.load(accounts.patient_a)
    assert draft is not None and draft.photos["front"].image_bytes == second.image_bytes
    assert _draft_rows(clinic) == (1, 1) and _blob_count(clinic) == 1
    assert clinic.drafts.remove_photo(accounts.patient_a, "front") is True
    assert clinic.drafts.remove_photo(accounts.patient_a, "front") is False
    assert _draft_rows(clinic) == (1, 0) and _blob_count(clinic) == 0


def test_saving_again_keeps_one_draft_per_patient(clinic: Clinic, accounts: Accounts) -> None:
    for goals in ("first", "second", "third"):
        clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=goals))
    assert _draft_rows(clinic) == (1, 0)
    draft = clinic.drafts.load(accounts.patient_a)
    assert draft is not None and draft.answers.goals == "third"


def test_start_over_discards_the_draft_and_its_photos(clinic: Clinic, accounts: Accounts) -> None:
    clinic.drafts.save_answers(accounts.patient_a, valid_intake())
    clinic.drafts.save_photo(accounts.patient_a, required_photos()[0])
    assert clinic.drafts.discard(accounts.patient_a) is True
    assert clinic.drafts.load(accounts.patient_a) is None
    assert _draft_rows(clinic) == (0, 0) and _blob_count(clinic) == 0
    assert clinic.drafts.discard(accounts.patient_a) is False


def test_submitting_consumes_the_draft_in_the_same_transaction(clinic: Clinic, accounts: Accounts) -> None:
    photos = required_photos()
    clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=SECRET))
    for photo in photos:
        clinic.drafts.save_photo(accounts.patient_a, photo)
    draft = clinic.drafts.load(accounts.patient_a)
    assert draft is not None
    case_id = clinic.drafts.submit_case(
        accounts.patient_a, valid_intake(goals=SECRET), list(draft.photos.values())
    )
    assert clinic.drafts.load(accounts.patient_a) is None and _draft_rows(clinic) == (0, 0)
    stored = clinic.cases.get_case(accounts.patient_a, case_id)
    assert stored.intake.goals == SECRET and len(stored.photos) == 3
    # Exactly the case's three photo blobs remain: the draft's copies are gone, none is lost.
    assert set(clinic.blobs.list_ids()) == owned_blob_ids(clinic.db) and _blob_count(clinic) == 3


def test_a_refused_submission_keeps_the_draft(clinic: Clinic, accounts: Accounts) -> None:
    front = required_photos()[0]
    clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=SECRET))
    clinic.drafts.save_photo(accounts.patient_a, front)
    with pytest.raises(ValidationError):  # two views missing
        clinic.drafts.submit_case(accounts.patient_a, valid_intake(goals=SECRET), [front])
    draft = clinic.drafts.load(accounts.patient_a)
    assert draft is not None and draft.answers.goals == SECRET and set(draft.photos) == {"front"}
    assert clinic.db.scalar("SELECT count(*) FROM cases") == 0


def test_a_failing_transaction_rolls_back_case_and_draft_deletion(clinic: Clinic, accounts: Accounts) -> None:
    photos = required_photos()
    clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=SECRET))
    clinic.drafts.save_photo(accounts.patient_a, photos[0])

    def consume_then_fail(tx: object) -> None:
        clinic.drafts.consume(tx, draft_id(accounts.patient_a.patient_id or "", "new_consultation"))  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), photos, in_transaction=consume_then_fail)
    assert clinic.db.scalar("SELECT count(*) FROM cases") == 0
    draft = clinic.drafts.load(accounts.patient_a)
    assert draft is not None and draft.photos["front"].image_bytes == photos[0].image_bytes
    assert _blob_count(clinic) == 1  # the draft's photo; the case's blobs were removed again


def test_drafts_expire_after_the_retention(clinic: Clinic, accounts: Accounts, clock: FakeClock) -> None:
    clinic.drafts.save_answers(accounts.patient_a, valid_intake())
    clinic.drafts.save_photo(accounts.patient_a, required_photos()[0])
    clinic.drafts.save_answers(accounts.patient_b, valid_intake())
    assert clinic.drafts.retention.days == clinic.settings.draft_retention_days == 30
    clock.advance(days=29)
    clinic.drafts.save_answers(accounts.patient_b, valid_intake(goals="still here"))  # a change renews it
    clock.advance(days=2)
    # The orphan sweep removes the expired draft and its photo; the renewed one stays.
    report = sweep_orphans(clinic)
    assert report.expired_drafts == 1
    assert clinic.drafts.load(accounts.patient_a) is None
    kept = clinic.drafts.load(accounts.patient_b)
    assert kept is not None and kept.answers.goals == "still here"
    assert _draft_rows(clinic) == (1, 0) and _blob_count(clinic) == 0
    # Without the sweep, an expired draft is not restored either (and is removed then).
    clock.advance(days=31)
    assert clinic.drafts.load(accounts.patient_b) is None and _draft_rows(clinic) == (0, 0)


def test_erasing_a_patient_removes_their_drafts_and_photos(clinic: Clinic, accounts: Accounts) -> None:
    clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=SECRET))
    clinic.drafts.save_photo(accounts.patient_a, required_photos()[0])
    clinic.drafts.save_answers(accounts.patient_b, valid_intake())
    patient_id = accounts.patient_a.patient_id
    assert patient_id
    result = clinic.exports.erase_patient(accounts.admin, patient_id)
    assert (
        result.rows_deleted.get("intake_drafts") == 1 and result.rows_deleted.get("intake_draft_photos") == 1
    )
    assert _draft_rows(clinic) == (1, 0) and _blob_count(clinic) == 0
    assert patient_id in clinic.erasure_ledger.erased_ids()


def test_draft_photos_are_owned_blobs_the_sweep_keeps(
    clinic: Clinic, accounts: Accounts, clock: FakeClock
) -> None:
    clinic.drafts.save_photo(accounts.patient_a, required_photos()[0])
    clock.advance(days=2)  # older than the sweep's grace, younger than the draft's retention
    report = sweep_orphans(clinic)
    assert report.orphan_blobs == [] and _blob_count(clinic) == 1


def test_only_patients_have_drafts_and_failed_photos_are_not_kept(clinic: Clinic, accounts: Accounts) -> None:
    with pytest.raises(AccessDenied):
        clinic.drafts.save_answers(accounts.physician, empty_answers())
    with pytest.raises(AccessDenied):
        clinic.drafts.load(accounts.admin)
    from tests.photo_factory import checked_photo

    failing = checked_photo("front", required_photos()[0].image_bytes, verdict="fail")
    with pytest.raises(ValueError):
        clinic.drafts.save_photo(accounts.patient_a, failing)
    assert _blob_count(clinic) == 0


def test_a_draft_is_not_readable_at_rest(clinic: Clinic, accounts: Accounts) -> None:
    clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=SECRET, concern_other_text=SECRET))
    clinic.drafts.save_photo(accounts.patient_a, required_photos()[0])
    # The answers are sealed before they reach the (encrypted) database: not even the column holds them.
    sealed = clinic.db.scalar("SELECT answers_sealed FROM intake_drafts")
    assert SECRET not in sealed
    clinic.close()
    data_dir = Path(clinic.settings.data_dir)
    for path in (p for p in data_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert SECRET.encode() not in content, path
        assert b"JFIF" not in content or path.suffix != ".blob", path


def test_a_sealed_draft_moved_to_another_patient_does_not_open(clinic: Clinic, accounts: Accounts) -> None:
    clinic.drafts.save_answers(accounts.patient_a, valid_intake(goals=SECRET))
    clinic.drafts.save_answers(accounts.patient_b, valid_intake())
    a = draft_id(accounts.patient_a.patient_id or "", "new_consultation")
    b = draft_id(accounts.patient_b.patient_id or "", "new_consultation")
    clinic.db.execute(
        "UPDATE intake_drafts SET answers_sealed = (SELECT answers_sealed FROM intake_drafts WHERE id = ?) WHERE id = ?",
        [a, b],
    )
    from core.crypto import DecryptionError

    with pytest.raises(DecryptionError):
        clinic.drafts.load(accounts.patient_b)
