"""Run one page of the portal in Streamlit's AppTest as a logged-in account (no browser)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_page_as(clinic, email: str, password: str, page: str, query: dict[str, str] | None = None) -> AppTest:
    """`page` (e.g. "pages/physician_agenda.py") run once for `email`, with `query` as URL params."""
    from components.session import TOKEN_KEY

    app = AppTest.from_file(str(REPO_ROOT / page), default_timeout=60)
    app.session_state[TOKEN_KEY] = clinic.auth.login(email, password).token
    for key, value in (query or {}).items():
        app.query_params[key] = value
    return app.run()
