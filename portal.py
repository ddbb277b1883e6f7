"""The portal's server: the Streamlit app (app.py) plus the live consult's signalling routes.

`streamlit run portal.py` serves both on one port; `app.py` stays the Streamlit script (its
pages and menu). The routes live in core/live/http.py.
"""

from __future__ import annotations

import streamlit as st

from core.live.http import routes as live_consult_routes

app = st.App("app.py", routes=live_consult_routes())
