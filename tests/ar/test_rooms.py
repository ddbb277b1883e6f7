"""Consult rooms: who may join, the waiting room, ending, AR settings, audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from core.access import AccessDenied
from core.live.rooms import RoomClosed, RoomRegistry, RoomStateError


@dataclass(frozen=True)
class FakePrincipal:
    user_id: str
    role: str
    display_name: str = ""


@dataclass
class FakeAudit:
    entries: list[dict] = field(default_factory=list)

    def record(self, **entry) -> None:
        self.entries.append(entry)

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.entries]


class FakeCases:
    """Access like the real case service: own patient and any physician."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners
        self.photos: list[tuple[str, object]] = []

    def check_case_access(self, principal, case_id: str) -> str:
        if principal.role not in ("patient", "physician"):
            raise AccessDenied("wrong role")
        if case_id not in self.owners:
            raise AccessDenied("no such case")
        if principal.role == "physician" or self.owners[case_id] == principal.user_id:
            return self.owners[case_id]
        raise AccessDenied("not your case")


class FakeClinic:
    def __init__(self) -> None:
        self.audit = FakeAudit()
        self.cases = FakeCases({"case-1": "pat-1", "case-2": "pat-2"})


DOCTOR = FakePrincipal("doc-1", "physician", "Dr One")
DOCTOR_2 = FakePrincipal("doc-2", "physician", "Dr Two")
PATIENT = FakePrincipal("pat-1", "patient", "Pat One")
OTHER_PATIENT = FakePrincipal("pat-2", "patient", "Pat Two")
ADMIN = FakePrincipal("adm-1", "admin")


@pytest.fixture
def clinic() -> FakeClinic:
    return FakeClinic()


@pytest.fixture
def registry(clinic: FakeClinic) -> RoomRegistry:
    return RoomRegistry(clinic)


def test_only_a_physician_opens_a_room_with_an_unguessable_id(
    registry: RoomRegistry, clinic: FakeClinic
) -> None:
    with pytest.raises(AccessDenied):
        registry.open_room(PATIENT, "case-1")
    room = registry.open_room(DOCTOR, "case-1")
    assert len(room.room_id) >= 32
    assert registry.open_room(DOCTOR_2, "case-1").room_id == room.room_id  # one open room per case
    assert "consult.start" in clinic.audit.actions()


def test_patient_waits_until_admitted_and_is_never_alone(registry: RoomRegistry, clinic: FakeClinic) -> None:
    room = registry.open_room(DOCTOR, "case-1")
    participant = registry.join(PATIENT, room.room_id, consent_recording=True)
    assert participant.status == "waiting"
    assert not registry.may_exchange_video(PATIENT, room.room_id)
    with pytest.raises(AccessDenied):
        registry.admit(PATIENT, room.room_id, PATIENT.user_id)  # cannot admit themselves
    registry.admit(DOCTOR, room.room_id, PATIENT.user_id)
    assert registry.participant(PATIENT, room.room_id).status == "admitted"
    assert registry.may_exchange_video(PATIENT, room.room_id)
    # The physician leaves: the patient goes back to the waiting room.
    registry.leave(DOCTOR, room.room_id)
    assert registry.participant(PATIENT, room.room_id).status == "waiting"
    assert not registry.may_exchange_video(PATIENT, room.room_id)
    assert {"consult.waiting", "consult.admit", "consult.leave"} <= set(clinic.audit.actions())


def test_admitting_requires_the_physician_in_the_room_and_a_waiting_patient(registry: RoomRegistry) -> None:
    room = registry.open_room(DOCTOR, "case-1")
    with pytest.raises(RoomStateError):
        registry.admit(DOCTOR, room.room_id, PATIENT.user_id)  # not waiting yet
    registry.join(PATIENT, room.room_id)
    with pytest.raises(RoomStateError):
        registry.admit(DOCTOR_2, room.room_id, PATIENT.user_id)  # Dr Two has not joined
    registry.join(DOCTOR_2, room.room_id)
    registry.admit(DOCTOR_2, room.room_id, PATIENT.user_id)


def test_another_patient_and_other_roles_are_refused(registry: RoomRegistry) -> None:
    room = registry.open_room(DOCTOR, "case-1")
    with pytest.raises(AccessDenied):
        registry.join(OTHER_PATIENT, room.room_id)
    with pytest.raises(AccessDenied):
        registry.join(ADMIN, room.room_id)
    with pytest.raises(AccessDenied):
        registry.room_for_case(OTHER_PATIENT, "case-1")
    assert OTHER_PATIENT.user_id not in room.participants
    with pytest.raises(AccessDenied):
        registry.may_exchange_video(OTHER_PATIENT, room.room_id)


