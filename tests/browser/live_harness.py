"""The live consult's browser steps, shared by tests/browser/test_live_consult.py and
benchmarks/bench_live_consult.py: a portal with cases to consult on, the steps of opening a
consult, joining, admitting and turning AR on, and the readers of what the browsers measure.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .conftest import (
    REPO_ROOT,
    TEST_ACCOUNTS,
    Credentials,
    PortalServer,
    click_menu,
    login,
    start_portal,
    wait_for_app,
)

CALL_IFRAME = 'iframe[title*="live_call"]'

# Registers more patients and physicians, and gives each patient in "with_case" a case (photos
# of the fake camera's face video, or scikit-image's astronaut without it). Prints the case ids.
SEED_SCRIPT = """
import datetime, json, sys
import cv2, numpy as np
from core.access import SYSTEM_PRINCIPAL
from core.consult.cases import REQUIRED_VIEWS, IntakeForm
from core.clinic import Clinic
from core.config import Settings
from core.consult.photos import encode_rgb
from tests.photo_factory import checked_photo
from skimage import data

plan = json.loads(sys.argv[1])
clinic = Clinic.open(Settings.from_env())
try:
    for account in plan["new_patients"]:
        clinic.auth.register_patient(
            email=account["email"], password=account["password"], name=account["name"],
            date_of_birth=datetime.date(1990, 1, 2), language="en", timezone="Europe/Amsterdam",
            accepted_telemedicine_consent=True,
        )
    for account in plan["new_physicians"]:
        clinic.auth.create_staff(
            SYSTEM_PRINCIPAL, role="physician", email=account["email"], name=account["name"],
            password=account["password"],
        )
    # The case shows the person the fake camera shows (the real face video), so the physician's
    # snapshot passes the same-person check; the astronaut where the video is absent.
    from core.paths import shared_testdata_dir
    capture = cv2.VideoCapture(str(shared_testdata_dir() / "video" / "face_closeup_pexels_640x480.mp4"))
    ok, frame = capture.read()
    capture.release()
    face_rgb = (np.ascontiguousarray(cv2.resize(frame, (960, 720))[:, :, ::-1]) if ok
                else np.ascontiguousarray(cv2.resize(data.astronaut()[0:300, 90:340], (500, 600))))
    case_ids = []
    for account in plan["with_case"]:
        principal = clinic.auth.login(account["email"], account["password"]).principal
        intake = IntakeForm(concerns=["lines_wrinkles"], areas=["lips", "under_eyes"], duration="2 years",
                            consent_photo_storage=True)
        photos = [checked_photo(view, encode_rgb(face_rgb)) for view in REQUIRED_VIEWS]
        case_ids.append(clinic.cases.submit_case(principal, intake, photos))
    assessments = getattr(clinic, "assessments", None)
    if assessments is not None:  # let the AI pre-assessment of the new cases finish first
        assessments.wait_idle(180)
    print(json.dumps(case_ids))
finally:
    clinic.close()
"""


def seed(
    env: dict[str, str],
    with_case: list[Credentials],
    new_patients: Sequence[Credentials] = (),
    new_physicians: Sequence[Credentials] = (),
) -> list[str]:
    plan = {
        "with_case": [vars(account) for account in with_case],
        "new_patients": [vars(account) for account in new_patients],
        "new_physicians": [vars(account) for account in new_physicians],
    }
    result = subprocess.run(
        [sys.executable, "-c", SEED_SCRIPT, json.dumps(plan)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding the consult cases failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def consult_pairs(count: int) -> list[tuple[Credentials, Credentials]]:
    """(physician, patient) accounts for `count` simultaneous consults; the first pair is the seeded one."""
    pairs = [(TEST_ACCOUNTS["physician"], TEST_ACCOUNTS["patient"])]
    for index in range(2, count + 1):
        pairs.append(
            (
                Credentials(
                    f"physician{index}@example.test", f"Physician{index}-Pass-123", f"Dr Number{index}"
                ),
                Credentials(f"patient{index}@example.test", f"Patient{index}-Pass-123", f"Pat Number{index}"),
            )
        )
    return pairs


def start_live_portal(
    workdir: Path,
    pairs: list[tuple[Credentials, Credentials]],
    extra_env: dict[str, str],
    others: Sequence[Credentials] = (),
) -> PortalServer:
    """A portal with one case per pair's patient (and patients in `others` without a case)."""
    extra = pairs[1:]
    server = start_portal(
        workdir,
        extra_env,
        {**TEST_ACCOUNTS},
        before_start=lambda env: seed(
            env,
            with_case=[patient for _, patient in pairs],
            new_patients=[patient for _, patient in extra] + list(others),
            new_physicians=[physician for physician, _ in extra],
        ),
    )
    for physician, patient in extra:
        server.credentials[physician.email] = physician
        server.credentials[patient.email] = patient
    return server


