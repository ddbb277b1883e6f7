"""The live consult's page glue (no browser): AR views from the room settings, snapshots."""

from __future__ import annotations

from components.video_room import decode_snapshot, views_from_settings
from core.live.rooms import ARSettings, Room, RoomRegistry


def test_views_follow_the_room_settings_and_sharing() -> None:
    rooms = RoomRegistry(clinic=None)
    room = Room(room_id="r", case_id="c", opened_by="d", opened_at=0.0)
    room.ar = ARSettings(enabled=True, treatments={"lips": 0.5}, split_view=True, split_position=0.3)
    physician, patient = views_from_settings(rooms, room)
    assert physician.treatments == {"lips": 0.5} and physician.split_view and physician.split_position == 0.3
    assert not patient.active
    room.ar = ARSettings(enabled=True, treatments={"lips": 0.5}, split_view=True, shared_with_patient=True)
    physician, patient = views_from_settings(rooms, room)
    assert patient.treatments == {"lips": 0.5} and not patient.split_view
    room.ar = ARSettings(enabled=False, treatments={"lips": 0.5}, shared_with_patient=True)
    physician, patient = views_from_settings(rooms, room)
    assert not physician.active and not patient.active


def test_a_snapshot_from_the_call_widget_is_decoded_once(face_photo_bgr) -> None:
    import base64

    import cv2
    import streamlit as st

    png = base64.b64encode(cv2.imencode(".png", face_photo_bgr)[1].tobytes()).decode()
    value = {"snapshot": {"id": "s-1", "raw": f"data:image/png;base64,{png}", "simulated": None}}
    st.session_state.clear()
    decoded = decode_snapshot(value, "room-snap")
    assert decoded is not None
    raw, simulated = decoded
    assert raw.shape == face_photo_bgr.shape and simulated is None
    assert decode_snapshot(value, "room-snap") is None  # the widget's value stays: no second copy
    assert decode_snapshot({"snapshot": {"id": "s-2", "raw": "not a picture"}}, "room-snap") is None
    assert decode_snapshot(None, "room-snap") is None
