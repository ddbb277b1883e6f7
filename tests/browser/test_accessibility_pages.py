"""WCAG 2.2 AA on the pages people use once there is something on them (issue 14), and a screen
reader's intake.

The portal holds two consultations of one patient (tests/browser/live_harness.py seeds them with
photos and lets the AI pre-assessment finish); the first is answered through core
(tests/browser/care_seed.py: report sent advising a visit, the visit booked, a treatment with a
check-in due today, measures released to "My progress"), the second waits for its report. axe-core
(injected, as in test_accessibility.py) then audits: the physician's queue with cases, the case page
(intake, the assessment card's summary and detail, care plan), the report editor (empty and with
errors), the archive's three tabs, the agenda, the live consult with an open room (nobody waiting, a
patient waiting, the patient admitted) on both sides, the patient's "My consultations" with the case,
its report, the follow-up check-in form and "My progress" - and the patient's pages again on a phone
(390x844, touch) in Arabic. 0 critical and 0 serious violations from the portal's markup; every
page's violations (id, impact, nodes) are printed, so the CI log holds the table.

The screen reader's intake uses only role + accessible-name locators and the keyboard: every
answer, the consent, three photos chosen through the file chooser that the focused upload control
opens with the keyboard, and sending; the confirmation must be announced (role="alert"/"status").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from core.vocabulary import VIEW_NAMES

from .care_seed import AnsweredCase, answer_cases
from .conftest import (
    FAKE_CAMERA_ARGS,
    PHONE,
    TEST_ACCOUNTS,
    Credentials,
    PortalServer,
    arabic_words,
    choose_arabic,
    open_page,
    record_artifact,
    start_portal,
    stop_process,
    wait_for_app,
)
from .live_harness import seed, start_consult
from .test_accessibility import audit, axe_source, blocking  # noqa: F401 - axe_source is a fixture
from .test_consultation_e2e import write_view_photos

pytestmark = pytest.mark.browser

LISTENER = Credentials("listener@example.test", "Listener-Test-Pass-123", "Lou Listener")
PATIENT = TEST_ACCOUNTS["patient"]
PHYSICIAN = TEST_ACCOUNTS["physician"]


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    return list(FAKE_CAMERA_ARGS)  # the call widget finds a (test-pattern) camera without a prompt


class ContentPortal(NamedTuple):
    """The server (a tuple, so conftest's failure report finds it and shows its log and screenshots),
    the answered case and the id of the case that waits for its report."""

    server: PortalServer
    answered: AnsweredCase
    waiting_case_id: str


@pytest.fixture(scope="module")
def content_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContentPortal]:
    made: dict[str, Any] = {}

    def seed_cases(env: dict[str, str]) -> None:
        case_ids = seed(env, with_case=[PATIENT, PATIENT], new_patients=[LISTENER])
        made["answered"] = answer_cases(env, PHYSICIAN, case_ids[:1])[0]
        made["waiting"] = case_ids[1]

    server = start_portal(tmp_path_factory.mktemp("a11y-portal"), before_start=seed_cases)
    server.credentials[LISTENER.email] = LISTENER
    try:
        yield ContentPortal(server, made["answered"], made["waiting"])
    finally:
        stop_process(server.process)


class Audits:
    """Each page's axe-core violations, by page name; the table printed at the end."""

    def __init__(self, axe: str, folder: Path, request: pytest.FixtureRequest) -> None:
        self.axe = axe
        self.folder = folder
        self.request = request
        self.results: dict[str, list[dict]] = {}

    def run(self, page, name: str) -> None:
        self.results[name] = audit(page, self.axe)
        if blocking(self.results[name]):  # the page as axe saw it, for the failure report
            path = self.folder / f"a11y_{len(self.results):02d}.png"
            page.screenshot(path=str(path), full_page=True)
            record_artifact(self.request, path)

    def table(self) -> str:
        lines = []
        for name, found in self.results.items():
            shown = ", ".join(f"{v['id']} ({v['impact']}, {v['nodes']} nodes)" for v in found) or "none"
            lines.append(f"  {name}: {shown}")
        return "\n".join(lines)

    def check(self, capsys: pytest.CaptureFixture[str]) -> None:
        with capsys.disabled():  # into the CI log even when the test passes: the "after" table
            print("\naxe-core violations per page:\n" + self.table())
        failing = {name: blocking(found) for name, found in self.results.items() if blocking(found)}
        assert not failing, f"critical/serious violations from the portal's markup: {failing}\n{self.table()}"


def open_menu(page) -> None:
    """Open the sidebar menu where a phone keeps it closed."""
    if page.get_by_test_id("stSidebar").get_attribute("data-collapsed") == "true":
        page.get_by_test_id("stExpandSidebarButton").click()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stSidebar\"]')?.getAttribute('data-collapsed') === 'false'"
        )


