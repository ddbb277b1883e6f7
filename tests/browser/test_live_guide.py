"""Live photo guide in Chromium with a fake camera playing a real face: the page shows the live
checks and takes the photo by itself once every check passes (skipped without ../shared)."""

from __future__ import annotations

import re

import pytest

from .conftest import fake_face_camera_args, login, wait_for_app

pytestmark = pytest.mark.browser

WEBRTC_IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    return fake_face_camera_args()


@pytest.mark.timeout(300)
def test_live_guide_shows_checks_and_captures_automatically(browser, portal) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, permissions=["camera"])
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        login(page, portal, "patient")
        # Navigate in the app (a full page load would start a new, logged-out session).
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Photo guide").click()
        wait_for_app(page)
        page.get_by_role("heading", name="Photo guide").wait_for()
        page.get_by_text("Press Start and allow the camera").wait_for()
        page.frame_locator(WEBRTC_IFRAME).first.get_by_role("button", name="Start").click()
        # The live check list appears (one line per check), then the automatic capture.
        page.get_by_text("Live check").wait_for(timeout=90_000)
        page.get_by_text("one face").first.wait_for(timeout=30_000)
        page.get_by_text("sharpness").first.wait_for(timeout=30_000)
        page.get_by_text("Photo captured automatically").wait_for(timeout=120_000)
        wait_for_app(page)
        page.get_by_role("button", name="Retake").wait_for()
        # The captured frame went through the intake: its verdict is said in words.
        verdicts = page.get_by_text(
            re.compile(r"This photo (meets the standard|is usable; see the hints|needs a retake)")
        )
        verdicts.first.wait_for()
        assert verdicts.count() == 1
    finally:
        context.close()
