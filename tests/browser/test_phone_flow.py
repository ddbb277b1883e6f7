"""The whole patient journey in Arabic on a phone: 390x844, Chromium's mobile emulation with touch.

register (Arabic chosen on the log-in page's picker) -> intake -> three views uploaded (real photos
from ../shared/testdata) -> send -> a physician answers in a second, desktop browser (report
advising a visit, the visit booked, a treatment with a check-in, a live consult opened) -> the
patient reads the report -> sends the follow-up check-in -> joins the live consult's waiting room.

At every step: `<html dir="rtl" lang="ar">`, Arabic words on the screen, nothing wider than the
screen (no sideways scrolling), the guide's diagrams and photos inside the screen width, the
menu closed after choosing a page, and a screenshot (phone_NN_step.png beside the server log).
Only strings the Arabic catalog already translates are looked for; the test reads them from the
catalog (`arabic_words()`), so it follows the wording the portal shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.i18n import translator
from tests.browser.conftest import (
    FAKE_CAMERA_ARGS,
    PHONE,
    PortalServer,
    arabic_words,
    choose_arabic,
    fill_date,
    login,
    open_page,
    record_artifact,
    wait_for_app,
)

pytestmark = pytest.mark.browser

PATIENT_NAME = "Samira Haddad"
PATIENT_EMAIL = "samira.phone@example.test"
PATIENT_PASSWORD = "Quiet-Harbour-7315"
CONCERN_TEXT = "Brown patches on the cheeks since the summer p9k"
FINDINGS_TEXT = "Light-brown macules on both cheeks, in keeping with melasma."
VISIT_REASON = "A closer look under dermoscopy"
ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")
REFERENCE = re.compile(r"C-\d{6}-[2-9A-HJ-NP-Z]{4}")
UI_WAIT_MS = 60_000
PHOTO_WAIT_MS = 120_000


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    # The built-in fake camera (a test pattern) answers the camera widgets without a prompt.
    return list(FAKE_CAMERA_ARGS)


def phone_photos(shared_testdata: Path, directory: Path) -> dict[str, Path]:
    """The three views of one person from a real photo (the public-domain astronaut portrait in
    ../shared/testdata): the frontal portrait, its head turned 45 degrees (the left oblique) and
    that turn's mirror image (the right oblique), as the e2e test makes them. One person, since
    the intake refuses views that show different people. Written to `directory` under short
    names: a phone shortens a long file name in the middle."""
    import cv2

    from tests.browser.test_consultation_e2e import synthetic_head_turn

    portrait = cv2.imread(str(shared_testdata / "faces" / "frontal_goodlight_female_04.jpg"))
    assert portrait is not None, "the test portrait cannot be read"
    # Head and shoulders, enlarged so the distance between the eyes clears the gate's minimum.
    front = cv2.resize(portrait[0:300, 90:340], (820, 984), interpolation=cv2.INTER_CUBIC)
    left = synthetic_head_turn(front, 45.0)
    paths = {}
    for view, image in {"front": front, "left_oblique": left, "right_oblique": cv2.flip(left, 1)}.items():
        path = directory / f"{view.split('_')[0]}.jpg"
        assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths[view] = path
    return paths


class PhoneWalk:
    """The phone's page plus the checks every step makes, and the step's screenshot."""

    def __init__(self, page: Any, portal: PortalServer, request: pytest.FixtureRequest) -> None:
        self.page = page
        self.portal = portal
        self.request = request
        self.step = 0

    def screenshot(self, name: str) -> Path:
        path = self.portal.log_path.parent / f"phone_{self.step:02d}_{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        record_artifact(self.request, path)
        return path

    def check(self, name: str, *texts: str) -> None:
        """Right to left, Arabic, the given texts on screen, nothing wider than the screen."""
        page = self.page
        self.step += 1
        wait_for_app(page, timeout_ms=UI_WAIT_MS)
        try:
            page.wait_for_function(
                "() => document.documentElement.dir === 'rtl' && document.documentElement.lang === 'ar'",
                timeout=UI_WAIT_MS,
            )
            for text in texts:
                page.get_by_text(text, exact=False).first.wait_for(timeout=UI_WAIT_MS)
            if texts:  # the screenshot shows the step's last named text
                page.get_by_text(texts[-1], exact=False).first.scroll_into_view_if_needed()
            main_text = page.get_by_test_id("stMain").inner_text()
            assert ARABIC.search(main_text), f"{name}: no Arabic words in the page:\n{main_text[:600]}"
            layout = page.evaluate(
                """() => {
                    const width = window.innerWidth;
                    // What shows of an element: its box cut by every ancestor that clips (a
                    // progress bar's fill slid out of its track is not on the screen).
                    const shown = (el) => {
                        let box = el.getBoundingClientRect();
                        let [left, right] = [box.left, box.right];
                        for (let up = el.parentElement; up; up = up.parentElement) {
                            if (getComputedStyle(up).overflowX === 'visible') continue;
                            const clip = up.getBoundingClientRect();
                            left = Math.max(left, clip.left);
                            right = Math.min(right, clip.right);
                        }
                        return { width: right - left, left, right };
                    };
                    const wide = [...document.querySelectorAll('[data-testid="stMain"] *')]
                        .filter((el) => el.getClientRects().length > 0)
                        .filter((el) => !el.closest('[aria-hidden="true"]'))  // e.g. a date field's hidden input
                        .map((el) => [el, shown(el)])
                        .filter(([el, box]) => box.width > 0 && (box.right > width + 1 || box.left < -1))
                        .slice(0, 5)
                        .map(([el, box]) => `${el.tagName}.${el.className} ${Math.round(box.left)}..${Math.round(box.right)}`);
                    const images = [...document.querySelectorAll('[data-testid="stMain"] img')]
                        .map((img) => img.getBoundingClientRect())
                        .filter((box) => box.width > 0)
                        .map((box) => [Math.round(box.left), Math.round(box.right)]);
                    // The folded menu leaves nothing on the page (right to left, its words spilled over it).
                    const sidebar = document.querySelector('[data-testid="stSidebar"]');
                    const folded = sidebar && sidebar.getAttribute('data-collapsed') === 'true';
                    const menuOnPage = !folded ? [] : [...sidebar.querySelectorAll('*')]
                        .map((el) => [el, el.getBoundingClientRect()])
                        .filter(([el, box]) => box.width > 0 && box.height > 0 && box.right > 1)
                        .slice(0, 5)
                        .map(([el, box]) => `${el.tagName} ${Math.round(box.left)}..${Math.round(box.right)}`);
                    return {
                        menuOnPage,
                        width,
                        scrollWidth: document.scrollingElement.scrollWidth,
                        mainScrollWidth: document.querySelector('[data-testid="stMain"]').scrollWidth,
                        wide,
                        images,
                    };
                }"""
            )
            width = layout["width"]
            assert width == 390, layout
            assert layout["scrollWidth"] <= width + 1, f"{name}: the page scrolls sideways: {layout}"
            assert layout["mainScrollWidth"] <= width + 1, f"{name}: the page scrolls sideways: {layout}"
            assert not layout["wide"], f"{name}: elements wider than the screen: {layout['wide']}"
            assert not layout["menuOnPage"], f"{name}: the folded menu shows on the page: {layout}"
            for left, right in layout["images"]:
                assert left >= -1 and right <= width + 1, f"{name}: an image leaves the screen: {layout}"
        finally:
            self.screenshot(name)

    def open_menu_page(self, title: str, heading: str | None = None) -> None:
        """Open the menu (the header's button), tap a page; the menu closes by itself."""
        page = self.page
        sidebar = page.get_by_test_id("stSidebar")
        if sidebar.get_attribute("data-collapsed") != "false":
            page.get_by_test_id("stExpandSidebarButton").tap()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stSidebar\"]')?.getAttribute('data-collapsed') === 'false'"
        )
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).tap()
        wait_for_app(page, timeout_ms=UI_WAIT_MS)
        # On a narrow screen the menu closes once a page is chosen (it covered ~75% of the screen).
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stSidebar\"]')?.getAttribute('data-collapsed') === 'true'",
            timeout=15_000,
        )
        page.get_by_role("heading", name=heading or title).first.wait_for(timeout=UI_WAIT_MS)

    def tap_and_wait(self, locator: Any, timeout_ms: int = UI_WAIT_MS) -> None:
        locator.tap()
        wait_for_app(self.page, timeout_ms=timeout_ms)