def menu(page, title: str) -> None:
    """Open a page through the sidebar menu and wait for its heading (the page's title is the menu's)."""
    open_menu(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for()
    wait_for_app(page)


def log_in(page, portal: PortalServer, account: Credentials) -> None:
    open_page(page, portal)
    page.get_by_role("textbox").nth(0).fill(account.email)
    password = page.locator("input[type=password]")
    password.fill(account.password)
    page.keyboard.press("Enter")
    password.wait_for(state="detached")
    wait_for_app(page)


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_for_app(page)


def test_pages_with_content(
    content_portal: ContentPortal,
    browser,
    axe_source: str,  # noqa: F811 - the fixture imported above
    request,
    capsys: pytest.CaptureFixture[str],
) -> None:
    portal = content_portal.server
    answered = content_portal.answered
    audits = Audits(axe_source, portal.log_path.parent, request)
    contexts = [
        browser.new_context(viewport={"width": 1400, "height": 1100}, permissions=["camera", "microphone"]),
        browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=["camera", "microphone"]),
        browser.new_context(**PHONE),
    ]
    for context in contexts:
        context.set_default_timeout(30_000)
    doctor, patient, phone = (context.new_page() for context in contexts)
    try:
        walk(portal, answered, content_portal.waiting_case_id, audits, doctor, patient, phone)
    except BaseException:
        print("axe-core violations per page so far:\n" + audits.table())
        for name, tab_page in (("doctor", doctor), ("patient", patient), ("phone", phone)):
            path = portal.log_path.parent / f"a11y_failure_{name}.png"
            tab_page.screenshot(path=str(path), full_page=True)
            record_artifact(request, path)
        raise
    finally:
        for context in contexts:
            context.close()
    audits.check(capsys)


def walk(
    portal: PortalServer, answered: AnsweredCase, waiting_case_id: str, audits: Audits, doctor, patient, phone
) -> None:
    # -- the physician: queue, case page, report editor, archive, agenda
    log_in(doctor, portal, PHYSICIAN)
    doctor.get_by_role("link", name="Open case").first.wait_for()
    audits.run(doctor, "physician queue (a case waiting)")
    doctor.get_by_role("switch", name="Include cases with a report sent").or_(
        doctor.get_by_role("checkbox", name="Include cases with a report sent")
    ).first.press("Space")
    wait_for_app(doctor)
    audits.run(doctor, "physician queue (all cases)")

    open_page(doctor, portal, f"physician_case?case={answered.case_id}")
    doctor.get_by_role("heading", name=f"Case {answered.reference}").wait_for()
    audits.run(doctor, "case page: intake & photos")
    tab(doctor, "AI pre-assessment")
    panel = doctor.get_by_role("tabpanel", name="AI pre-assessment")
    panel.get_by_text("Key findings").wait_for(timeout=120_000)
    wait_for_app(doctor)
    audits.run(doctor, "case page: assessment card (summary)")
    panel.get_by_text("Per-region detail").click()
    wait_for_app(doctor)
    audits.run(doctor, "case page: assessment card (detail)")
    tab(doctor, "Report")
    audits.run(doctor, "case page: report (sent)")
    tab(doctor, "Care plan")
    audits.run(doctor, "case page: care plan")

    open_page(doctor, portal, f"physician_case?case={waiting_case_id}")
    tab(doctor, "Report")
    audits.run(doctor, "report editor (empty)")
    doctor.get_by_role("button", name="Send report to patient").click()
    wait_for_app(doctor)
    audits.run(doctor, "report editor (errors)")

    menu(doctor, "Case archive")
    audits.run(doctor, "archive: timeline")
    tab(doctor, "Before / after")
    audits.run(doctor, "archive: before / after")
    tab(doctor, "Progress")
    audits.run(doctor, "archive: progress")
    menu(doctor, "Agenda")
    audits.run(doctor, "agenda")

    # -- the patient (desktop): the case with its report, check-in form and progress
    log_in(patient, portal, PATIENT)
    patient.get_by_text(answered.reference).first.wait_for()
    patient.get_by_role("heading", name="My progress").wait_for()
    audits.run(patient, "my consultations (case, report, check-in, progress)")

    # -- the live consult, both sides: an open room, a patient waiting, the patient admitted
    open_page(doctor, portal, f"physician_case?case={answered.case_id}")
    tab(doctor, "AR preview")
    doctor.get_by_role("button", name="Start live video consult").wait_for()
    audits.run(doctor, "case page: AR preview")
    room_id = start_consult(doctor)
    audits.run(doctor, "physician live consult (open, nobody waiting)")
    patient.reload()
    wait_for_app(patient)
    patient.get_by_role("link", name="Join live consult").first.click()
    patient.get_by_role("button", name="Join the waiting room").wait_for()
    wait_for_app(patient)
    audits.run(patient, "patient live consult (before joining)")
    patient.get_by_role("button", name="Join the waiting room").click()
    patient.get_by_text("You are in the waiting room").wait_for()
    audits.run(patient, "patient live consult (waiting room)")
    admit = doctor.get_by_role("button", name=re.compile(f"Admit {re.escape(PATIENT.name)}"))
    admit.wait_for(timeout=30_000)
    audits.run(doctor, "physician live consult (patient waiting)")
    admit.click()
    patient.get_by_text("You are in the consultation").wait_for()
    wait_for_app(doctor)
    audits.run(doctor, "physician live consult (patient admitted)")
    audits.run(patient, "patient live consult (admitted)")

    # -- the patient on a phone, in Arabic (chosen in the menu, stored on the account)
    log_in(phone, portal, PATIENT)
    open_menu(phone)
    # a phone's select takes no typing: the option is picked from the list
    choose_arabic(phone, phone.get_by_test_id("stSidebar").get_by_role("combobox", name="Language"))
    menu(phone, arabic_words("My consultations"))
    phone.get_by_text(answered.reference).first.wait_for()
    audits.run(phone, "phone, Arabic: my consultations")
    assert phone.evaluate("() => [document.documentElement.lang, document.documentElement.dir]") == [
        "ar",
        "rtl",
    ]
    menu(phone, arabic_words("New consultation"))
    audits.run(phone, "phone, Arabic: new consultation (empty)")
    phone.get_by_role("button", name=arabic_words("Send consultation")).click()
    wait_for_app(phone)
    wait_for_app(phone)
    audits.run(phone, "phone, Arabic: new consultation (errors)")
    menu(phone, arabic_words("Photo guide"))
    audits.run(phone, "phone, Arabic: photo guide")
    open_page(phone, portal, f"patient_live_consult?room={room_id}")
    phone.get_by_text(arabic_words("You are in the consultation.")).wait_for()
    audits.run(phone, "phone, Arabic: live consult (admitted)")


