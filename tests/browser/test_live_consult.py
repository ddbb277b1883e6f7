"""Live consult end to end: two Chromium contexts (patient with a fake camera, physician) on
one server; waiting room, admission, video both ways with AR applied server-side, and a third
patient who cannot join.

Server-side AR frames are counted through the test hook in components/video_room.py
(CLINIC_LIVE_STATS=1 writes <data dir>/live_stats/<room>.json).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import (
    REPO_ROOT,
    SERVER_START_TIMEOUT_S,
    TEST_ACCOUNTS,
    Credentials,
    PortalServer,
    _server_env,
    click_menu,
    fake_face_camera_args,
    free_port,
    login,
    seed_accounts,
    stop_process,
    wait_for_app,
    wait_for_health,
)

pytestmark = pytest.mark.browser

WEBRTC_IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'
SECOND_PATIENT = Credentials("patient2@example.test", "Patient2-Test-Pass-123", "Quinn Otherpatient")

# A case for the first patient (with one photo), and a second patient with no access to it.
_SEED_CASE_SCRIPT = """
import datetime, json, sys
import cv2, numpy as np
from core.clinic import Clinic
from core.config import Settings

accounts = json.loads(sys.argv[1])
clinic = Clinic.open(Settings.from_env())
try:
    other = accounts["patient2"]
    clinic.auth.register_patient(
        email=other["email"], password=other["password"], name=other["name"],
        date_of_birth=datetime.date(1990, 1, 2), language="en", timezone="Europe/Amsterdam",
        accepted_telemedicine_consent=True,
    )
    from core.cases import REQUIRED_VIEWS, IntakeForm
    from core.photos import PhotoInput, encode_rgb
    from skimage import data

    patient = accounts["patient"]
    principal = clinic.auth.login(patient["email"], patient["password"]).principal
    face_rgb = np.ascontiguousarray(cv2.resize(data.astronaut()[0:300, 90:340], (500, 600)))
    intake = IntakeForm(concerns=["lines_wrinkles"], areas=["lips", "under_eyes"], duration="2 years",
                        consent_photo_storage=True)
    photos = [PhotoInput(view=view, image_bytes=encode_rgb(face_rgb)) for view in REQUIRED_VIEWS]
    case_id = clinic.cases.submit_case(principal, intake, photos)
    print(json.dumps({"case_id": case_id}))
    assessments = getattr(clinic, "assessments", None)
    if assessments is not None:  # let the AI pre-assessment of the new case finish first
        assessments.wait_idle(120)
finally:
    clinic.close()