def assert_progress_runs_right_to_left(page: Any) -> None:
    """Every progress bar on the page fills from the right, where an Arabic reader starts."""
    bars = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stProgress"] [role="progressbar"]')].map((bar) => {
            const track = bar.getBoundingClientRect();
            // the fill: Streamlit slides a track-wide bar sideways inside the track, which hides
            // what sticks out; what shows of it is its box cut by the track
            const fill = [...bar.querySelectorAll('*')].map((el) => el.getBoundingClientRect())
                .map((box) => [Math.max(box.left, track.left), Math.min(box.right, track.right), box.height])
                .filter(([left, right, height]) => height > 0 && right - left > 1 && right - left < track.width - 2)
                .sort((a, b) => (b[1] - b[0]) - (a[1] - a[0]))[0];
            return { track: [track.left, track.right], fill: fill ? [fill[0], fill[1]] : null };
        })"""
    )
    assert bars, "no progress bar on the page"
    for bar in bars:
        assert bar["fill"] is not None, f"a progress bar with nothing filled: {bar}"
        (track_left, track_right), (fill_left, fill_right) = bar["track"], bar["fill"]
        assert abs(fill_right - track_right) <= 2 and fill_left > track_left + 5, (
            f"the progress bar fills from the left in Arabic: {bar}"
        )


def assert_call_status_line_shows_whole(page: Any) -> None:
    """The live call's status line (in its own frame) reads right to left and is not cut off."""
    frame = page.locator("iframe[title*='live_call']").first.element_handle().content_frame()
    assert frame is not None
    frame.wait_for_function("() => document.getElementById('status').textContent.trim().length > 0")
    page.wait_for_timeout(500)  # the frame's new height, once the line wrapped
    line = frame.evaluate(
        """() => {
            const status = document.getElementById('status');
            const box = status.getBoundingClientRect();
            return {
                dir: document.documentElement.dir, text: status.textContent,
                left: box.left, right: box.right, bottom: box.bottom,
                width: window.innerWidth, height: window.innerHeight,
                scrollWidth: status.scrollWidth, clientWidth: status.clientWidth,
            };
        }"""
    )
    assert line["dir"] == "rtl", line
    assert line["scrollWidth"] <= line["clientWidth"] + 1, f"the status line is cut off sideways: {line}"
    assert line["left"] >= -1 and line["right"] <= line["width"] + 1, (
        f"the status line leaves its frame: {line}"
    )
    assert line["bottom"] <= line["height"] + 1, f"the status line is cut off below: {line}"


