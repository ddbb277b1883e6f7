"""The live consult's HTTP routes on a real server (uvicorn on loopback), driven with urllib."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import uvicorn
from starlette.applications import Starlette

from core.live import http as live_http
from core.live.rooms import RoomRegistry
from core.live.signalling import CallHub

from .test_signalling import FakeAudit, FakeCases, person


class FakeMedia:
    def __init__(self) -> None:
        self.offers: list[tuple[str, str]] = []

    async def answer(self, room_id: str, role: str, offer_sdp: str) -> str:
        self.offers.append((room_id, role))
        return "v=0 answer"

    def stats(self, room_id: str) -> dict:
        return {"ar_frames": 7}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SimpleNamespace]:
    clinic = SimpleNamespace(cases=FakeCases({"case-1": "pat"}), audit=FakeAudit())
    rooms = RoomRegistry(clinic)
    doctor, patient = person("doc", "physician"), person("pat", "patient")
    room = rooms.open_room(doctor, "case-1")
    rooms.join(patient, room.room_id)
    hub = CallHub(rooms)
    media = FakeMedia()
    live_http.install(live_http.LiveServices(hub=hub, media=media, stats_dir=tmp_path / "live_stats"))
    port = free_port()
    uvicorn_server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=live_http.routes()), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield SimpleNamespace(
            base=f"http://127.0.0.1:{port}/live/api",
            rooms=rooms,
            room=room,
            doctor=doctor,
            media=media,
            stats_dir=tmp_path / "live_stats",
            doctor_pass=hub.issue_pass(room.room_id, "doc", "physician"),
            patient_pass=hub.issue_pass(room.room_id, "pat", "patient"),
        )
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        live_http.install(None)


def call(url: str, call_pass: str | None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({live_http.PASS_HEADER: call_pass} if call_pass else {}),
        },
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode() or "{}")


def test_no_pass_no_call(server) -> None:
    status, body = call(f"{server.base}/signal", None, {"type": "hello"})
    assert status == 403 and "not valid" in body["error"]
    status, _ = call(f"{server.base}/poll?after=-1&wait=0", "forged.pass")
    assert status == 403


def test_a_waiting_patient_polls_its_state_but_cannot_signal(server) -> None:
    status, body = call(f"{server.base}/poll?after=-1&wait=0", server.patient_pass)
    assert status == 200 and body["state"]["status"] == "waiting" and not body["state"]["in_call"]
    status, _ = call(f"{server.base}/signal", server.patient_pass, {"type": "hello"})
    assert status == 403


def poll_during(server, since: dict, action) -> tuple[tuple[int, dict], float]:
    """Start a long poll from the reply `since`, do `action` meanwhile; (its reply, seconds it took)."""
    replies: list[tuple[int, dict]] = []
    url = f"{server.base}/poll?after={since['after']}&state={since['state_digest']}&wait=15"
    waiting = threading.Thread(target=lambda: replies.append(call(url, server.patient_pass)))
    started = time.monotonic()
    waiting.start()
    time.sleep(0.3)
    action()
    waiting.join(timeout=20)
    assert replies, "the long poll did not answer"
    return replies[0], time.monotonic() - started


def test_a_long_poll_returns_when_a_message_arrives_and_when_the_consult_ends(server) -> None:
    server.rooms.admit(server.doctor, server.room.room_id, "pat")
    _, first = call(f"{server.base}/poll?after=-1&wait=0", server.patient_pass)
    signalled: list[int] = []

    def send_offer() -> None:
        status, _ = call(
            f"{server.base}/signal", server.doctor_pass, {"type": "offer", "pc_id": "a", "sdp": "v=0"}
        )
        signalled.append(status)

    (status, reply), took_s = poll_during(server, first, send_offer)
    assert signalled == [200] and status == 200
    assert [m["type"] for m in reply["messages"]] == ["offer"]
    assert took_s < 10  # it answered on the message, not at the end of its wait

    (_, ended), _ = poll_during(
        server, reply, lambda: server.rooms.end_room(server.doctor, server.room.room_id)
    )
    assert ended["state"]["status"] == "ended"


def test_the_ar_offer_is_refused_while_ar_is_off_and_answered_by_the_media_server_when_on(server) -> None:
    server.rooms.admit(server.doctor, server.room.room_id, "pat")
    status, body = call(f"{server.base}/ar", server.doctor_pass, {"sdp": "v=0 offer"})
    assert status == 409 and "off" in body["error"]
    server.rooms.update_ar(server.doctor, server.room.room_id, enabled=True, treatments={"lips": 0.5})
    status, body = call(f"{server.base}/ar", server.doctor_pass, {"sdp": "v=0 offer"})
    assert status == 200 and body == {"type": "answer", "sdp": "v=0 answer"}
    status, _ = call(f"{server.base}/ar", server.patient_pass, {"sdp": "v=0 offer"})
    assert status == 200
    assert server.media.offers == [(server.room.room_id, "physician"), (server.room.room_id, "patient")]
    status, _ = call(f"{server.base}/ar", server.patient_pass, {"sdp": "not an sdp"})
    assert status == 400


def test_stats_reports_are_kept_for_the_pages_and_written_for_tests(server) -> None:
    status, _ = call(f"{server.base}/stats", server.doctor_pass, {"camera": {"ok": True}})
    assert status == 204
    prefix = server.room.room_id[:12]
    report = json.loads((server.stats_dir / f"{prefix}-physician.jsonl").read_text().splitlines()[-1])
    assert report["camera"] == {"ok": True}
    server_report = json.loads((server.stats_dir / f"{prefix}-server.jsonl").read_text().splitlines()[-1])
    assert server_report["ar_frames"] == 7


def test_the_call_quality_log_is_a_clinic_setting(monkeypatch, tmp_path) -> None:
    from core.config import Settings

    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CLINIC_CALL_QUALITY_LOG", raising=False)
    assert live_http.call_quality_dir(Settings.from_env()) is None  # off unless the clinic asks
    monkeypatch.setenv("CLINIC_CALL_QUALITY_LOG", "on")
    assert live_http.call_quality_dir(Settings.from_env()) == tmp_path / "live_stats"
    monkeypatch.setenv("CLINIC_CALL_QUALITY_LOG", "sometimes")
    with pytest.raises(ValueError, match="CLINIC_CALL_QUALITY_LOG"):
        Settings.from_env()
