"""Session helpers every page uses: the process-wide Clinic, the logged-in principal, role checks.

The session token lives in `st.session_state` (never in the URL) and, so that a reload or a new
tab stays logged in, in an HttpOnly cookie the server sets (core/session_cookie.py). On every
script run the token is re-validated with `clinic.auth.resume`, which also enforces the idle
timeout and the absolute lifetime; an expired session sends the user back to the log-in page
with a message.
A fragment re-runs alone (a timed poll never reaches `require_role`): declare it with
`session_fragment`, which re-checks the session first without counting the poll as activity.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st

from components.i18n import LANGUAGE_KEY, N_, _, account_language_picker
from components.page_links import link_to_page

if TYPE_CHECKING:
    from core.access import Principal
    from core.clinic import Clinic

_Body = TypeVar("_Body", bound=Callable[..., Any])
# Flash messages are stored in English (the catalog's message id) and translated when shown.
EXPIRED_MESSAGE = N_("Your session expired after a period of inactivity. Please log in again.")
LOGGED_OUT_MESSAGE = N_("You have been logged out.")

TOKEN_KEY = "auth_token"
PRINCIPAL_KEY = "auth_principal"
FLASH_KEY = "auth_flash"  # one-shot message shown on the log-in page (expired, logged out)
GO_HOME_KEY = "auth_go_home"  # app.py switches to the role's landing page on the next run
LANDING_PAGE_KEY = "landing_page"  # set by app.py on every run: the current role's landing page
CURRENT_PAGE_KEY = "current_page"  # set by app.py on every run: the url path of the page shown
RETURN_TO_KEY = "auth_return_to"  # (url path, query params) asked for before logging in
COOKIE_CODE_KEY = "auth_cookie_code"  # one-time code the page trades for the session cookie
COOKIE_END_KEY = "auth_cookie_end"  # the page asks the server to delete the session cookie
# This connection ignores the cookie it was opened with (logged out or expired since): Streamlit
# sees the cookies of the connection's first request for as long as the connection lives.
COOKIE_IGNORED_KEY = "auth_cookie_ignored"


@st.cache_resource(show_spinner=False)
def _open_clinic(data_dir: str) -> Clinic:
    # Keyed by the data directory so tests that point CLINIC_DATA_DIR elsewhere get their own.
    from core.clinic import shared_clinic
    from core.config import Settings

    clinic = shared_clinic(Settings.from_env())
    # The server e-mails appointment reminders every few minutes when SMTP is configured;
    # Clinic.close stops the thread.
    clinic.notifications.start_reminders()
    return clinic


def get_clinic() -> Clinic:
    """The one Clinic of this server process (settings from the environment)."""
    from core.paths import data_dir

    clinic = _open_clinic(str(data_dir()))
    if clinic.closed:  # closed by a test or an operator command: open it again
        _open_clinic.clear()
        clinic = _open_clinic(str(data_dir()))
    return clinic


def set_flash(message: str) -> None:
    st.session_state[FLASH_KEY] = message


def pop_flash() -> str | None:
    """The one-shot message, in the reader's language."""
    message = st.session_state.pop(FLASH_KEY, None)
    return _(message) if message else None


def request_go_home() -> None:
    st.session_state[GO_HOME_KEY] = True


def pop_go_home() -> bool:
    return bool(st.session_state.pop(GO_HOME_KEY, False))


def remember_return_to() -> None:
    """Keep the page (and its query, e.g. an e-mailed `?room=` link) asked for before log-in:
    the menu's log-in link drops the query, and app.py goes back to it after log-in."""
    page = st.session_state.get(CURRENT_PAGE_KEY)
    if page:
        st.session_state[RETURN_TO_KEY] = (page, st.query_params.to_dict())


def pop_return_to() -> tuple[str, dict[str, str]] | None:
    return st.session_state.pop(RETURN_TO_KEY, None)


def start_session(token: str, principal: Principal) -> None:
    """Remember a fresh log-in; called by the log-in and registration pages."""
    from core import session_cookie

    st.session_state[TOKEN_KEY] = token
    st.session_state[PRINCIPAL_KEY] = principal
    lifetime_s = get_clinic().settings.session_max_hours * 3600
    st.session_state[COOKIE_CODE_KEY] = session_cookie.codes.issue(token, lifetime_s)
    st.session_state.pop(COOKIE_IGNORED_KEY, None)
    if getattr(principal, "language", None):
        st.session_state.pop(LANGUAGE_KEY, None)  # the language stored on the account wins
    request_go_home()


def clear_session() -> None:
    for key in (TOKEN_KEY, PRINCIPAL_KEY):
        st.session_state.pop(key, None)


def current_principal() -> Principal | None:
    """The logged-in principal, re-validated (idle timeout) on every run; None when anonymous.

    A new browser connection (a reload, a new tab) picks the session up from the cookie."""
    from core.auth import SessionExpired
    from core.session_cookie import COOKIE_NAME

    token = st.session_state.get(TOKEN_KEY)
    from_cookie = False
    if (
        not token
        and not st.session_state.get(COOKIE_IGNORED_KEY)
        and not st.session_state.get(COOKIE_END_KEY)
    ):
        cookie = _request_cookie(COOKIE_NAME)
        token, from_cookie = cookie, bool(cookie)
    if not token:
        return None
    try:
        principal = get_clinic().auth.resume(token)
    except SessionExpired:
        clear_session()
        if from_cookie:
            # A fresh page with a dead cookie (logged out or expired earlier): the log-in page,
            # and the browser drops the cookie.
            st.session_state[COOKIE_END_KEY] = True
            return None
        # The token is dead on the server, so the cookie is harmless; deleting it now would
        # rerun the page and wipe the message. The next fresh page drops it.
        st.session_state[COOKIE_IGNORED_KEY] = True
        set_flash(EXPIRED_MESSAGE)
        request_go_home()
        return None
    st.session_state[TOKEN_KEY] = token
    st.session_state[PRINCIPAL_KEY] = principal
    return principal