def choose_options(page: Any, label: str, options: list[str]) -> None:
    """Pick options of an st.multiselect by their visible labels, with taps."""
    widget = page.get_by_test_id("stMultiSelect").filter(has_text=label)
    for option in options:
        field = widget.locator("input")
        field.tap()
        field.fill(option)  # filters the list down to the option
        page.get_by_role("option", name=option, exact=True).tap()
        wait_for_app(page)
    page.keyboard.press("Escape")
    wait_for_app(page)


def fill_text_area(page: Any, label: str, text: str) -> None:
    area = page.get_by_label(label, exact=True)
    area.fill(text)
    area.press("Control+Enter")  # applied at once, so no rerun races the next action
    wait_for_app(page)


def register(walk: PhoneWalk) -> None:
    page = walk.page
    open_page(page, walk.portal)
    # Arabic chosen on the log-in page's picker, before any account exists.
    choose_arabic(page, page.get_by_test_id("stSelectbox").filter(has_text="Language"), tap=True)
    walk.check("login", arabic_words("Log in"))
    walk.open_menu_page(arabic_words("Register"), heading=arabic_words("Create a patient account"))
    walk.check("register", arabic_words("Create a patient account"))
    page.get_by_label(f"{arabic_words('Full name')} *").fill(PATIENT_NAME)
    page.get_by_label(f"{arabic_words('Email')} *").fill(PATIENT_EMAIL)
    page.get_by_label(f"{arabic_words('Password')} *", exact=True).fill(PATIENT_PASSWORD)
    page.get_by_label(f"{arabic_words('Confirm password')} *").fill(PATIENT_PASSWORD)
    fill_date(page, arabic_words("Date of birth"), 12, 4, 1990)
    page.get_by_test_id("stForm").get_by_test_id("stCheckbox").last.locator("label").tap()
    walk.tap_and_wait(page.get_by_role("button", name=arabic_words("Create account")))
    page.get_by_role("heading", name=arabic_words("My consultations")).wait_for(timeout=UI_WAIT_MS)
    walk.check("registered", arabic_words("My consultations"))


