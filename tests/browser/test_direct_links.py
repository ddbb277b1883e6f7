"""A fresh server whose first visitor opens a direct link (an e-mailed join link, a bookmark)
serves the portal's own page: app.py's menu, title and page bridge, not the bare page file.

Streamlit treats a `pages/` folder as an old-style multipage app until a run calls
st.navigation; portal.py switches that off. This module's server is its own (module-scoped
fixture), so the first script run it serves is the direct link below.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import PortalServer, login, open_page

pytestmark = pytest.mark.browser

MENU_LINKS = '[data-testid="stSidebarNavLink"]'


def test_the_first_visit_by_a_direct_link_gets_the_portal_page(page, portal: PortalServer) -> None:
    open_page(page, portal, "patient_live_consult?room=an-emailed-code")
    # Before log-in the menu offers only "Log in" and "Register"; the page asks to log in.
    page.get_by_text("Please log in to see this page.").wait_for()
    assert page.locator(MENU_LINKS).count() == 2
    assert page.title().startswith("Live consult")
    # The page bridge ran (it sets the document language from the portal's choice).
    page.wait_for_function("() => document.documentElement.getAttribute('lang') === 'en'")

    open_page(page, portal, "register")
    assert page.title().startswith("Register")
    assert page.locator(MENU_LINKS).count() == 2

    login(page, portal, "patient")
    open_page(page, portal, "admin_audit")  # another role's page by its link: refused, no admin menu
    page.get_by_role("button", name="Log out").wait_for()
    assert page.locator(MENU_LINKS).filter(has_text="Audit log").count() == 0