def _request_cookie(name: str) -> str | None:
    """A cookie of the browser's request, when there is one (AppTest and bare runs have none)."""
    try:
        value = st.context.cookies.get(name)
    except Exception:  # noqa: BLE001 - no request context: no cookie
        return None
    return value if isinstance(value, str) and value else None


def fragment_session_alive() -> bool:
    """Whether a fragment may run: the session is still valid (not refreshed: a poll is not
    activity). When it has just ended, the user is logged out and the whole page runs again,
    which then shows the log-in message; with no session at all the fragment simply stays empty."""
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        return False
    from core.auth import SessionExpired

    try:
        get_clinic().auth.resume(token, touch=False)
    except SessionExpired:
        clear_session()
        set_flash(EXPIRED_MESSAGE)
        request_go_home()
        st.rerun(scope="app")
    return True


def session_fragment(run_every: float | None = None) -> Callable[[_Body], _Body]:
    """`st.fragment(run_every=...)` whose every run re-validates the session first."""

    def decorate(body: _Body) -> _Body:
        @functools.wraps(body)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not fragment_session_alive():
                return None
            return body(*args, **kwargs)

        return st.fragment(guarded, run_every=run_every)  # type: ignore[return-value]

    return decorate


def logout() -> None:
    """Sidebar button callback: runs before the next script run, so one press is enough."""
    token = st.session_state.get(TOKEN_KEY)
    if token:
        # The local session ends whatever the server says.
        with contextlib.suppress(Exception):
            get_clinic().auth.logout(token)
    # Drop everything the user typed too: the next person at this browser starts clean.
    language = st.session_state.get(LANGUAGE_KEY)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if language:
        st.session_state[LANGUAGE_KEY] = language  # the log-in page stays in the language chosen
    # The server deleted the session, so the cookie is dead; it is dropped at the next fresh page
    # (deleting it now would rerun the page and wipe the message below).
    st.session_state[COOKIE_IGNORED_KEY] = True
    set_flash(LOGGED_OUT_MESSAGE)
    request_go_home()


def principal_label(principal: Principal) -> str:
    name = getattr(principal, "display_name", None) or getattr(principal, "name", None)
    email = getattr(principal, "email", None)
    return str(name or email or principal.user_id)


ROLE_LABELS: dict[str, str] = {
    "patient": N_("patient"),
    "physician": N_("physician"),
    "admin": N_("administrator"),
}


def role_label(role: str) -> str:
    return _(ROLE_LABELS[role]) if role in ROLE_LABELS else role


def render_account_sidebar(principal: Principal) -> None:
    with st.sidebar:
        st.caption(
            _(
                "Signed in as **{name}** ({role})",
                name=principal_label(principal),
                role=role_label(principal.role),
            )
        )
        account_language_picker(principal)
        st.button(_("Log out"), key="logout_button", on_click=logout, icon=":material/logout:")


def signed_in_as(*roles: str) -> Principal | None:
    """The principal when their role is one of `roles`; otherwise None after a clear message.

    For pages that show a timed fragment: they must end the run by returning (see
    docs/ARCHITECTURE.md, "Timed fragments"), so they cannot use `require_role`'s st.stop()."""
    principal = current_principal()
    if principal is None:
        remember_return_to()
        flash = pop_flash()
        if flash:
            st.warning(flash)
        st.warning(_("Please log in to see this page."))
        link_to_page("pages/login.py", _("Log in"), ":material/login:")
        return None
    if roles and principal.role not in roles:
        st.error(
            _(
                "This page is for {roles} accounts; you are logged in as {role}.",
                roles=" / ".join(role_label(role) for role in roles),
                role=role_label(principal.role),
            )
        )
        return None
    return principal


def require_role(*roles: str) -> Principal:
    """The principal when their role is one of `roles`; otherwise a clear message and st.stop()."""
    principal = signed_in_as(*roles)
    if principal is None:
        st.stop()
    return principal


def cookie_request() -> tuple[dict[str, object] | None, str | None]:
    """The pending request for the session cookie ({path, body}) and its one-time nonce, or
    (None, None). components/page_bridge.py sends it from the page."""
    from core.session_cookie import END_PATH, START_PATH

    code = st.session_state.get(COOKIE_CODE_KEY)
    if code:
        return {"path": START_PATH, "body": {"code": code}}, code
    if st.session_state.get(COOKIE_END_KEY):
        return {"path": END_PATH, "body": {}}, "end"
    return None, None


def cookie_request_sent(nonce: str) -> None:
    """The page made the request: do not send it again."""
    if st.session_state.get(COOKIE_CODE_KEY) == nonce:
        st.session_state.pop(COOKIE_CODE_KEY, None)
    elif nonce == "end":
        st.session_state.pop(COOKIE_END_KEY, None)
