"""The portal's server: the Streamlit app (app.py) plus its HTTP routes.

`streamlit run portal.py` serves them on one port; `app.py` stays the Streamlit script (its
pages and menu). The live consult's signalling routes live in core/live/http.py, the session
cookie's in core/session_cookie.py.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from core import session_cookie
from core.live.http import routes as live_consult_routes

# app.py's st.navigation is the only menu. Streamlit would otherwise treat the pages/ folder as an
# old-style multipage app until the first run that calls st.navigation: a server whose first
# visitor opened a direct link (an e-mailed join link, a bookmark) ran that page without app.py
# (no language, no page bridge, every page in the menu) for everyone until someone opened "/".
PagesManager.uses_pages_directory = False

app = st.App("app.py", routes=[*live_consult_routes(), *session_cookie.routes()])