def send_consultation(walk: PhoneWalk, photos: dict[str, Path]) -> str:
    from components.guided_capture import VIEW_NAMES
    from components.layout import AREA_LABELS, CONCERN_LABELS

    page = walk.page
    walk.open_menu_page(arabic_words("New consultation"))
    walk.check("intake", arabic_words("1. Your concern"), arabic_words("3. Photos"))
    choose_options(
        page,
        arabic_words("What would you like help with?"),
        [arabic_words(CONCERN_LABELS["pigmentation_melasma"])],
    )
    choose_options(page, arabic_words("Which areas of the face?"), [arabic_words(AREA_LABELS["cheeks"])])
    page.get_by_test_id("stRadio").filter(
        has_text=arabic_words("How long has this been going on?")
    ).get_by_text(arabic_words("1 to 3 years")).tap()
    wait_for_app(page)
    fill_text_area(
        page,
        arabic_words("Describe your concern in your own words (required when you chose 'Other')"),
        CONCERN_TEXT,
    )
    fill_text_area(page, f"{arabic_words('What result are you hoping for?')} *", "Even skin tone")
    fill_text_area(page, arabic_words("Current medications (or 'none')"), "none")
    # Previous treatments: a plain list of fields, and a button for one more row.
    first = page.get_by_label(arabic_words("Treatment {number}", number=1), exact=True)
    first.fill("Hyaluronic acid filler, lips")
    first.press("Enter")
    wait_for_app(page)
    walk.tap_and_wait(page.get_by_role("button", name=arabic_words("Add another treatment")))
    page.get_by_label(arabic_words("Treatment {number}", number=2), exact=True).wait_for()
    walk.check("intake_filled", arabic_words("2. Your health"))

    # The photo step offers the phone's own camera as well as an upload.
    front_box = (
        page.get_by_test_id("stVerticalBlock")
        .filter(has=page.get_by_role("radiogroup", name=arabic_words("How do you want to take this photo?")))
        .filter(has_text=arabic_words("Photo: {view}", view=arabic_words(VIEW_NAMES["front"])))
        .last
    )
    camera_choice = front_box.get_by_test_id("stRadio").get_by_text(arabic_words("Take a photo"), exact=True)
    walk.tap_and_wait(camera_choice)
    page.get_by_test_id("stCameraInput").first.wait_for(timeout=UI_WAIT_MS)
    walk.check("camera", arabic_words("Take a photo"))
    walk.tap_and_wait(
        page.get_by_test_id("stRadio").get_by_text(arabic_words("Upload a photo"), exact=True).first
    )

    uploaders = page.get_by_test_id("stFileUploader")
    for view in ("front", "left_oblique", "right_oblique"):
        uploader = uploaders.filter(
            has_text=arabic_words("Photo: {view}", view=arabic_words(VIEW_NAMES[view]))
        )
        uploader.locator("input[type=file]").set_input_files(str(photos[view]))
        uploader.get_by_text(photos[view].name).wait_for(timeout=UI_WAIT_MS)
        wait_for_app(page, timeout_ms=PHOTO_WAIT_MS)
        if view == "front":  # one view of three done: the bar is a third full, from the right
            page.get_by_text(
                translator("ar").ngettext(
                    "{done} of {total} view done", "{done} of {total} views done", 3, done=1, total=3
                )
            ).wait_for(timeout=PHOTO_WAIT_MS)
            assert_progress_runs_right_to_left(page)
    done = translator("ar").ngettext(
        "{done} of {total} view done", "{done} of {total} views done", 3, done=3, total=3
    )
    page.get_by_text(done).wait_for(timeout=PHOTO_WAIT_MS)
    walk.check("photos", done)

    consent = arabic_words(
        "I consent to the clinic storing my photos and answers for my treatment (required)."
    )
    page.get_by_test_id("stCheckbox").filter(has_text=consent[:20]).locator("label").tap()
    wait_for_app(page)
    walk.tap_and_wait(page.get_by_role("button", name=arabic_words("Send consultation")), PHOTO_WAIT_MS)
    sent = page.get_by_test_id("stAlertContentSuccess").filter(has_text=REFERENCE)
    sent.wait_for(timeout=PHOTO_WAIT_MS)
    walk.check("sent")
    found = REFERENCE.search(sent.inner_text())
    assert found, sent.inner_text()
    return found.group(0)


