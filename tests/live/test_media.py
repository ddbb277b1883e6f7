"""The AR media server end to end: aiortc peers here, the media worker in its own process.

A patient peer sends a face video (~15 fps), a physician peer receives; both talk real WebRTC
(ICE on this machine's non-loopback address, DTLS, VP8) to the worker process. The simulation
mark is recognised with core.ar.effects.has_watermark (it survives the codec); the face change
is measured where the AR view changes this face most (blurred, so codec noise averages out).
"""

from __future__ import annotations

import asyncio
import fractions
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Coroutine
from typing import Any

import cv2
import numpy as np
import pytest

from core.ar.effects import has_watermark
from core.ar.live import LiveView
from core.live.media import MAX_MEDIA_WORKERS, ARMediaServer, ARViews, ProcessorOptions, media_worker_count
from tests.network import non_loopback_address

FPS = 15
AR = LiveView(treatments={"redness": 1.0, "lips": 1.0, "under_eye": 1.0})


pytestmark = pytest.mark.skipif(
    non_loopback_address() is None,
    reason="no non-loopback network interface: WebRTC ICE cannot connect here",
)


class ClientLoop:
    """An asyncio loop in a thread for the test's aiortc peers (tests stay synchronous)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Ends what still runs on the loop, as asyncio.run does, then stops and closes it.

        aiortc leaves tasks behind even when every peer connection was closed: a track whose
        connection closed before its first packet never ends (its consumer waits forever), and
        aioice's consent checks outlive a connection closed while ICE completes. A loop closed
        with them pending logs "Task was destroyed but it is pending!" whenever the collector
        finds them, in whichever later test that happens.
        """
        self.run(_cancel_other_tasks())
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        assert not self._thread.is_alive(), "the client loop did not stop"
        self.loop.close()


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def _face_track_class() -> type:
    import av
    from aiortc import MediaStreamTrack

    class FaceTrack(MediaStreamTrack):
        """The same face image as a live camera: a fresh frame every 1/FPS s."""

        kind = "video"

        def __init__(self, image_bgr: np.ndarray) -> None:
            super().__init__()
            # Converted as the receivers convert back (libswscale), so colours round-trip.
            self._yuv = (
                av.VideoFrame.from_ndarray(image_bgr, format="bgr24").reformat(format="yuv420p").to_ndarray()
            )
            self._start = time.monotonic()
            self.sent = 0

        async def recv(self) -> Any:
            due = self._start + self.sent / FPS
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            frame = av.VideoFrame.from_ndarray(self._yuv, format="yuv420p")
            frame.pts = int(self.sent * 90000 / FPS)
            frame.time_base = fractions.Fraction(1, 90000)
            self.sent += 1
            return frame

    return FaceTrack