def call_contexts(browser, with_camera: int, without_camera: int = 0) -> list:
    """Browser contexts for a call: `with_camera` may use the (fake) camera and microphone."""
    contexts = [
        browser.new_context(viewport={"width": 1400, "height": 1200}, permissions=["camera", "microphone"])
        for _ in range(with_camera)
    ] + [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(without_camera)]
    for context in contexts:
        context.set_default_timeout(30_000)
    return contexts


def open_consult(doctor, portal: PortalServer, physician: Credentials, patient: Credentials) -> str:
    """The physician logs in, opens the patient's case and starts its live consult; returns the room id."""
    login(doctor, portal, email=physician.email, password=physician.password)
    click_menu(doctor, "Case queue")
    # The nearest block around the patient's name that holds an "Open case" link: that case's row.
    row = doctor.get_by_text(patient.name, exact=False).first.locator(
        "xpath=ancestor::div[.//a[contains(., 'Open case')]][1]"
    )
    row.get_by_role("link", name="Open case").first.click()
    wait_for_app(doctor)
    return start_consult(doctor)


def start_consult(doctor) -> str:
    """On the case page: start its live consult (the AR preview tab); returns the room id."""
    doctor.get_by_role("tab", name="AR preview").click()
    doctor.get_by_role("button", name="Start live video consult").click()
    doctor.get_by_role("heading", name="Live consult").wait_for()
    wait_for_app(doctor)
    doctor.get_by_text("Invitation code").click()
    return doctor.get_by_test_id("stCode").first.inner_text().strip()


def patient_waits(patient, portal: PortalServer, account: Credentials) -> None:
    """The patient joins from "My consultations" and waits with a working camera."""
    login(patient, portal, email=account.email, password=account.password)
    patient.get_by_role("link", name="Join live consult").click()
    patient.get_by_role("button", name="Join the waiting room").click()
    patient.get_by_text("You are in the waiting room").wait_for()
    patient.get_by_text("camera working").wait_for(timeout=60_000)


def admit(doctor, patient, account: Credentials) -> None:
    doctor.get_by_role("button", name=f"Admit {account.name}").click()
    patient.get_by_text("You are in the consultation").wait_for()


def turn_ar_on(doctor) -> None:
    wait_for_app(doctor)
    doctor.get_by_text("AR preview on").click()
    wait_for_app(doctor)


def stats_reports(data_dir: Path, room_id: str, role: str) -> list[dict]:
    """Every report of `role` ("patient", "physician" or "server") for the room, oldest first."""
    path = data_dir / "live_stats" / f"{room_id[:12]}-{role}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latest_stats(data_dir: Path, room_id: str, role: str) -> dict:
    reports = stats_reports(data_dir, room_id, role)
    return reports[-1] if reports else {}


def wait_for(condition: Callable[[], object], timeout_s: float, page, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def shown_frames(page, video_id: str) -> int:
    """Frames the call widget's <video id=...> has presented so far (0 when hidden or absent)."""
    video = page.frame_locator(CALL_IFRAME).first.locator(f"#{video_id}")
    if video.count() == 0 or not video.is_visible():
        return 0
    return int(video.evaluate("v => v.getVideoPlaybackQuality().totalVideoFrames"))


def frames_flow(page, video_id: str, at_least: int = 15, within_s: float = 30) -> None:
    """Wait until the video shows `at_least` new frames (it is playing, not frozen).

    A new stream in the element (after a reconnect) starts its frame count again from zero.
    """
    seen = {"last": shown_frames(page, video_id), "new": 0}

    def enough() -> bool:
        count = shown_frames(page, video_id)
        seen["new"] += count - seen["last"] if count >= seen["last"] else count
        seen["last"] = count
        return seen["new"] >= at_least

    wait_for(enough, within_s, page, f"frames in #{video_id}")


@contextlib.contextmanager
def evidence_on_failure(request, folder: Path, pages: dict[str, object]) -> Iterator[list[str]]:
    """On any failure inside, keep each page's screenshot and text, the browsers' console lines
    and the call stats beside the server log, and name them in the failure report."""
    from .conftest import record_artifact

    console: list[str] = []
    for name, tab in pages.items():
        tab.on("crash", lambda _tab, name=name: console.append(f"{name} page crashed"))  # type: ignore[attr-defined]
        tab.on("console", lambda message, name=name: console.append(f"{name}: {message.text}"[:400]))  # type: ignore[attr-defined]
    try:
        yield console
    except BaseException:
        for name, tab in pages.items():
            with contextlib.suppress(Exception):
                path = folder / f"failure_{name}.png"
                tab.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
                record_artifact(request, path)
            with contextlib.suppress(Exception):
                path = folder / f"failure_{name}.txt"
                path.write_text(f"{tab.url}\n{tab.locator('body').inner_text(timeout=2000)}")  # type: ignore[attr-defined]
                record_artifact(request, path)
        console_path = folder / "failure_browser_console.txt"
        console_path.write_text("\n".join(console))
        record_artifact(request, console_path)
        for stats_file in sorted(folder.rglob("live_stats/*.jsonl")):
            record_artifact(request, stats_file)
        raise


def call_status(page) -> str:
    return page.frame_locator(CALL_IFRAME).first.locator("#status").inner_text()
