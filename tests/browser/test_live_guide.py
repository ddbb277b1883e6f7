"""Live photo guide in Chromium with a fake camera playing a real face: the page shows the live
checks and takes the photo by itself once every check passes (skipped without ../shared)."""

from __future__ import annotations

import pytest

from core.paths import shared_testdata_dir

from .conftest import FAKE_CAMERA_ARGS, login, wait_for_app

pytestmark = pytest.mark.browser

FAKE_VIDEO = shared_testdata_dir() / "video" / "face_closeup_pexels_640x480_10fps.y4m"
WEBRTC_IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'


def _non_loopback_address() -> str | None:
    """ICE needs an interface other than lo (aioice skips loopback, Chrome ignores lo)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends no packet
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    if not FAKE_VIDEO.is_file():
        pytest.skip(f"{FAKE_VIDEO} is absent (../shared/testdata not available)")
    if _non_loopback_address() is None:
        pytest.skip("no non-loopback network interface: WebRTC ICE cannot connect here")
    return [*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={FAKE_VIDEO}"]


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
        assert page.get_by_text("Verdict:").count() == 1
    finally:
        context.close()