# ------------------------------------------------------------------ a screen reader's intake


def open_file_chooser(page, control) -> Any:
    """The file chooser that the focused upload control opens with the keyboard. The first key
    after the previous photo's upload is sometimes swallowed by the drop zone (as a person would,
    press it again: Enter, then Space, a button's two keys)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for key in ("Enter", "Space", "Enter", "Space"):
        control.focus()
        try:
            with page.expect_file_chooser(timeout=5_000) as chooser:
                page.keyboard.press(key)
            return chooser.value
        except PlaywrightTimeoutError:
            continue
    raise AssertionError("the upload control opens no file chooser from the keyboard")


def test_screen_reader_intake(
    content_portal: ContentPortal, page, face_photo_bgr, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    portal = content_portal.server
    photos = write_view_photos(face_photo_bgr, tmp_path)
    try:
        listen_through_the_intake(page, portal, photos)
    except BaseException:
        path = portal.log_path.parent / "screen_reader_failure.png"
        page.screenshot(path=str(path), full_page=True)
        record_artifact(request, path)
        raise


def listen_through_the_intake(page, portal: PortalServer, photos: dict[str, Path]) -> None:
    open_page(page, portal)
    page.get_by_role("textbox", name="Email").focus()
    page.keyboard.type(LISTENER.email)
    page.get_by_label("Password", exact=True).focus()  # (a password field has no ARIA role)
    page.keyboard.type(LISTENER.password)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Log out").wait_for()
    wait_for_app(page)

    page.get_by_role("navigation", name="App pages").get_by_role("link", name="New consultation").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="New consultation").wait_for()
    wait_for_app(page)

    def choose(combobox: str, option: str) -> None:
        page.get_by_role("combobox", name=combobox).focus()
        page.keyboard.type(option)
        page.get_by_role("option", name=option).wait_for()
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        wait_for_app(page)

    choose("What would you like help with? *", "Pigmentation / melasma")
    choose("Which areas of the face? *", "Cheeks")
    page.get_by_role("radio", name="1 to 3 years").focus()
    page.keyboard.press("Space")
    wait_for_app(page)

    def write(name: str, text: str) -> None:
        page.get_by_role("textbox", name=name).focus()
        page.keyboard.type(text)
        page.keyboard.press("Tab")
        wait_for_app(page)

    write("Describe your concern in your own words (required when you chose 'Other')", "Brown patches")
    write("What result are you hoping for? *", "Even skin tone")
    write("Current medications (or 'none')", "none")
    write("Allergies (or 'none')", "none")

    for view in ("front", "left_oblique", "right_oblique"):
        upload = page.get_by_role("group", name=f"Photo: {VIEW_NAMES[view]}").get_by_role(
            "button", name="Upload", exact=True
        )
        open_file_chooser(page, upload).set_files(str(photos[view]))
        wait_for_app(page, timeout_ms=90_000)
    page.get_by_role("progressbar", name="3 of 3 views done").wait_for(timeout=90_000)

    page.get_by_role(
        "checkbox",
        name="I consent to the clinic storing my photos and answers for my treatment (required). *",
    ).focus()
    page.keyboard.press("Space")
    wait_for_app(page)
    page.get_by_role("button", name="Send consultation").focus()
    page.keyboard.press("Enter")
    announced = (
        page.get_by_role("alert")
        .or_(page.get_by_role("status"))
        .filter(has_text=re.compile("your consultation was sent", re.IGNORECASE))
    )
    announced.first.wait_for(timeout=60_000)
    assert re.search(r"reference is C-\d{6}-\w{4}", announced.first.inner_text()), (
        announced.first.inner_text()
    )