"""


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    return fake_face_camera_args()


@pytest.fixture(scope="module")
def live_portal(
    tmp_path_factory: pytest.TempPathFactory, chromium_extra_args
) -> Iterator[tuple[PortalServer, str]]:
    """The portal with a case for the patient and a second patient; the AR stats hook on."""
    workdir = tmp_path_factory.mktemp("live-portal")
    data_dir = workdir / "clinic-data"
    data_dir.mkdir()
    env = _server_env(data_dir, {"CLINIC_LIVE_STATS": "1"})
    seed_accounts(data_dir, env, TEST_ACCOUNTS)
    payload = json.dumps({"patient": vars(TEST_ACCOUNTS["patient"]), "patient2": vars(SECOND_PATIENT)})
    seeded = subprocess.run(
        [sys.executable, "-c", _SEED_CASE_SCRIPT, payload],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    case_id = json.loads(seeded.stdout.strip().splitlines()[-1])["case_id"]
    port = free_port()
    log_path = workdir / "streamlit.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.address", "127.0.0.1", "--server.port", str(port),
                "--server.headless", "true", "--server.fileWatcherType", "none",
                "--server.runOnSave", "false", "--browser.gatherUsageStats", "false",
            ],
            cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log_path, SERVER_START_TIMEOUT_S)
        accounts = {**TEST_ACCOUNTS, "patient2": SECOND_PATIENT}
        yield PortalServer(base_url, data_dir, log_path, accounts, process), case_id
    finally:
        stop_process(process)


def _stats(data_dir: Path) -> dict:
    files = list((data_dir / "live_stats").glob("*.json"))
    if not files:
        return {}
    return json.loads(files[0].read_text())


def _wait_for(condition, timeout_s: float, page, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"timed out waiting for {what}")


def _video_frames(frame_locator) -> int:
    video = frame_locator.locator("video").first
    if video.count() == 0:
        return 0
    return int(
        video.evaluate("v => v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0")
    )


def test_patient_waits_physician_admits_video_flows_with_ar(browser, live_portal) -> None:
    portal, case_id = live_portal
    physician_context = browser.new_context(
        viewport={"width": 1400, "height": 1100}, permissions=["camera", "microphone"]
    )
    patient_context = browser.new_context(
        viewport={"width": 1400, "height": 1100}, permissions=["camera", "microphone"]
    )
    intruder_context = browser.new_context(viewport={"width": 1280, "height": 900})
    for context in (physician_context, patient_context, intruder_context):
        context.set_default_timeout(30_000)
    doctor, patient, intruder = (
        physician_context.new_page(),
        patient_context.new_page(),
        intruder_context.new_page(),
    )
    events: list[str] = []
    for name, tab in (("doctor", doctor), ("patient", patient)):
        tab.on("crash", lambda _tab, name=name: events.append(f"{name} page crashed"))
        tab.on("console", lambda message, name=name: events.append(f"{name}: {message.text}"[:300]))
    try:
        # Physician starts the consult from the case page (AR preview tab).
        login(doctor, portal, "physician")
        click_menu(doctor, "Case queue")
        doctor.get_by_role("link", name="Open case").first.click()
        wait_for_app(doctor)
        doctor.get_by_role("tab", name="AR preview").click()
        doctor.get_by_role("button", name="Start live video consult").click()
        doctor.get_by_role("heading", name="Live consult").wait_for()
        wait_for_app(doctor)
        doctor.get_by_text("Invitation code").click()
        room_id = doctor.get_by_test_id("stCode").first.inner_text().strip()
        assert len(room_id) >= 32

        # Patient joins from "My consultations": consent question, then the waiting room.
        login(patient, portal, "patient")
        patient.get_by_role("button", name="Join live consult").click()
        patient.get_by_role("button", name="Join the waiting room").click()
        patient.get_by_text("You are in the waiting room").wait_for()
        # Device check: start the camera while waiting.
        patient.frame_locator(WEBRTC_IFRAME).first.get_by_role("button", name="Start").click()
        patient.get_by_text("camera working").wait_for(timeout=60_000)
        # No video for the physician before admission.
        assert doctor.locator(WEBRTC_IFRAME).count() <= 1  # only the physician's own camera widget

        # Physician admits; the patient's video appears on the physician's page.
        doctor.get_by_role("button", name="Admit Pat Testpatient").click(timeout=30_000)
        patient.get_by_text("You are in the consultation").wait_for(timeout=30_000)
        wait_for_app(doctor)
        # The physician turns AR on (default: redness 60 %) and starts their own camera.
        doctor.get_by_text("AR preview on").click()
        wait_for_app(doctor)
        viewer = doctor.frame_locator(WEBRTC_IFRAME).first
        _wait_for(lambda: _video_frames(viewer) > 20, 90, doctor, "patient video on the physician's page")
        doctor.frame_locator(WEBRTC_IFRAME).last.get_by_role("button", name="Start").click()
        _wait_for(
            lambda: _stats(portal.data_dir).get("processed_frames", 0) > 10, 90, doctor, "AR frames processed"
        )

        # Physician -> patient: the physician's camera plays on the patient's page.
        wait_for_app(patient)
        patient_views = patient.frame_locator(WEBRTC_IFRAME)
        _wait_for(
            lambda: _video_frames(patient_views.last) > 10,
            90,
            patient,
            "physician video on the patient's page",
        )

        stats = _stats(portal.data_dir)
        assert stats["camera_frames"] > 30 and stats["processed_frames"] > 10 and stats["errors"] == 0
        assert stats["audio_frames"] > 0  # the fake microphone reached the server too
        assert stats["physician_view_active"] and not stats["patient_view_active"]  # not shared yet

        # Screenshot of the physician's view: frames carry the simulation mark (dark band, white text).
        shot_path = portal.data_dir.parent / "physician_view.png"

        def marked_frame_on_screen() -> bool:
            viewer.locator("video").first.screenshot(path=str(shot_path))
            return _has_simulation_band(shot_path)

        _wait_for(marked_frame_on_screen, 30, doctor, "a marked simulation frame in the physician's view")

        # A third, logged-in patient with the room's code cannot join.
        login(intruder, portal, email=SECOND_PATIENT.email, password=SECOND_PATIENT.password)
        click_menu(intruder, "Live consult")
        intruder.get_by_label("Or enter the invitation code your physician gave you").fill(room_id)
        intruder.get_by_role("button", name="Open invitation").click()
        intruder.get_by_text("You cannot join this consult").wait_for()
        assert intruder.get_by_role("button", name="Join the waiting room").count() == 0

        # Sharing shows the simulation to the patient; a snapshot goes into the case.
        doctor.get_by_text("Share the simulation with the patient").click()
        _wait_for(lambda: _stats(portal.data_dir).get("patient_view_active"), 30, doctor, "the shared view")
        patient.get_by_text("showing you a treatment").wait_for(timeout=30_000)
        wait_for_app(doctor)
        doctor.get_by_role("button", name="Snapshot to case").click()
        doctor.get_by_text("Snapshot saved to the case").wait_for(timeout=60_000)

        # Ending the consult ends it for the patient too.
        # Either the End handler or the room-state poll may render first; both say it has ended.
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
        patient.get_by_text("This consult has ended").wait_for(timeout=30_000)
        # The ended state stays on screen: a late tick of the call's timed fragments must not
        # blank either page (Streamlit's "Cannot set a node at a delta path").
        patient.wait_for_timeout(3_000)
        assert patient.get_by_text("This consult has ended").is_visible()
        assert ended.is_visible()
        assert not [event for event in events if "delta path" in event]
    except BaseException:
        # Keep what each browser showed, next to the server log, for diagnosis.
        for name, tab in (("doctor", doctor), ("patient", patient), ("intruder", intruder)):
            with contextlib.suppress(Exception):
                tab.screenshot(path=str(portal.data_dir.parent / f"failure_{name}.png"), full_page=True)
            with contextlib.suppress(Exception):
                text = tab.locator("body").inner_text(timeout=2000)
                (portal.data_dir.parent / f"failure_{name}.txt").write_text(f"{tab.url}\n{text}")
        (portal.data_dir.parent / "failure_events.txt").write_text("\n".join(events))
        raise
    finally:
        for context in (physician_context, patient_context, intruder_context):
            context.close()


def _has_simulation_band(path: Path) -> bool:
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
