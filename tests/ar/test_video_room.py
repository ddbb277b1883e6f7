"""The video relay's bookkeeping (no browser): track registry, reconnect epochs, views."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from components.video_room import MediaRegistry, views_from_settings
from core.rooms import ARSettings, Room, RoomRegistry


@dataclass
class FakeTrack:
    readyState: str = "live"  # noqa: N815 - aiortc's attribute name


def _ctx(playing: bool, track: FakeTrack | None) -> SimpleNamespace:
    return SimpleNamespace(
        state=SimpleNamespace(playing=playing),
        output_video_track=track,
        output_audio_track=None,
        input_audio_track=None,
    )


def test_epoch_changes_only_when_the_patient_stream_changes() -> None:
    registry = MediaRegistry()
    media = registry.for_room("room-1")
    track = FakeTrack()
    media.patient_ctx = _ctx(True, track)
    registry.refresh("room-1")
    assert media.patient_video is track and media.patient_epoch == 1
    registry.refresh("room-1")
    assert media.patient_epoch == 1  # same stream: the viewer keeps its connection
    track.readyState = "ended"  # the patient stopped: viewers must drop the frozen stream
    registry.refresh("room-1")
    assert media.patient_video is None and media.patient_epoch == 2
    restarted = FakeTrack()
    media.patient_ctx = _ctx(True, restarted)
    registry.refresh("room-1")
    assert media.patient_video is restarted and media.patient_epoch == 3


def test_stopped_sender_has_no_tracks() -> None:
    registry = MediaRegistry()
    media = registry.for_room("room-2")
    media.physician_ctx = _ctx(False, FakeTrack())
    registry.refresh("room-2")
    assert media.physician_video is None and media.physician_epoch == 0


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


def test_live_quality_hints_say_too_dark_and_move_closer(face_photo_bgr) -> None:
    import cv2
    import numpy as np

    from components.video_room import live_quality_messages

    frame = cv2.copyMakeBorder(cv2.resize(face_photo_bgr, (400, 480)), 0, 0, 120, 120, cv2.BORDER_REPLICATE)
    assert not any("full resolution" in m for m in live_quality_messages(frame))
    dark = (frame * 0.15).astype(np.uint8)
    assert any("dark" in m.lower() for m in live_quality_messages(dark))
    far = np.full_like(frame, 128)
    far[180:300, 270:370] = cv2.resize(frame, (100, 120))
    assert any("closer" in m.lower() or "cannot see a face" in m.lower() for m in live_quality_messages(far))


def test_frame_callbacks_pass_through_or_return_fresh_marked_frames(face_photo_bgr) -> None:
    import fractions
    import time

    import av
    import cv2
    import numpy as np

    from components.video_room import RoomMedia, make_patient_callback, make_physician_view_callback
    from core.ar.effects import has_watermark
    from core.ar.live import LiveView

    bgr = cv2.copyMakeBorder(cv2.resize(face_photo_bgr, (400, 480)), 0, 0, 120, 120, cv2.BORDER_REPLICATE)
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
    frame.pts = 42
    frame.time_base = fractions.Fraction(1, 90000)  # as aiortc's decoders set it
    media = RoomMedia(room_id="room-cb")
    patient_cb, physician_cb = make_patient_callback(media), make_physician_view_callback(media)
    assert patient_cb(frame) is frame  # AR off: the decoded frame goes on untouched
    assert physician_cb(frame) is frame
    assert media.camera_frames == 1 and media.processor.latest_raw is not None

    media.physician_view = LiveView(treatments={"lips": 1.0}, split_view=True, split_position=0.5)
    media.processor.update_view(LiveView(treatments={"lips": 1.0}))
    deadline = time.monotonic() + 30
    while media.processor.stats.processed_frames == 0 and time.monotonic() < deadline:
        patient_cb(frame)
        time.sleep(0.05)
    assert media.processor.stats.processed_frames > 0
    shown = physician_cb(frame)
    assert shown is not frame and shown.format.name == "yuv420p" and shown.pts == 42
    assert has_watermark(shown.to_ndarray(format="bgr24"))
    # The patient does not see the simulation until it is shared.
    assert patient_cb(frame) is frame
    media.patient_view = LiveView(treatments={"lips": 1.0})
    shared = patient_cb(frame)
    assert shared is not frame and has_watermark(np.asarray(shared.to_ndarray(format="bgr24")))
    media.processor.stop()
