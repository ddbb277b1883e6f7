"""A reload (phones reload a tab whenever the patient switches to the camera) or a new tab keeps
the log-in: the session rides in an HttpOnly, SameSite=Strict cookie that no script can read; after logging
out it logs nobody in and the next page drops it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PortalServer, login, logout, wait_for_app

pytestmark = pytest.mark.browser

COOKIE = "clinic_session"


def _session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def _wait_for_cookie(page, present: bool) -> dict | None:
    for _ in range(100):  # the page asks the server for it right after the run that logged in
        cookie = _session_cookie(page.context)
        if (cookie is not None) == present:
            return cookie
        page.wait_for_timeout(100)
    raise AssertionError(f"session cookie {'never set' if present else 'never removed'}")


def test_a_reload_and_a_new_tab_stay_logged_in_until_log_out(page, portal: PortalServer) -> None:
    login(page, portal, "patient")
    cookie = _wait_for_cookie(page, present=True)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert COOKIE not in page.evaluate("document.cookie")  # no script can read the token

    page.reload()
    wait_for_app(page)
    page.get_by_role("button", name="Log out").wait_for()
    page.get_by_role("heading", name="My consultations").wait_for()

    second = page.context.new_page()  # a new tab of the same browser
    second.goto(portal.url())
    wait_for_app(second)
    second.get_by_role("button", name="Log out").wait_for()
    second.close()

    logout(page)
    page.get_by_text("You have been logged out.").wait_for()  # and it stays
    page.wait_for_timeout(1500)
    assert page.get_by_text("You have been logged out.").count() == 1
    page.reload()  # the dead cookie logs nobody in, and the fresh page drops it
    wait_for_app(page)
    page.get_by_role("button", name="Log in").wait_for()
    assert page.get_by_role("button", name="Log out").count() == 0
    _wait_for_cookie(page, present=False)
