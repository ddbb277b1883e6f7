"""Clinic portal entry point: role-based navigation with st.navigation.

A page is a file in pages/ plus one row in PAGES. Pages check the role themselves too
(components.session.require_role), so hiding a page from the menu is never the only guard.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class PageEntry:
    path: str
    title: str
    roles: tuple[str, ...]  # roles that see the page; ("anonymous",) = before log-in
    icon: str | None = None
    default: bool = False


PAGES: list[PageEntry] = [
    PageEntry("pages/login.py", "Log in", ("anonymous",), ":material/login:", default=True),
    PageEntry("pages/register.py", "Register", ("anonymous",), ":material/person_add:"),
]
