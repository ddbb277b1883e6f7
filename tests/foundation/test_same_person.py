"""Storage keeps one person per case: a consultation, a check-in and a physician's snapshot of
someone else are refused (the physician may override with an audited reason); embeddings are
never stored, so erasing the patient leaves nothing biometric (issue 13, "The same person").

Real photos from ../shared/testdata: person A is the selfie video's man (a photo and frames),
person B another man; embeddings are computed once per module.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.care.followup import PlannedCheckIn
from core.care.records import TreatmentInput
from core.clinic import Clinic
from core.consult.cases import IdentityMismatch
from core.consult.photos import CheckedPhoto, PhotoIdentity, encode_rgb, intake_photo
from core.vision.identity import PHYSICIAN_REFUSAL, face_embedding
from core.vocabulary import PhotoSource
from tests.foundation.conftest import Accounts, valid_intake
from tests.photo_factory import checked_photo
from tests.video_frames import frames_at

VIEWS = ("front", "left_oblique", "right_oblique")
LEFT_REFUSED = (
    "The left side photo seems to show a different person from the front photo. Please retake it yourself."
)


@dataclasses.dataclass(frozen=True)
class Picture:
    jpeg: bytes  # clean (metadata-free) JPEG
    identity: PhotoIdentity


@pytest.fixture(scope="module")
def pictures(shared_testdata: Path) -> dict[str, Picture]:
    images = {
        "a_front": cv2.imread(str(shared_testdata / "faces/webcam_selfie_glasses_47.jpg")),
        "b": cv2.imread(str(shared_testdata / "faces/frontal_goodlight_older_male_02.jpg")),
        "skin": cv2.imread(str(shared_testdata / "skin/acne_forehead_02.jpg")),
    }
    frames = frames_at(shared_testdata / "video/face_selfie_glasses_360x640.mp4", (0, 120, 230))
    images.update({"a_left": frames[0], "a_right": frames[230], "a_later": frames[120]})
    out = {}
    for name, image in images.items():
        assert image is not None, name
        out[name] = Picture(
            encode_rgb(np.ascontiguousarray(image[:, :, ::-1])), PhotoIdentity(face_embedding(image))
        )
    assert out["skin"].identity.embedding is None and out["b"].identity.embedding is not None
    return out


def photo(
    pictures: dict[str, Picture], name: str, view: str, source: PhotoSource = "upload", computed: bool = True
) -> CheckedPhoto:
    """A checked photo of `name`; `computed=False` leaves the embedding to storage (as a photo
    built outside the intake would)."""
    built = checked_photo(view, pictures[name].jpeg, source=source)
    return dataclasses.replace(built, identity=pictures[name].identity) if computed else built


def _case_of_a(clinic: Clinic, accounts: Accounts, pictures: dict[str, Picture]) -> str:
    photos = [
        photo(pictures, name, view)
        for name, view in zip(("a_front", "a_left", "a_right"), VIEWS, strict=True)
    ]
    return clinic.cases.submit_case(accounts.patient_a, valid_intake(), photos)


def test_the_intake_computes_the_embedding_on_the_stored_pixels(pictures) -> None:
    face = intake_photo(pictures["a_front"].jpeg, "front")
    assert face.identity is not None and face.identity.embedding is not None
    close_up = intake_photo(pictures["skin"].jpeg, "close_up")
    assert close_up.identity == PhotoIdentity(None)  # computed: no face, nothing to judge


def test_one_person_with_a_skin_close_up_is_accepted(clinic: Clinic, accounts: Accounts, pictures) -> None:
    photos = [
        photo(pictures, name, view)
        for name, view in zip(("a_front", "a_left", "a_right"), VIEWS, strict=True)
    ]
    photos.append(photo(pictures, "skin", "close_up"))
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), photos)
    assert len(clinic.cases.list_photos(accounts.patient_a, case_id)) == 4


def test_a_case_mixing_two_people_is_refused_and_stores_nothing(
    clinic: Clinic, accounts: Accounts, pictures
) -> None:
    # Built outside the intake: storage computes the embeddings itself (no bypass).
    mixed = [
        photo(pictures, "a_front", "front", computed=False),
        photo(pictures, "b", "left_oblique", computed=False),
        photo(pictures, "a_right", "right_oblique", computed=False),
    ]
    with pytest.raises(IdentityMismatch) as refused:
        clinic.cases.submit_case(accounts.patient_a, valid_intake(), mixed)
    assert refused.value.errors == {"photo_left_oblique": LEFT_REFUSED}
    (refusal,) = refused.value.refusals
    assert refusal.match.score < refusal.match.threshold
    assert clinic.db.scalar("SELECT count(*) FROM cases") == 0
    assert clinic.blobs.list_ids() == []
    assert "photo.identity_refused" in clinic.audit.actions()


def _open_checkin(clinic: Clinic, accounts: Accounts, case_id: str) -> str:
    plan = [PlannedCheckIn(date.today(), "3-view check-in", VIEWS)]
    _, (checkin,) = clinic.care.treatments.record_treatment(
        accounts.physician, case_id, TreatmentInput("filler", "lips", date.today()), plan
    )
    return checkin.checkin_id


def test_a_checkin_must_show_the_baselines_person(clinic: Clinic, accounts: Accounts, pictures) -> None:
    case_id = _case_of_a(clinic, accounts, pictures)
    checkin_id = _open_checkin(clinic, accounts, case_id)
    photos_before = clinic.db.scalar("SELECT count(*) FROM photos")
    someone_else = {
        "front": photo(pictures, "b", "front"),
        "left_oblique": photo(pictures, "a_later", "left_oblique"),
        "right_oblique": photo(pictures, "a_right", "right_oblique"),
    }
    with pytest.raises(IdentityMismatch) as refused:
        clinic.care.checkins.submit_checkin(accounts.patient_a, checkin_id, someone_else)
    assert set(refused.value.errors) == {"photo_front"}
    assert (
        "different person from the first photos of this consultation" in refused.value.errors["photo_front"]
    )
    assert clinic.db.scalar("SELECT count(*) FROM photos") == photos_before
    assert clinic.care.checkins.get_checkin(accounts.patient_a, checkin_id).status == "open"

    same = {**someone_else, "front": photo(pictures, "a_later", "front")}
    sent = clinic.care.checkins.submit_checkin(accounts.patient_a, checkin_id, same)
    assert sent.status == "submitted"


def test_a_physician_may_add_someone_elses_snapshot_only_with_a_reason(
    clinic: Clinic, accounts: Accounts, pictures
) -> None:
    case_id = _case_of_a(clinic, accounts, pictures)
    snapshot = photo(pictures, "b", "front", source="video_snapshot")
    with pytest.raises(IdentityMismatch) as refused:
        clinic.cases.add_photo(accounts.physician, case_id, snapshot)
    assert refused.value.errors == {"photo_front": PHYSICIAN_REFUSAL}
    with pytest.raises(IdentityMismatch):
        clinic.cases.add_photo(accounts.physician, case_id, snapshot, identity_override="   ")

    stored = clinic.cases.add_photo(
        accounts.physician, case_id, snapshot, identity_override="Patient's new glasses and beard."
    )
    assert stored.source == "video_snapshot"
    (entry,) = [
        e for e in clinic.audit.entries_for_object("case", case_id) if e.action == "photo.identity_override"
    ]
    assert entry.detail["reason"] == "Patient's new glasses and beard."
    assert entry.detail["views"] == ["front"] and entry.detail["photo_ids"] == [stored.photo_id]

    # The same person's snapshot needs no reason; a patient cannot override at all.
    clinic.cases.add_photo(
        accounts.physician, case_id, photo(pictures, "a_later", "front", source="video_snapshot")
    )
    with pytest.raises(IdentityMismatch):
        clinic.cases.add_photo(
            accounts.patient_a, case_id, photo(pictures, "b", "front"), identity_override="me"
        )


def test_no_embedding_is_stored_and_erasure_leaves_nothing(
    clinic: Clinic, accounts: Accounts, pictures
) -> None:
    case_id = _case_of_a(clinic, accounts, pictures)
    with pytest.raises(IdentityMismatch):
        clinic.cases.add_photo(accounts.patient_a, case_id, photo(pictures, "b", "front"))
    clinic.cases.add_photo(accounts.patient_a, case_id, photo(pictures, "a_later", "front"))
    # Every blob is a photo: no embedding blob, no embedding column, no vector in the audit log.
    photo_blobs = {row[0] for row in clinic.db.fetchall("SELECT blob_id FROM photos")}
    assert set(clinic.blobs.list_ids()) == photo_blobs and len(photo_blobs) == 4
    columns = clinic.db.fetchall(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE lower(column_name) LIKE '%embedding%' OR lower(column_name) LIKE '%biometric%'"
    )
    assert columns == []
    refused = [
        e for e in clinic.audit.entries_for_object("case", case_id) if e.action == "photo.identity_refused"
    ]
    assert refused and set(refused[0].detail) == {"views", "scores", "threshold"}

    clinic.exports.erase_patient(accounts.admin, str(accounts.patient_a.patient_id))
    assert clinic.blobs.list_ids() == []
    assert clinic.db.scalar("SELECT count(*) FROM photos") == 0
