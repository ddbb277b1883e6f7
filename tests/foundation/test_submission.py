"""Submission is atomic: a failure anywhere leaves no case, no rows and no blobs."""

from __future__ import annotations

import dataclasses
import json

import pytest

from core.access import ValidationError
from core.clinic import Clinic
from core.consult.cases import CaseService, IntakeForm
from core.consult.photos import intake_photo

from .conftest import Accounts, make_jpeg, required_photos, valid_intake


def _counts(clinic: Clinic) -> tuple[int, int, int, int]:
    one = clinic.db.fetchone
    return (
        one("SELECT count(*) FROM cases")[0],
        one("SELECT count(*) FROM photos")[0],
        one("SELECT count(*) FROM case_status_history")[0],
        len(clinic.blobs.list_ids()),
    )


def test_failure_inside_the_transaction_leaves_nothing(
    clinic: Clinic, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CaseService._insert_photos

    def fail_after_inserting(self, tx, *args, **kwargs):
        original(self, tx, *args, **kwargs)  # rows really written inside the transaction ...
        raise RuntimeError("simulated crash")  # ... then the failure

    monkeypatch.setattr(CaseService, "_insert_photos", fail_after_inserting)
    with pytest.raises(RuntimeError, match="simulated crash"):
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    assert _counts(clinic) == (0, 0, 0, 0)
    assert "case.submit" not in clinic.audit.actions()


def test_failure_while_writing_blobs_leaves_nothing(
    clinic: Clinic, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put = clinic.blobs.put
    calls = {"n": 0}

    def flaky_put(data: bytes) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real_put(data)

    monkeypatch.setattr(clinic.blobs, "put", flaky_put)
    with pytest.raises(OSError, match="disk full"):
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    assert _counts(clinic) == (0, 0, 0, 0)
    assert [p for p in clinic.settings.blob_dir.rglob("*") if p.is_file()] == []


def test_successful_submission_stores_everything(clinic: Clinic, accounts: Accounts) -> None:
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    assert _counts(clinic) == (1, 3, 1, 3)
    detail = clinic.cases.get_case(accounts.patient_a, case_id)
    assert [p.view for p in detail.photos] == ["front", "left_oblique", "right_oblique"]
    assert detail.intake == valid_intake()
    assert detail.reference.startswith("C-")
    consents = clinic.db.fetchall(
        "SELECT kind, granted FROM consents WHERE case_id = ? ORDER BY kind", [case_id]
    )
    assert consents == [("anonymised_use", False), ("photo_storage", True)]


@pytest.mark.parametrize(
    ("intake", "field"),
    [
        (valid_intake(concerns=[]), "concerns"),
        (valid_intake(concerns=["tattoo_removal"]), "concerns"),
        (valid_intake(concerns=["other"]), "concern_other_text"),
        (valid_intake(areas=[]), "areas"),
        (valid_intake(duration=" "), "duration"),
        (valid_intake(skin_type_self_assessment="VII"), "skin_type_self_assessment"),
        (valid_intake(consent_photo_storage=False), "consent_photo_storage"),
        (valid_intake(prior_treatments=[{"treatment": "", "date": "2024-01"}]), "prior_treatments"),
        (valid_intake(prior_treatments=[{"treatment": "botox", "date": "last spring"}]), "prior_treatments"),
    ],
)
def test_invalid_intake_is_refused_per_field(
    clinic: Clinic, accounts: Accounts, intake: IntakeForm, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        clinic.cases.submit_case(accounts.patient_a, intake, required_photos())
    assert field in caught.value.errors
    assert _counts(clinic) == (0, 0, 0, 0)


def test_required_views_unique_views_and_readable_photos(clinic: Clinic, accounts: Accounts) -> None:
    photos = required_photos()
    with pytest.raises(ValidationError, match="right oblique"):
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), photos[:2])
    with pytest.raises(ValidationError, match="only once"):
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), [*photos, photos[0]])
    broken = [*photos[:2], dataclasses.replace(photos[2], image_bytes=b"not an image")]
    with pytest.raises(ValidationError) as caught:
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), broken)
    assert "photo_right_oblique" in caught.value.errors
    assert _counts(clinic) == (0, 0, 0, 0)


def test_metadata_never_reaches_storage(clinic: Clinic, accounts: Accounts) -> None:
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    exif[ExifTags.Base.Make] = "LeakyPhoneMaker"
    leaky = make_jpeg(exif=exif.tobytes())
    # A caller that skipped the intake's cleaning is refused, and nothing is stored ...
    smuggled = [dataclasses.replace(p, image_bytes=leaky) for p in required_photos()]
    with pytest.raises(ValidationError) as caught:
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), smuggled)
    assert "hidden details" in caught.value.errors["photo_front"]
    assert _counts(clinic) == (0, 0, 0, 0)
    # ... and what the intake returns is clean: stored without a second re-encode.
    cleaned = intake_photo(leaky, "front")
    assert b"LeakyPhoneMaker" not in cleaned.image_bytes
    photos = [dataclasses.replace(p, image_bytes=cleaned.image_bytes) for p in required_photos()]
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), photos)
    stored = clinic.cases.get_photo_bytes(
        accounts.patient_a, clinic.cases.list_photos(accounts.patient_a, case_id)[0].photo_id
    )
    assert b"LeakyPhoneMaker" not in stored and b"Exif" not in stored


def test_core_refuses_a_photo_the_gate_failed_and_says_what_to_fix(
    clinic: Clinic, accounts: Accounts
) -> None:
    from tests.photo_factory import INSTRUCTION, checked_photo

    photos = required_photos()
    failed = checked_photo("left_oblique", photos[1].image_bytes, verdict="fail")
    with pytest.raises(ValidationError) as caught:
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), [photos[0], failed, photos[2]])
    assert INSTRUCTION in caught.value.errors["photo_left_oblique"]
    assert _counts(clinic) == (0, 0, 0, 0)


def test_the_stored_photo_is_the_checked_photo_byte_for_byte(
    clinic: Clinic, accounts: Accounts, face_photo_bgr
) -> None:
    import cv2

    raw = cv2.imencode(".png", face_photo_bgr)[1].tobytes()
    front = intake_photo(raw, "front")
    assert front.usable and front.image_bytes != raw  # cleaned (re-encoded once) by the intake
    photos = [front, *required_photos()[1:]]
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), photos)
    stored = clinic.cases.list_photos(accounts.patient_a, case_id)
    front_meta = next(p for p in stored if p.view == "front")
    assert clinic.cases.get_photo_bytes(accounts.patient_a, front_meta.photo_id) == front.image_bytes
    assert front_meta.quality_verdict == front.verdict
    assert json.loads(front_meta.quality_json)["checks"] == front.quality.to_dict()["checks"]


def test_a_stored_photo_reads_its_quality_back_as_the_gate_s_type(
    clinic: Clinic, accounts: Accounts, face_photo_bgr
) -> None:
    import cv2

    front = intake_photo(cv2.imencode(".jpg", face_photo_bgr)[1].tobytes(), "front")
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), [front, *required_photos()[1:]])
    stored = next(p for p in clinic.cases.list_photos(accounts.patient_a, case_id) if p.view == "front")
    assert stored.quality is not None
    assert stored.quality.verdict == front.verdict
    assert stored.quality.instructions() == front.quality.instructions()
    assert [c.name for c in stored.quality.checks] == [c.name for c in front.quality.checks]
