"""Rooms against the real Clinic: case access from the case service, entries in the audit log."""

from __future__ import annotations

import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.access import SYSTEM_PRINCIPAL, AccessDenied
from core.live.rooms import RoomClosed, RoomRegistry


@pytest.fixture
def clinic_with_case(data_dir: Path, face_photo_bgr: np.ndarray):
    from core.clinic import Clinic
    from core.config import Settings
    from core.consult.cases import REQUIRED_VIEWS, IntakeForm
    from core.consult.photos import encode_rgb
    from tests.photo_factory import checked_photo

    clinic = Clinic.open(Settings.from_env())
    people = {}
    for key, email in (("patient", "p1@example.test"), ("other", "p2@example.test")):
        people[key] = clinic.auth.register_patient(
            email=email, password="Long-Enough-Pass-123", name=f"Patient {key}",
            date_of_birth=datetime.date(1980, 1, 1), language="en", timezone="Europe/Amsterdam",
            accepted_telemedicine_consent=True,
        )  # fmt: skip
    people["doctor"] = clinic.auth.create_staff(
        SYSTEM_PRINCIPAL,
        role="physician",
        email="doc@example.test",
        name="Dr D",
        password="Long-Enough-Pass-123",
    )
    rgb = cv2.cvtColor(face_photo_bgr, cv2.COLOR_BGR2RGB)
    intake = IntakeForm(
        concerns=["lines_wrinkles"], areas=["lips"], duration="1 year", consent_photo_storage=True
    )
    case_id = clinic.cases.submit_case(
        people["patient"],
        intake,
        [checked_photo(view, encode_rgb(rgb)) for view in REQUIRED_VIEWS],
    )
    assessments = getattr(clinic, "assessments", None)
    if assessments is not None:  # the AI pre-assessment of the new case runs in the background
        assessments.wait_idle(120)
    try:
        yield clinic, people, case_id
    finally:
        clinic.close()


def test_room_lifecycle_with_the_real_case_service_and_audit_log(clinic_with_case) -> None:
    clinic, people, case_id = clinic_with_case
    registry = RoomRegistry(clinic)
    room = registry.open_room(people["doctor"], case_id)
    with pytest.raises(AccessDenied):
        registry.join(people["other"], room.room_id)
    registry.join(people["patient"], room.room_id, consent_recording=True)
    registry.admit(people["doctor"], room.room_id, people["patient"].user_id)
    assert registry.may_exchange_video(people["patient"], room.room_id)
    registry.end_room(people["doctor"], room.room_id)
    with pytest.raises(RoomClosed):
        registry.join(people["patient"], room.room_id)
    actions = clinic.audit.actions()
    for action in ("consult.start", "consult.join", "consult.waiting", "consult.admit", "consult.end"):
        assert action in actions
    entries = clinic.audit.entries_for_object("consult_room", case_id)
    assert [e.action for e in entries][0] == "consult.start"
    assert all(room.room_id not in str(e.detail) for e in entries)  # only a prefix of the id is logged
    assert clinic.audit.verify().ok


def test_snapshot_is_stored_in_the_case_with_its_quality_verdict(clinic_with_case, face_photo_bgr) -> None:
    clinic, people, case_id = clinic_with_case
    registry = RoomRegistry(clinic)
    room = registry.open_room(people["doctor"], case_id)
    frame = cv2.resize(face_photo_bgr, (640, 768))
    photo, report = registry.snapshot(people["doctor"], room.room_id, frame)
    photos = clinic.cases.list_photos(people["doctor"], case_id)
    stored = next(p for p in photos if p.photo_id == photo.photo_id)
    assert stored.source == "video_snapshot"
    assert stored.quality_verdict in ("pass", "warn", "fail")
    assert "consult.snapshot" in clinic.audit.actions()


def test_a_snapshot_of_someone_else_needs_the_physicians_reason(
    clinic_with_case, shared_testdata: Path
) -> None:
    from core.consult.cases import IdentityMismatch

    clinic, people, case_id = clinic_with_case
    registry = RoomRegistry(clinic)
    room = registry.open_room(people["doctor"], case_id)
    stranger = cv2.imread(str(shared_testdata / "faces/frontal_goodlight_older_male_02.jpg"))
    assert stranger is not None
    before = len(clinic.cases.list_photos(people["doctor"], case_id))
    with pytest.raises(IdentityMismatch):
        registry.snapshot(people["doctor"], room.room_id, stranger)
    assert len(clinic.cases.list_photos(people["doctor"], case_id)) == before
    photo, _report = registry.snapshot(
        people["doctor"], room.room_id, stranger, identity_override="Same patient, new beard."
    )
    assert photo.photo_id in {p.photo_id for p in clinic.cases.list_photos(people["doctor"], case_id)}
    assert "photo.identity_override" in clinic.audit.actions()
