"""Live consult end to end: two Chromium contexts (patient with a fake camera, physician) on one
server; waiting room, admission, video both ways browser to browser, the AR preview through the
server's AR media process, sharing, a snapshot, a dropped connection that repairs itself, a third
patient who cannot join, and "End" ending the consult on both pages.

What the browsers measure reaches the test through the stats hook (CLINIC_CALL_QUALITY_LOG=on appends
every report to <data dir>/live_stats/<room>-<role>.jsonl, and the AR server's counters to
<room>-server.jsonl). On failure the test leaves each page's screenshot, text and console beside
the server log (both named in the failure report).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import (
    TEST_ACCOUNTS,
    Credentials,
    PortalServer,
    click_menu,
    fake_face_camera_args,
    login,
    stop_process,
    wait_for_app,
)
from .live_harness import (
    CALL_IFRAME,
    admit,
    call_contexts,
    call_status,
    consult_pairs,
    evidence_on_failure,
    frames_flow,
    latest_stats,
    open_consult,
    patient_waits,
    shown_frames,
    start_live_portal,
    turn_ar_on,
    wait_for,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    return fake_face_camera_args()


SECOND_PATIENT = Credentials("patient2@example.test", "Patient2-Test-Pass-123", "Quinn Otherpatient")


@pytest.fixture(scope="module")
def live_portal(tmp_path_factory: pytest.TempPathFactory, chromium_extra_args) -> Iterator[PortalServer]:
    """The portal with a case for the patient and a second patient; the call stats hook on."""
    server = start_live_portal(
        tmp_path_factory.mktemp("live-portal"),
        consult_pairs(1),
        {"CLINIC_CALL_QUALITY_LOG": "on"},
        [SECOND_PATIENT],
    )
    try:
        yield server
    finally:
        stop_process(server.process)


def test_live_consult_admission_video_ar_share_snapshot_reconnect_end(
    browser, live_portal, request: pytest.FixtureRequest
) -> None:
    portal = live_portal
    contexts = call_contexts(browser, with_camera=2, without_camera=1)
    doctor, patient, intruder = (context.new_page() for context in contexts)
    artifacts = portal.data_dir.parent
    pages = {"doctor": doctor, "patient": patient, "intruder": intruder}
    try:
        with evidence_on_failure(request, artifacts, pages) as events:
            # The physician starts the consult from the case page; the patient joins from "My
            # consultations" (consent question, then the waiting room, where the call widget checks
            # the camera and microphone).
            room_id = open_consult(doctor, portal, TEST_ACCOUNTS["physician"], TEST_ACCOUNTS["patient"])
            assert len(room_id) >= 32
            patient_waits(patient, portal, TEST_ACCOUNTS["patient"])
            assert "waiting" in call_status(patient).lower()
            assert shown_frames(patient, "remote") == 0  # nothing from the physician before admission
            assert not patient.get_by_text("please do not smile", exact=False).count()  # no photo coaching

            # Admission: video flows both ways, directly between the browsers.
            admit(doctor, patient, TEST_ACCOUNTS["patient"])
            frames_flow(doctor, "remote", within_s=45)
            frames_flow(patient, "remote", within_s=45)
            wait_for(
                lambda: (latest_stats(portal.data_dir, room_id, "physician").get("p2p") or {}).get("route"),
                20,
                doctor,
                "the physician's connection route in the stats",
            )
            route = latest_stats(portal.data_dir, room_id, "physician")["p2p"]["route"]
            assert route["local"] == "host" and route["remote"] == "host", route  # browser to browser
            assert "Connected" in call_status(doctor)

            # AR on (default redness 60 %): the physician's view switches to the server's AR stream,
            # whose frames carry the simulation mark.
            turn_ar_on(doctor)
            frames_flow(doctor, "ar", within_s=60)
            shot = artifacts / "physician_ar_view.png"

            def marked_frame_on_screen() -> bool:
                doctor.frame_locator(CALL_IFRAME).first.locator("#ar").screenshot(path=str(shot))
                return has_simulation_band(shot)

            wait_for(marked_frame_on_screen, 30, doctor, "a marked simulation frame in the physician's view")
            wait_for(
                lambda: latest_stats(portal.data_dir, room_id, "server").get("ar_frames", 0) > 10,
                30,
                doctor,
                "the AR server's count of simulated frames",
            )
            assert latest_stats(portal.data_dir, room_id, "server").get("errors") == 0

            # A third, logged-in patient with the room's code cannot join.
            login(intruder, portal, email=SECOND_PATIENT.email, password=SECOND_PATIENT.password)
            click_menu(intruder, "Live consult")
            intruder.get_by_label("Or enter the invitation code your physician gave you").fill(room_id)
            intruder.get_by_role("button", name="Open invitation").click()
            intruder.get_by_text("You cannot join this consult").wait_for()
            assert intruder.get_by_role("button", name="Join the waiting room").count() == 0

            # Sharing shows the simulation to the patient beside the physician's video.
            doctor.get_by_text("Share the simulation with the patient").click()
            patient.get_by_text("showing you a treatment").wait_for()
            frames_flow(patient, "ar", within_s=45)

            # A snapshot stores the patient's picture and the marked AR view in the case.
            doctor.frame_locator(CALL_IFRAME).first.get_by_role("button", name="Snapshot to case").click()
            doctor.get_by_text("Snapshot saved to the case").first.wait_for(timeout=60_000)
            assert doctor.get_by_text("with the AR view marked as a simulation").count() > 0

            # The patient's connection drops (as on a network change): the call repairs itself,
            # and video flows again on both sides without anyone reloading or pressing anything.
            patient.frame_locator(CALL_IFRAME).first.locator("body").evaluate(
                "() => window.liveCallTestHooks.dropConnection()"
            )
            frames_flow(patient, "remote", within_s=45)
            frames_flow(doctor, "ar", within_s=45)
            wait_for(
                lambda: (
                    latest_stats(portal.data_dir, room_id, "physician")
                    .get("counters", {})
                    .get("fresh_connections", 0)
                    >= 2
                ),
                20,
                doctor,
                "the physician's side to count the repaired connection",
            )

            # "End" ends the consult on both pages at once.
            ended = doctor.get_by_text(re.compile(r"[Tt]he consult has ended|This consult has ended")).first
            for attempt in range(3):
                # A click that lands while a polling fragment re-renders the page can be lost: retry.
                wait_for_app(doctor)
                doctor.get_by_role("button", name="End consult").click()
                try:
                    ended.wait_for(timeout=15_000)
                    break
                except PlaywrightTimeoutError:
                    if attempt == 2:
                        raise
            patient.get_by_text("This consult has ended").first.wait_for(timeout=15_000)
            # The ended state stays on screen: a late tick of the call's timed fragments must not
            # blank either page (Streamlit's "Cannot set a node at a delta path").
            patient.wait_for_timeout(3_000)
            assert patient.get_by_text("This consult has ended").first.is_visible()
            assert ended.is_visible()
            assert not [event for event in events if "delta path" in event]
    finally:
        for context in contexts:
            context.close()


def has_simulation_band(path: Path) -> bool:
    """The bottom of the video shows the mark: white text on a darkened band."""
    shot = cv2.imread(str(path))
    if shot is None:
        return False
    gray = cv2.cvtColor(shot, cv2.COLOR_BGR2GRAY).astype(np.float32)
    rows = np.nonzero(gray.max(axis=1) > 20)[0]  # skip letterbox rows, if any
    if rows.size < 50:
        return False
    video = gray[rows.min() : rows.max() + 1]
    height = video.shape[0]
    band = video[int(height * 0.925) : int(height * 0.985)]
    above = video[int(height * 0.80) : int(height * 0.90)]
    text_share = float((band > 190).mean())  # the white letters
    background = band[band <= 190]
    if not 0.01 < text_share < 0.4 or background.size == 0:
        return False
    # The band is the picture at ~45 % brightness: clearly darker than the rows above it.
    return float(np.median(background)) <= 0.6 * float(np.median(above)) + 5