class Receiver:
    """Counts the frames a peer receives and keeps the newest."""

    def __init__(self) -> None:
        self.count = 0
        self.latest: Any = None
        self.ended = False
        self.tasks: list[asyncio.Task] = []

    def start(self, track: Any) -> None:
        self.tasks.append(asyncio.ensure_future(self.consume(track)))

    async def stop(self) -> None:
        """Ends the consumers: a track whose connection closed before any packet never ends."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def consume(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                self.latest = await track.recv()
                self.count += 1
        except MediaStreamError:
            self.ended = True

    def image(self) -> np.ndarray:
        assert self.latest is not None, "no frame received"
        return self.latest.to_ndarray(format="bgr24")


class Peer:
    def __init__(self, pc: Any, receiver: Receiver) -> None:
        self.pc = pc
        self.received = receiver


async def _connect(server: ARMediaServer, room_id: str, role: str, image: np.ndarray | None) -> Peer:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # None would mean Google's STUN
    receiver = Receiver()
    pc.on("track", receiver.start)
    if role == "patient":
        pc.addTransceiver(_face_track_class()(image), direction="sendrecv")
    else:
        pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await server.answer(room_id, role, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return Peer(pc, receiver)


def _wait(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _frames_after(peer: Peer, more: int, timeout: float = 20.0) -> None:
    target = peer.received.count + more
    _wait(lambda: peer.received.count >= target, timeout, f"{more} more frames")


def _blurred_grey(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32), (5, 5), 0)


def _face_change(received: np.ndarray, raw: np.ndarray, region: np.ndarray) -> float:
    """Mean grey difference from the raw frame where the simulation changes the face most.

    Blurred, so the codec's pixel noise averages out: ~2-4 for a plain frame, ~9 for AR.
    """
    return float(np.abs(_blurred_grey(received) - _blurred_grey(raw))[region].mean())


@pytest.fixture(scope="module")
def face_frame(face_photo_bgr: np.ndarray) -> np.ndarray:
    frame = cv2.resize(face_photo_bgr, (400, 480), interpolation=cv2.INTER_AREA)
    return cv2.copyMakeBorder(frame, 0, 0, 120, 120, cv2.BORDER_REPLICATE)  # 640x480


@pytest.fixture(scope="module")
def ar_region(face_frame: np.ndarray) -> np.ndarray:
    """Where the AR view changes this face clearly (lips, under the eyes), found here in IMAGE mode."""
    from core.ar.effects import apply_treatments
    from core.vision.landmarks import detect_landmarks

    landmarks = detect_landmarks(face_frame)
    assert landmarks is not None, "the test frame shows a face"
    simulated, _changed = apply_treatments(face_frame, landmarks, AR.treatments)
    region = np.abs(_blurred_grey(simulated) - _blurred_grey(face_frame)) > 4
    assert region.sum() > 300
    return region


@pytest.fixture(scope="module")
def clients() -> Any:
    loop = ClientLoop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def server() -> Any:
    media = ARMediaServer([])
    yield media
    media.close()


def _call(clients: ClientLoop, server: ARMediaServer, room: str, face_frame: np.ndarray) -> tuple[Peer, Peer]:
    physician = clients.run(_connect(server, room, "physician", None), timeout=60)
    patient = clients.run(_connect(server, room, "patient", face_frame), timeout=60)
    return patient, physician


def _hang_up(clients: ClientLoop, *peers: Peer) -> None:
    for peer in peers:
        clients.run(peer.pc.close())
        clients.run(peer.received.stop())


def test_without_a_view_frames_pass_through_unmarked(clients, server, face_frame, ar_region) -> None:
    patient, physician = _call(clients, server, "room-plain", face_frame)
    _frames_after(physician, 10, timeout=40)
    received = physician.received.image()
    assert received.shape == face_frame.shape
    assert not has_watermark(received)
    assert _face_change(received, face_frame, ar_region) < 5  # the sent frame up to codec loss
    assert float(cv2.PSNR(received, face_frame)) > 25
    _wait(lambda: server.stats("room-plain")["frames_out_physician"] > 0, what="pushed stats")
    stats = server.stats("room-plain")
    assert stats["ar_frames"] == 0 and stats["physician_codec"] == "video/VP8"
    assert patient.received.count == 0  # nothing shared: the patient gets nothing back
    _hang_up(clients, patient, physician)
    server.close_room("room-plain")


def test_physician_view_is_simulated_and_marked(clients, server, face_frame, ar_region) -> None:
    patient, physician = _call(clients, server, "room-ar", face_frame)
    _frames_after(physician, 5, timeout=40)
    server.set_views("room-ar", ARViews(physician=AR))

    def simulated() -> bool:
        received = physician.received.image()
        return has_watermark(received) and _face_change(received, face_frame, ar_region) > 6

    _wait(simulated, 30, "a marked frame with the face changed")
    _wait(lambda: server.stats("room-ar")["ar_frames"] > 0, 5, "pushed stats")
    stats = server.stats("room-ar")
    assert stats["processing_ms_p50"] is not None and stats["landmark_ms_last"] is not None
    assert stats["physician_connection"] == "connected" and stats["errors"] == 0
    _wait(lambda: server.snapshot("room-ar")[1] is not None, 10, "a snapshot with the simulated view")
    raw, view = server.snapshot("room-ar")
    assert raw is not None and view is not None
    assert raw.shape == view.shape == face_frame.shape
    assert has_watermark(view) and not has_watermark(raw)

    # Off again: plain frames, and the snapshot has no simulated view.
    server.set_views("room-ar", ARViews())
    _wait(lambda: not has_watermark(physician.received.image()), 10, "an unmarked frame")
    assert server.snapshot("room-ar")[1] is None
    _hang_up(clients, patient, physician)
    server.close_room("room-ar")


def test_patient_gets_frames_only_while_shared(clients, server, face_frame) -> None:
    patient, physician = _call(clients, server, "room-share", face_frame)
    server.set_views("room-share", ARViews(physician=AR))
    _frames_after(physician, 15, timeout=40)
    assert patient.received.count == 0
    server.set_views("room-share", ARViews(physician=AR, patient=AR))
    _frames_after(patient, 5)
    _wait(lambda: has_watermark(patient.received.image()), 20, "a marked frame at the patient")
    server.set_views("room-share", ARViews(physician=AR))
    time.sleep(1.0)  # frames already on their way
    stopped_at = patient.received.count
    _frames_after(physician, 10)
    assert patient.received.count <= stopped_at + 1
    _hang_up(clients, patient, physician)
    server.close_room("room-share")


async def _offer(direction: str, h264_first: bool = False) -> str:
    """An offer with one video m-line and no media behind it (for answers only)."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction=direction)
    codecs = RTCRtpSender.getCapabilities("video").codecs
    if h264_first:  # as Safari offers
        codecs = sorted(codecs, key=lambda codec: codec.mimeType != "video/H264")
    transceiver.setCodecPreferences(codecs)
    await pc.setLocalDescription(await pc.createOffer())
    await pc.close()
    return pc.localDescription.sdp


