"""Call signalling: passes, who may signal, mailboxes, the call state and its AR leg (no browser)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.access import AccessDenied
from core.live.rooms import RoomRegistry
from core.live.signalling import CallHub, PassError


class FakeCases:
    def __init__(self, owner_by_case: dict[str, str]) -> None:
        self.owner_by_case = owner_by_case

    def check_case_access(self, principal, case_id: str) -> None:
        if principal.role == "patient" and self.owner_by_case.get(case_id) != principal.user_id:
            raise AccessDenied("not your case")


class FakeAudit:
    def __init__(self) -> None:
        self.rows: list[str] = []

    def record(self, actor, action: str, **_details) -> None:
        self.rows.append(action)


def person(user_id: str, role: str) -> SimpleNamespace:
    return SimpleNamespace(user_id=user_id, role=role, display_name=user_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def call():
    """A room with a physician in it and its patient waiting; the hub on a controllable clock."""
    clock = Clock()
    clinic = SimpleNamespace(cases=FakeCases({"case-1": "pat"}), audit=FakeAudit())
    rooms = RoomRegistry(clinic, clock=clock)
    doctor, patient = person("doc", "physician"), person("pat", "patient")
    room = rooms.open_room(doctor, "case-1")
    rooms.join(patient, room.room_id)
    hub = CallHub(rooms, clock=clock)
    return SimpleNamespace(clock=clock, rooms=rooms, room=room, doctor=doctor, patient=patient, hub=hub)


def test_a_pass_names_room_user_and_role_and_cannot_be_forged_or_reused_late(call) -> None:
    token = call.hub.issue_pass(call.room.room_id, "pat", "patient")
    verified = call.hub.verify(token)
    assert (verified.room_id, verified.user_id, verified.role) == (call.room.room_id, "pat", "patient")
    body, signature = token.split(".")
    forged_body = call.hub.issue_pass(call.room.room_id, "pat", "physician").split(".")[0]
    with pytest.raises(PassError):
        call.hub.verify(f"{forged_body}.{signature}")  # a physician's claims under a patient's signature
    with pytest.raises(PassError):
        call.hub.verify("")
    with pytest.raises(PassError):
        CallHub(call.rooms, clock=call.clock).verify(token)  # another server's secret
    call.clock.now += 13 * 3600
    with pytest.raises(PassError, match="expired"):
        call.hub.verify(token)


def test_a_waiting_patient_cannot_signal_and_sees_the_waiting_state(call) -> None:
    patient_pass = call.hub.verify(call.hub.issue_pass(call.room.room_id, "pat", "patient"))
    state = call.hub.state(patient_pass)
    assert state.status == "waiting" and state.other_present and not state.in_call
    with pytest.raises(PassError):
        call.hub.post(patient_pass, {"type": "hello"})


def test_messages_go_to_the_other_side_in_order_and_a_fresh_reader_starts_now(call) -> None:
    call.rooms.admit(call.doctor, call.room.room_id, "pat")
    doctor_pass = call.hub.verify(call.hub.issue_pass(call.room.room_id, "doc", "physician"))
    patient_pass = call.hub.verify(call.hub.issue_pass(call.room.room_id, "pat", "patient"))
    assert call.hub.state(doctor_pass).in_call and call.hub.state(patient_pass).in_call
    first = call.hub.post(doctor_pass, {"type": "offer", "sdp": "v=0 one"})
    second = call.hub.post(doctor_pass, {"type": "offer", "sdp": "v=0 two"})
    for_patient = call.hub.messages_after(patient_pass, 0)
    assert [m["sdp"] for m in for_patient] == ["v=0 one", "v=0 two"]
    assert all(m["from"] == "physician" for m in for_patient)
    assert call.hub.messages_after(doctor_pass, 0) == []  # nothing echoes back to the sender
    assert [m["seq"] for m in call.hub.messages_after(patient_pass, first)] == [second]
    assert call.hub.messages_after(patient_pass, call.hub.latest_seq()) == []
    with pytest.raises(ValueError):
        call.hub.post(doctor_pass, {"type": "offer", "sdp": "x" * 70_000})


def test_the_ar_leg_follows_the_physicians_settings_and_sharing(call) -> None:
    call.rooms.admit(call.doctor, call.room.room_id, "pat")
    doctor_pass = call.hub.verify(call.hub.issue_pass(call.room.room_id, "doc", "physician"))
    patient_pass = call.hub.verify(call.hub.issue_pass(call.room.room_id, "pat", "patient"))
    assert not call.hub.state(doctor_pass).ar.physician_view
    call.rooms.update_ar(call.doctor, call.room.room_id, enabled=True, treatments={"redness": 0.6})
    doctor_leg, patient_leg = call.hub.state(doctor_pass).ar, call.hub.state(patient_pass).ar
    assert doctor_leg.physician_view and not doctor_leg.patient_upload
    assert patient_leg.patient_upload and not patient_leg.patient_shared and not patient_leg.physician_view
    call.rooms.update_ar(call.doctor, call.room.room_id, shared_with_patient=True)
    assert call.hub.state(patient_pass).ar.patient_shared
    call.rooms.update_ar(call.doctor, call.room.room_id, enabled=False)
    assert call.hub.state(patient_pass).ar == call.hub.state(doctor_pass).ar  # both off


def test_leaving_and_ending_reach_the_other_side_through_the_state(call) -> None:
    call.rooms.admit(call.doctor, call.room.room_id, "pat")
    patient_pass = call.hub.verify(call.hub.issue_pass(call.room.room_id, "pat", "patient"))
    call.rooms.leave(call.doctor, call.room.room_id)
    state = call.hub.state(patient_pass)
    assert state.status == "waiting" and not state.other_present  # back to waiting, never alone
    call.rooms.join(call.doctor, call.room.room_id)
    call.rooms.end_room(call.doctor, call.room.room_id)
    assert call.hub.state(patient_pass).status == "ended"
    with pytest.raises(PassError):
        call.hub.post(patient_pass, {"type": "hello"})


def test_client_stats_are_kept_per_room_and_role_until_the_room_is_forgotten(call) -> None:
    doctor_pass = call.hub.verify(call.hub.issue_pass(call.room.room_id, "doc", "physician"))
    call.hub.record_client_stats(doctor_pass, {"camera": {"ok": True}})
    assert call.hub.client_stats(call.room.room_id, "physician")["camera"] == {"ok": True}
    assert call.hub.client_stats(call.room.room_id, "patient") == {}
    call.hub.forget_room(call.room.room_id)
    assert call.hub.client_stats(call.room.room_id, "physician") == {}