def desktop_physician(browser: Any, portal: PortalServer) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(UI_WAIT_MS)
    doctor = context.new_page()
    login(doctor, portal, "physician")
    return context, doctor


def desktop_menu(doctor: Any, title: str) -> None:
    doctor.get_by_test_id("stSidebarNav").get_by_role("link", name=title).first.click()
    wait_for_app(doctor)


def open_case(doctor: Any, reference: str, tab: str) -> None:
    desktop_menu(doctor, "Case queue")
    open_link = doctor.get_by_role("link", name="Open case")
    card = doctor.get_by_test_id("stVerticalBlock").filter(has_text=reference).filter(has=open_link).last
    card.get_by_role("link", name="Open case").click()
    doctor.get_by_role("heading", name=f"Case {reference}").wait_for()
    wait_for_app(doctor)
    doctor.get_by_role("tab", name=tab).click()
    wait_for_app(doctor)


def physician_reports(doctor: Any, reference: str) -> None:
    """The report, advising an in-person visit."""
    open_case(doctor, reference, "Report")
    doctor.get_by_role("textbox", name="Findings", exact=True).fill(FINDINGS_TEXT)
    doctor.get_by_label("Assessment", exact=True).fill("Likely epidermal melasma.")
    doctor.get_by_label("Recommended treatments").fill("Topical tranexamic acid.")
    doctor.get_by_label("Home care").fill("Daily SPF 50.")
    doctor.get_by_test_id("stCheckbox").filter(has_text="An in-person visit is needed").locator(
        "label"
    ).click()
    doctor.get_by_label("Reason for the in-person visit").fill(VISIT_REASON)
    doctor.get_by_role("button", name="Send report to patient").click()
    doctor.get_by_text("can no longer be edited").wait_for()


def physician_books_treats_and_calls(doctor: Any, reference: str) -> None:
    """Books the advised visit, records a treatment with a front-only check-in, opens a live consult."""
    open_case(doctor, reference, "Care plan")
    doctor.get_by_role("button", name="Book visit").click()
    wait_for_app(doctor)
    doctor.get_by_text(re.compile(r"Patient's time: ")).first.wait_for()
    doctor.get_by_text("Record a treatment").click()
    wait_for_app(doctor)
    doctor.get_by_label("Area").fill("cheeks")
    doctor.keyboard.press("Tab")
    wait_for_app(doctor)
    doctor.get_by_text("Front only").click()
    wait_for_app(doctor)
    doctor.get_by_role("button", name="Record treatment and create check-ins").click()
    wait_for_app(doctor)
    doctor.get_by_text("2-week check-in").first.wait_for()
    doctor.get_by_role("tab", name="AR preview").click()
    wait_for_app(doctor)
    doctor.get_by_role("button", name="Start live video consult").click()
    doctor.get_by_role("heading", name="Live consult").wait_for()
    wait_for_app(doctor)


def read_report(walk: PhoneWalk, reference: str) -> None:
    page = walk.page
    walk.open_menu_page(arabic_words("My consultations"))
    page.get_by_text(FINDINGS_TEXT).wait_for(timeout=UI_WAIT_MS)
    walk.check(
        "report", reference, arabic_words("Your physician's report"), arabic_words("Findings"), VISIT_REASON
    )
    advice = page.get_by_test_id("stAlertContentWarning").filter(has_text=VISIT_REASON)
    assert advice.count() == 1, "the report's advice for an in-person visit is not shown"


