"""RoomRegistry.waiting_for_physician: who waits in which of a physician's live consults."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.access import AccessDenied
from core.live.rooms import RoomRegistry


@dataclass(frozen=True)
class Someone:
    user_id: str
    role: str
    display_name: str = ""


class Audit:
    def record(self, **entry: object) -> None:
        pass


class Cases:
    owners = {"case-1": "pat-1", "case-2": "pat-2"}

    def check_case_access(self, principal: Someone, case_id: str) -> str:
        if principal.role == "physician" or self.owners.get(case_id) == principal.user_id:
            return self.owners[case_id]
        raise AccessDenied("not your case")


class Clinic:
    audit = Audit()
    cases = Cases()


DOCTOR = Someone("doc-1", "physician", "Dr One")
COLLEAGUE = Someone("doc-2", "physician", "Dr Two")
PATIENT = Someone("pat-1", "patient", "Pat One")
OTHER_PATIENT = Someone("pat-2", "patient", "Pat Two")


def test_a_waiting_patient_shows_for_the_physician_of_the_room_until_admitted() -> None:
    registry = RoomRegistry(Clinic())
    room = registry.open_room(DOCTOR, "case-1")
    assert registry.waiting_for_physician(DOCTOR) == []  # open, nobody waiting yet
    registry.join(PATIENT, room.room_id)
    ((found, waiting),) = registry.waiting_for_physician(DOCTOR)
    assert found.room_id == room.room_id and [p.display_name for p in waiting] == ["Pat One"]
    waiting[0].status = "admitted"  # a copy: the caller cannot change the room
    assert registry.waiting_for_physician(DOCTOR)[0][1][0].status == "waiting"
    assert registry.waiting_for_physician(COLLEAGUE) == []  # not their consult
    registry.admit(DOCTOR, room.room_id, PATIENT.user_id)
    assert registry.waiting_for_physician(DOCTOR) == []


def test_waiting_again_after_the_physician_left_and_gone_when_the_room_ends() -> None:
    registry = RoomRegistry(Clinic())
    first = registry.open_room(DOCTOR, "case-1")
    second = registry.open_room(COLLEAGUE, "case-2")
    registry.join(DOCTOR, second.room_id)  # helps a colleague: their waiting patients count too
    for patient, room in ((PATIENT, first), (OTHER_PATIENT, second)):
        registry.join(patient, room.room_id)
    assert [r.room_id for r, _ in registry.waiting_for_physician(DOCTOR)] == [first.room_id, second.room_id]
    registry.admit(DOCTOR, first.room_id, PATIENT.user_id)
    registry.leave(DOCTOR, first.room_id)  # the patient goes back to waiting
    assert first.room_id in [r.room_id for r, _ in registry.waiting_for_physician(DOCTOR)]
    registry.end_room(DOCTOR, first.room_id)
    assert [r.room_id for r, _ in registry.waiting_for_physician(DOCTOR)] == [second.room_id]


def test_only_physicians_ask_who_is_waiting() -> None:
    registry = RoomRegistry(Clinic())
    with pytest.raises(AccessDenied):
        registry.waiting_for_physician(PATIENT)