def test_the_answer_prefers_vp8_and_rejects_an_offer_without_the_right_video(clients, server) -> None:
    answer = server.answer_blocking("room-sdp", "physician", clients.run(_offer("recvonly", h264_first=True)))
    video = answer[answer.index("m=video") :]
    assert video.index("VP8/90000") < video.index("H264/90000")
    assert "a=sendonly" in video and "a=candidate:" in video  # complete: ICE gathered
    with pytest.raises(ValueError, match="receives no video"):
        server.answer_blocking("room-sdp", "physician", clients.run(_offer("sendonly")))
    with pytest.raises(ValueError, match="sends no video"):
        server.answer_blocking("room-sdp", "patient", clients.run(_offer("recvonly")))
    server.close_room("room-sdp")


def test_the_worker_never_runs_the_servers_main_script(clients, tmp_path, monkeypatch) -> None:
    # Streamlit runs the app script as a fake __main__ module; a spawned child would re-run it.
    ran = tmp_path / "ran"
    script = tmp_path / "app.py"
    script.write_text(f"import pathlib\npathlib.Path({str(ran)!r}).write_text('the app ran')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    server = ARMediaServer([])
    try:
        assert "a=candidate:" in server.answer_blocking(
            "room-main", "physician", clients.run(_offer("recvonly"))
        )
    finally:
        server.close()
    assert not ran.exists()


def test_a_new_patient_offer_replaces_the_old_connection(clients, server, face_frame) -> None:
    first, physician = _call(clients, server, "room-again", face_frame)
    _frames_after(physician, 5, timeout=40)
    second = clients.run(_connect(server, "room-again", "patient", face_frame), timeout=60)
    _wait(lambda: first.pc.connectionState in ("closed", "failed"), 30, "the old patient leg to end")
    _wait(lambda: second.pc.connectionState == "connected", 30, "the new patient leg to connect")
    _frames_after(physician, 10)  # the physician's leg is untouched: frames come from the new one
    _wait(lambda: server.stats("room-again")["patient_connection"] == "connected", 5, "pushed stats")
    _hang_up(clients, first, second, physician)
    # The browsers went: the server closes its side of both legs by itself.
    _wait(
        lambda: (
            {server.stats("room-again")[f"{role}_connection"] for role in ("patient", "physician")}
            == {"closed"}
        ),
        10,
        "the server to close both legs",
    )
    server.close_room("room-again")


def test_a_killed_worker_is_restarted_by_the_next_answer(clients, server, face_frame) -> None:
    patient, physician = _call(clients, server, "room-crash", face_frame)
    _frames_after(physician, 3, timeout=40)
    pid = server.room_worker_pid("room-crash")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: server.room_worker_pid("room-crash") is None, 10, "the server to notice the worker died")
    _hang_up(clients, patient, physician)
    patient, physician = _call(clients, server, "room-crash", face_frame)
    _frames_after(physician, 5, timeout=40)
    stats = server.stats("room-crash")
    assert server.room_worker_pid("room-crash") not in (None, pid)
    assert stats["worker_restarts"] == 1 and stats["worker_alive"]
    _hang_up(clients, patient, physician)
    server.close_room("room-crash")


