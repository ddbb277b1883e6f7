"""Clinic portal entry point: role-based navigation with st.navigation.

A page is a file in pages/ plus one row in PAGES. Pages check the role themselves too
(components.session.require_role), so hiding a page from the menu is never the only guard.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from components.i18n import N_, _, apply_language, ngettext

if TYPE_CHECKING:
    from core.access import Principal


@dataclass(frozen=True)
class PageEntry:
    path: str
    title: str
    roles: tuple[str, ...]  # roles that see the page; ("anonymous",) = before log-in
    icon: str | None = None
    default: bool = False  # the landing page of the roles that see it
    section: str | None = None  # menu group; None = the role's main group (see ROLE_SECTIONS)


PAGES: list[PageEntry] = [
    PageEntry("pages/login.py", N_("Log in"), ("anonymous",), ":material/login:", default=True),
    PageEntry("pages/register.py", N_("Register"), ("anonymous",), ":material/person_add:"),
    PageEntry(
        "pages/patient_my_consultations.py",
        N_("My consultations"),
        ("patient",),
        ":material/folder_shared:",
        default=True,
    ),
    PageEntry(
        "pages/patient_new_consultation.py", N_("New consultation"), ("patient",), ":material/add_a_photo:"
    ),
    PageEntry("pages/patient_photo_guide.py", N_("Photo guide"), ("patient",), ":material/photo_camera:"),
    PageEntry("pages/physician_queue.py", N_("Case queue"), ("physician",), ":material/inbox:", default=True),
    PageEntry("pages/physician_case.py", N_("Case"), ("physician",), ":material/clinical_notes:"),
    PageEntry("pages/physician_agenda.py", N_("Agenda"), ("physician",), ":material/event_note:"),
    PageEntry("pages/physician_archive.py", N_("Case archive"), ("physician",), ":material/inventory_2:"),
    PageEntry("pages/physician_live_consult.py", N_("Live consult"), ("physician",), ":material/video_call:"),
    PageEntry("pages/patient_live_consult.py", N_("Live consult"), ("patient",), ":material/video_call:"),
    PageEntry("pages/admin_users.py", N_("Users"), ("admin",), ":material/group:", default=True),
    PageEntry("pages/admin_patients.py", N_("Patients"), ("admin",), ":material/person_remove:"),
    PageEntry("pages/admin_audit.py", N_("Audit log"), ("admin",), ":material/fact_check:"),
]

# The browser tab's icon: a file served by the portal itself (a Material icon here would make the
# browser fetch it from Google's font CDN: nothing a page shows may come from outside the clinic).
PAGE_ICON = str(Path(__file__).resolve().parent / "assets" / "clinic_icon.png")

# Menu heading of each role's main group; rows with their own `section` get their own heading.
ROLE_SECTIONS: dict[str, str] = {
    "anonymous": N_("Welcome"),
    "patient": N_("My care"),
    "physician": N_("Clinical work"),
    "admin": N_("Administration"),
}


def build_menu(role: str, badges: Mapping[str, str] | None = None) -> tuple[dict[str, list[st.Page]], str]:
    """The role's pages grouped by section, and the path of its landing page.

    `badges` adds a note to a visible page's title, by path: {"pages/x.py": "1 waiting"} shows
    "Title (1 waiting)". Every other page is registered too, hidden: an old URL (e.g. the page
    someone was on when they logged out) then still resolves, and the page's own role check
    answers it clearly.
    """
    badges = badges or {}
    visible = [entry for entry in PAGES if role in entry.roles]
    landing = next((entry for entry in visible if entry.default), visible[0] if visible else PAGES[0])
    menu: dict[str, list[st.Page]] = {}
    for entry in visible:
        heading = _(entry.section or ROLE_SECTIONS.get(role, role.title()))
        title = _(entry.title)
        menu.setdefault(heading, []).append(
            st.Page(
                entry.path,
                title=_("{page} ({note})", page=title, note=badges[entry.path])
                if badges.get(entry.path)
                else title,
                icon=entry.icon,
                default=entry is landing,
            )
        )
    first_section = next(iter(menu)) if menu else _(ROLE_SECTIONS.get(role, N_("Pages")))
    for entry in PAGES:
        if entry not in visible:
            menu.setdefault(first_section, []).append(
                st.Page(entry.path, title=_(entry.title), icon=entry.icon, visibility="hidden")
            )
    return menu, landing.path


def menu_badges(principal: Principal | None) -> dict[str, str]:
    """Counts shown in menu titles, computed at each run: for a physician, the patients waiting
    in their live consults. A failure here costs the count, never the menu."""
    if principal is None or principal.role != "physician":
        return {}
    try:
        from components.ar_panel import PHYSICIAN_LIVE_PAGE, remember_waiting_in_menu, waiting_count
    except Exception:  # noqa: BLE001 - the menu must render whatever the live consult does
        logging.getLogger(__name__).exception("the live consult component cannot be loaded")
        return {}
    try:
        count = waiting_count(principal)
    except Exception:  # noqa: BLE001 - as above
        logging.getLogger(__name__).exception("cannot count the patients waiting in live consults")
        count = None
    remember_waiting_in_menu(count)  # None: no count shown, so the queue's banner does not chase it
    return {PHYSICIAN_LIVE_PAGE: ngettext("{n} waiting", "{n} waiting", count)} if count else {}


def return_page(
    menu: Mapping[str, list[st.Page]], requested: tuple[str, dict[str, str]] | None
) -> tuple[st.Page, dict[str, str]] | None:
    """The page asked for before log-in (with its query), if the new role sees it in its menu."""
    if requested is None:
        return None
    url_path, query = requested
    for page in (page for pages in menu.values() for page in pages):
        if page.url_path == url_path and page.visibility == "visible":
            return page, query
    return None


def main() -> None:
    from components.page_bridge import render_page_bridge
    from components.session import (
        CURRENT_PAGE_KEY,
        LANDING_PAGE_KEY,
        current_principal,
        get_clinic,
        pop_go_home,
        pop_return_to,
        render_account_sidebar,
    )

    clinic_name = get_clinic().settings.clinic_name
    st.set_page_config(page_title=clinic_name, page_icon=PAGE_ICON, layout="wide")
    principal = current_principal()
    role = principal.role if principal else "anonymous"
    menu, landing_path = build_menu(role, menu_badges(principal))
    st.session_state[LANDING_PAGE_KEY] = landing_path
    page = st.navigation(menu)
    st.session_state[CURRENT_PAGE_KEY] = page.url_path
    # Every page its own browser title ("Log in · Clinic"): the page the screen reader announces.
    st.set_page_config(page_title=_("{page} · {clinic}", page=page.title, clinic=clinic_name))
    if pop_go_home():  # after log-in, log-out or an expired session: the role's landing page
        target = return_page(menu, pop_return_to())  # or the page (e.g. an e-mailed link) asked for first
        if target is not None:
            st.switch_page(target[0], query_params=target[1])
        st.switch_page(landing_path)
    apply_language()
    render_page_bridge()  # <html lang/dir>, the session cookie
    with st.sidebar:
        st.markdown(f"**{clinic_name}**")
    if principal is not None:
        render_account_sidebar(principal)
    page.run()


if __name__ == "__main__":
    main()