def test_ended_room_is_unusable_and_ids_are_never_reused(registry: RoomRegistry, clinic: FakeClinic) -> None:
    room = registry.open_room(DOCTOR, "case-1")
    registry.join(PATIENT, room.room_id)
    with pytest.raises(AccessDenied):
        registry.end_room(PATIENT, room.room_id)
    registry.end_room(DOCTOR, room.room_id)
    for action in (
        lambda: registry.join(PATIENT, room.room_id),
        lambda: registry.join(DOCTOR, room.room_id),
        lambda: registry.admit(DOCTOR, room.room_id, PATIENT.user_id),
        lambda: registry.update_ar(DOCTOR, room.room_id, enabled=True),
        lambda: registry.get_room(DOCTOR, room.room_id),
    ):
        with pytest.raises(RoomClosed):
            action()
    assert not registry.may_exchange_video(PATIENT, room.room_id)
    assert registry.room_for_case(PATIENT, "case-1") is None
    again = registry.open_room(DOCTOR, "case-1")
    assert again.room_id != room.room_id
    assert "consult.end" in clinic.audit.actions()
    with pytest.raises(RoomClosed):
        registry.join(PATIENT, "not-a-room")


def test_ar_settings_are_physician_only_and_shared_on_request(
    registry: RoomRegistry, clinic: FakeClinic
) -> None:
    room = registry.open_room(DOCTOR, "case-1")
    registry.join(PATIENT, room.room_id)
    with pytest.raises(AccessDenied):
        registry.update_ar(PATIENT, room.room_id, enabled=True)
    settings = registry.update_ar(
        DOCTOR, room.room_id, enabled=True, treatments={"lips": 0.6, "under-eye": 1.4}, split_view=True
    )
    assert settings.active_treatments() == {"lips": 0.6, "under_eye": 1.0}
    assert registry.ar_for_patient(room).active_treatments() == {}  # not shared yet
    registry.update_ar(DOCTOR, room.room_id, shared_with_patient=True)
    patient_view = registry.ar_for_patient(room)
    assert patient_view.active_treatments() == {"lips": 0.6, "under_eye": 1.0}
    assert not patient_view.split_view
    assert "consult.ar_share" in clinic.audit.actions()
    with pytest.raises(ValueError):
        registry.update_ar(DOCTOR, room.room_id, treatments={"nose_job": 1.0})


def test_recording_needs_request_and_patient_consent(registry: RoomRegistry) -> None:
    room = registry.open_room(DOCTOR, "case-1")
    registry.join(PATIENT, room.room_id, consent_recording=False)
    registry.admit(DOCTOR, room.room_id, PATIENT.user_id)
    assert registry.request_recording(DOCTOR, room.room_id, True) is False
    registry.join(PATIENT, room.room_id, consent_recording=True)  # consent given (asked at join)
    assert room.recording_allowed is True
    assert registry.request_recording(DOCTOR, room.room_id, False) is False


def test_snapshot_goes_into_the_case_as_a_video_snapshot_photo(
    registry: RoomRegistry, clinic: FakeClinic, monkeypatch
) -> None:
    import core.consult.photos
    import core.vision.quality

    stored = []

    def add_photo(principal, case_id, photo_input, identity_override=None):
        stored.append((principal, case_id, photo_input))
        return type("Photo", (), {"photo_id": "ph-1"})()

    clinic.cases.add_photo = add_photo
    checked = []
    report = type("Report", (), {"verdict": "warn", "to_json": lambda self: '{"verdict": "warn"}'})()
    monkeypatch.setattr(
        core.vision.quality, "check_photo", lambda image, *a, **k: checked.append(image.shape) or report
    )
    room = registry.open_room(DOCTOR, "case-1")
    frame = np.full((480, 640, 3), 120, np.uint8)
    with pytest.raises(AccessDenied):
        registry.snapshot(PATIENT, room.room_id, frame)
    photo, report = registry.snapshot(DOCTOR, room.room_id, frame)
    assert photo.photo_id == "ph-1" and report.verdict == "warn" and checked == [(480, 640, 3)]
    ((_, case_id, photo_input),) = stored
    assert case_id == "case-1" and photo_input.source == "video_snapshot"
    assert photo_input.image_bytes[:2] == b"\xff\xd8"  # a metadata-free JPEG like any upload
    assert photo_input.quality is report  # the gate ran once, on the stored bytes
    assert isinstance(photo_input, core.consult.photos.CheckedPhoto)
    assert room.snapshot_photo_ids == ["ph-1"]
    assert "consult.snapshot" in clinic.audit.actions()
