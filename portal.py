"""The portal's server: the Streamlit app (app.py) plus its HTTP routes.

`streamlit run portal.py` serves them on one port; `app.py` stays the Streamlit script (its
pages and menu). The live consult's signalling routes live in core/live/http.py, the session
cookie's in core/session_cookie.py.
"""

from __future__ import annotations

import streamlit as st

from core import session_cookie
from core.live.http import routes as live_consult_routes

app = st.App("app.py", routes=[*live_consult_routes(), *session_cookie.routes()])
