"""The internet path of a live consult: both browsers may only use a TURN relay
(iceTransportPolicy "relay", CLINIC_ICE_TRANSPORT_POLICY=relay) through a real coturn on
loopback, as a patient behind a strict NAT or firewall would. Video flows both ways and the AR
view reaches the physician, every connection relayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .conftest import (
    TEST_ACCOUNTS,
    PortalServer,
    fake_face_camera_args,
    start_turn_server,
    stop_process,
)
from .live_harness import (
    admit,
    call_contexts,
    consult_pairs,
    evidence_on_failure,
    frames_flow,
    latest_stats,
    open_consult,
    patient_waits,
    start_live_portal,
    turn_ar_on,
    wait_for,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    return fake_face_camera_args()


@pytest.fixture(scope="module")
def relay_portal(tmp_path_factory: pytest.TempPathFactory, chromium_extra_args) -> Iterator[PortalServer]:
    workdir = tmp_path_factory.mktemp("turn-portal")
    turn, turn_process = start_turn_server(workdir)
    try:
        server = start_live_portal(
            workdir,
            consult_pairs(1),
            {
                "CLINIC_CALL_QUALITY_LOG": "on",
                "CLINIC_ICE_SERVERS": json.dumps(turn.ice_servers()),
                "CLINIC_ICE_TRANSPORT_POLICY": "relay",
            },
        )
        try:
            yield server
        finally:
            stop_process(server.process)
    finally:
        stop_process(turn_process)


def test_a_relay_only_consult_carries_video_both_ways_and_the_ar_view(
    browser, relay_portal, request: pytest.FixtureRequest
) -> None:
    portal = relay_portal
    contexts = call_contexts(browser, with_camera=2)
    doctor, patient = (context.new_page() for context in contexts)
    try:
        with evidence_on_failure(request, portal.data_dir.parent, {"doctor": doctor, "patient": patient}):
            room_id = open_consult(doctor, portal, TEST_ACCOUNTS["physician"], TEST_ACCOUNTS["patient"])
            patient_waits(patient, portal, TEST_ACCOUNTS["patient"])
            admit(doctor, patient, TEST_ACCOUNTS["patient"])
            frames_flow(doctor, "remote", within_s=60)
            frames_flow(patient, "remote", within_s=60)

            def route(role: str, leg: str) -> dict:
                return (latest_stats(portal.data_dir, room_id, role).get(leg) or {}).get("route") or {}

            wait_for(lambda: route("physician", "p2p") and route("patient", "p2p"), 20, doctor, "both routes")
            for role in ("physician", "patient"):
                assert route(role, "p2p").get("local") == "relay", (role, route(role, "p2p"))

            turn_ar_on(doctor)
            frames_flow(doctor, "ar", within_s=60)
            wait_for(lambda: route("physician", "ar"), 20, doctor, "the AR leg's route")
            assert route("physician", "ar").get("local") == "relay", route("physician", "ar")
    finally:
        for context in contexts:
            context.close()