def test_close_room_stops_its_legs_and_close_stops_the_worker(clients, server, face_frame) -> None:
    patient, physician = _call(clients, server, "room-close", face_frame)
    _frames_after(physician, 5, timeout=40)
    pid = server.room_worker_pid("room-close")
    server.close_room("room-close")
    _wait(lambda: physician.received.ended, 10, "the physician's track to end")
    _wait(lambda: patient.pc.connectionState in ("closed", "failed"), 30, "the patient leg to end")
    count = physician.received.count
    time.sleep(0.5)
    assert physician.received.count == count
    assert server.stats("room-close")["frames_in"] == 0  # the room is gone
    _hang_up(clients, patient, physician)
    server.close()
    assert pid is not None and not _pid_alive(pid)
    assert server.worker_pid is None and server.worker_pids == []


def test_simultaneous_rooms_get_their_own_worker_and_keep_it(clients, face_frame) -> None:
    # One process cannot use much more than a core: a second consult must not share the first's.
    pool = ARMediaServer([], processor_options=ProcessorOptions(workers=2))
    try:
        first = _call(clients, pool, "room-one", face_frame)
        second = _call(clients, pool, "room-two", face_frame)
        one, two = pool.room_worker_pid("room-one"), pool.room_worker_pid("room-two")
        assert one is not None and two is not None and one != two
        assert sorted(pool.worker_pids) == sorted([one, two])
        for room in ("room-one", "room-two"):  # both rooms simulate, each in its own process
            pool.set_views(room, ARViews(physician=AR))
        for _patient, physician in (first, second):
            _frames_after(physician, 10, timeout=40)
        _wait(
            lambda: all(pool.stats(room)["ar_frames"] > 5 for room in ("room-one", "room-two")),
            20,
            "AR in both",
        )
        # A renewed leg stays on its room's worker.
        renewed = clients.run(_connect(pool, "room-one", "physician", None), timeout=60)
        assert pool.room_worker_pid("room-one") == one
        _hang_up(clients, *first, renewed)
        pool.close_room("room-one")
        # The next room goes to the worker with fewer rooms: the one room-one left.
        third = _call(clients, pool, "room-three", face_frame)
        assert pool.room_worker_pid("room-three") == one
        _hang_up(clients, *second, *third)
    finally:
        pool.close()


def test_worker_count_is_one_per_core_within_limits() -> None:
    assert media_worker_count(ProcessorOptions(workers=3)) == 3
    assert 1 <= media_worker_count(ProcessorOptions()) <= min(os.cpu_count() or 1, MAX_MEDIA_WORKERS)
    with pytest.raises(ValueError):
        media_worker_count(ProcessorOptions(workers=0))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
