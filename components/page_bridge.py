"""One invisible widget in the sidebar, on every run, for what only a script in the page can do.

- The language and direction of the portal's `<html>` (screen readers announce the right
  language; Arabic lays out right to left).
- On a narrow screen (a phone), closing the menu once a page was chosen: there it covers most of
  the page, and Streamlit closes it only for the phone browsers it recognises.
- The request that sets the HttpOnly session cookie after a log-in, or deletes it after a
  log-out (core/session_cookie.py): only an HTTP response can set such a cookie.
- Field errors tied to their fields (components/field_errors.py): `aria-invalid` and
  `aria-describedby` on the input while its error shows, `aria-required` on required fields
  (labels ending in " *"), kept after every re-render by a MutationObserver; and a visible focus
  ring on every control reached by keyboard (a constructed style sheet). Its own frame is left
  out of the Tab order.
- Streamlit's own markup where axe-core finds it wrong (tests/browser/test_accessibility*.py): the
  menu's sections become lists named by their headings, a photo's drop zone a named group, a
  progress bar is named by its words, and a date's or time's parts are 24 x 24 px targets.
- Streamlit's own widget words (the file uploader's, the camera's, a date field's, the menu
  button's) in the viewer's language, and its icon ligatures hidden from screen readers
  (components/widget_words.py, page_bridge_frontend/widget_words.js).
- Several app servers (components/room_move.py): moving the browser to the server that holds a
  live consult's room (Caddy's sticky cookie set to that server, then the page loaded again), and
  the server's id on `<html data-clinic-server>` (which server served a page; the tests read it).

It is a component (components/page_bridge_frontend/, plain HTML + JS served by the portal)
rather than an inline script, which the portal's Content-Security-Policy refuses. It sits in the
sidebar, at the same place on every run, so it never shifts the page's own elements (timed
fragments depend on their positions).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from components.i18n import tr
from components.room_move import pending_move
from components.session import CURRENT_PAGE_KEY, cookie_request, cookie_request_sent, get_clinic
from components.widget_words import widget_words

_widget = components.declare_component(
    "page_bridge", path=str(Path(__file__).parent / "page_bridge_frontend")
)


def render_page_bridge() -> None:
    translation = tr()
    request, nonce = cookie_request()
    with st.sidebar:
        answered = _widget(
            lang=translation.html_lang,
            dir=translation.direction,
            page=st.session_state.get(CURRENT_PAGE_KEY),  # a new page: the menu closes on a phone
            request=request,
            nonce=nonce,
            words=widget_words(translation),  # Streamlit's own words in this language (widget_words.js)
            move=pending_move(),
            server=get_clinic().settings.server_id,
            key="page-bridge",
            default=None,
        )
    if nonce is not None and answered == nonce:
        cookie_request_sent(nonce)