def check_in(walk: PhoneWalk, photos: dict[str, Path]) -> None:
    """After the booking the advice says the visit is booked; the check-in is sent and confirmed."""
    from components.guided_capture import VIEW_NAMES

    page = walk.page
    page.reload()
    wait_for_app(page, timeout_ms=UI_WAIT_MS)
    page.get_by_text(FINDINGS_TEXT).wait_for(timeout=UI_WAIT_MS)
    booked = max(arabic_words("Your in-person visit is booked for {when}.", when="\0").split("\0"), key=len)
    walk.check("visit_booked", arabic_words("Your physician's report"), booked.strip())
    advice = page.get_by_test_id("stAlertContentWarning").filter(has_text=VISIT_REASON)
    assert advice.count() == 0, "the report still asks for a visit that is already booked"
    # The physician's plan: a "2-week check-in" (not due yet, so folded: the patient opens it).
    task = page.get_by_test_id("stExpander").filter(has_text="2-week check-in").first
    task.scroll_into_view_if_needed()
    walk.tap_and_wait(task.locator("summary").first)
    uploader = task.get_by_test_id("stFileUploader").filter(
        has_text=arabic_words("Photo: {view}", view=arabic_words(VIEW_NAMES["front"]))
    )
    uploader.first.locator("input[type=file]").set_input_files(str(photos["front"]))
    wait_for_app(page, timeout_ms=PHOTO_WAIT_MS)
    walk.check("checkin_photo")
    send_anyway = page.get_by_test_id("stCheckbox").filter(
        has_text=re.compile(
            "send these anyway|" + re.escape(arabic_words("I cannot take a better photo; send these anyway"))
        )
    )
    sender = page.get_by_role("button", name=re.compile(re.escape(arabic_words("Send check-in photos"))))
    if sender.is_disabled() and send_anyway.count():
        walk.tap_and_wait(send_anyway.locator("label").first)
    walk.tap_and_wait(sender, PHOTO_WAIT_MS)
    # Sending confirms it (the page re-runs: the confirmation stays).
    confirmation = page.get_by_test_id("stAlertContentSuccess").filter(
        has_text=arabic_words("Thank you! Your physician will compare these photos with your first ones.")
    )
    confirmation.wait_for(timeout=UI_WAIT_MS)
    walk.check("checkin_sent")


def join_waiting_room(walk: PhoneWalk) -> None:
    page = walk.page
    walk.tap_and_wait(page.get_by_role("link", name=arabic_words("Join live consult")).first)
    page.get_by_role("heading", name=arabic_words("Live video consult")).wait_for(timeout=UI_WAIT_MS)
    walk.check("live_consent", arabic_words("Before you join"))
    walk.tap_and_wait(page.get_by_role("button", name=arabic_words("Join the waiting room")))
    page.get_by_text(
        arabic_words("You are in the waiting room. Your physician will let you in shortly.")
    ).wait_for(timeout=UI_WAIT_MS)
    walk.check(
        "waiting_room", arabic_words("You are in the waiting room. Your physician will let you in shortly.")
    )
    assert_call_status_line_shows_whole(page)


def with_evidence(walk: PhoneWalk, name: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception:
        walk.screenshot(f"failure_{name}")
        (walk.portal.log_path.parent / f"phone_failure_{name}.txt").write_text(walk.page.inner_text("body"))
        raise


def test_patient_journey_in_arabic_on_a_phone(
    portal: PortalServer, browser, shared_testdata: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    photos = phone_photos(shared_testdata, tmp_path)
    phone_context = browser.new_context(**PHONE)
    phone_context.set_default_timeout(UI_WAIT_MS)
    walk = PhoneWalk(phone_context.new_page(), portal, request)
    doctor_context = None
    try:
        with_evidence(walk, "register", lambda: register(walk))
        reference = with_evidence(walk, "intake", lambda: send_consultation(walk, photos))

        doctor_context, doctor = desktop_physician(browser, portal)
        try:
            physician_reports(doctor, reference)
            with_evidence(walk, "report", lambda: read_report(walk, reference))
            physician_books_treats_and_calls(doctor, reference)
        except Exception:
            doctor.screenshot(path=str(portal.log_path.parent / "desktop_physician_failure.png"))
            raise

        with_evidence(walk, "checkin", lambda: check_in(walk, photos))
        with_evidence(walk, "live", lambda: join_waiting_room(walk))
    finally:
        if doctor_context is not None:
            doctor_context.close()
        phone_context.close()
