"""The language of this browser session, and `_()` / `ngettext()` for pages and components.

The language is, in order: the one chosen with the language picker in this session, the
patient's stored preferred language once logged in, the browser's preferred language
(Accept-Language, Streamlit's `st.context`), English. `apply_language()` (app.py, every run)
sets the page's `lang` and, for Arabic, lays the page out right to left.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.i18n import (
    LANGUAGES,
    N_,
    PSEUDO_LOCALE,
    SOURCE_LANGUAGE,
    Translator,
    negotiate,
    normalise_language,
    translator,
)

__all__ = [
    "LANGUAGE_KEY",
    "N_",
    "_",
    "account_language_picker",
    "apply_language",
    "current_language",
    "language_picker",
    "ngettext",
    "tr",
]

LANGUAGE_KEY = "ui_language"  # chosen with the picker in this session (or the pseudo-locale in tests)
_PRINCIPAL_KEY = "auth_principal"  # components.session.PRINCIPAL_KEY (no import: session imports us)


def browser_language() -> str:
    """The browser's preferred language among LANGUAGES (English when none matches)."""
    header = None
    try:
        header = st.context.headers.get("Accept-Language")
    except Exception:  # noqa: BLE001 - no request context (AppTest, bare mode)
        header = None
    if header:
        return negotiate(header)
    try:
        locale = st.context.locale
    except Exception:  # noqa: BLE001 - as above
        locale = None
    return normalise_language(locale) or SOURCE_LANGUAGE


_last_language = SOURCE_LANGUAGE  # for label functions called outside a script run (AppTest only)


def current_language() -> str:
    global _last_language
    if get_script_run_ctx() is None:
        # Streamlit calls a widget's format_func inside the script run; only a test harness
        # calls it afterwards, from its own thread: the language of the last run then.
        return _last_language
    chosen = normalise_language(st.session_state.get(LANGUAGE_KEY))
    principal = st.session_state.get(_PRINCIPAL_KEY)
    language = chosen or normalise_language(getattr(principal, "language", None)) or browser_language()
    _last_language = language
    return language


def tr() -> Translator:
    """The translator of this session's language."""
    return translator(current_language())


def _(message: str, /, **values: Any) -> str:
    """`message` in this session's language, named placeholders filled from `values`."""
    return tr().gettext(message, **values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    return tr().ngettext(singular, plural, n, **values)


def apply_language() -> None:
    """Lay the page out right to left for Arabic. (The <html> element's language and direction
    are set by components/page_bridge.py: a script, which must come from a file under the CSP.)"""
    if tr().direction == "rtl":
        # The frame around the page stays left to right (Streamlit folds its menu away to the left;
        # right to left, the folded menu's words would spill over the page on a phone); the page
        # and the open menu read right to left.
        st.html(
            "<style>[data-testid='stAppViewContainer'] { direction: ltr; }"
            " [data-testid='stMain'], [data-testid='stSidebar'][data-collapsed='false']"
            " { direction: rtl; text-align: right; }"
            # What people typed (a report written in English) keeps its own direction.
            " [data-testid='stText'] { unicode-bidi: plaintext; }"
            # Progress fills from the right, where an Arabic reader starts (Streamlit draws it from the left).
            " [data-testid='stProgress'] [role='progressbar'] { transform: scaleX(-1); }</style>",
            width="content",
        )


def _remember_choice() -> None:
    st.session_state[LANGUAGE_KEY] = st.session_state["language_picker"]


def language_picker() -> str:
    """A language choice (before an account exists): defaults to the browser's language."""
    current = current_language()
    choices = list(LANGUAGES)
    if current == PSEUDO_LOCALE:
        choices.append(PSEUDO_LOCALE)
    st.session_state.setdefault("language_picker", current)
    chosen = st.selectbox(
        _("Language"),
        choices,
        format_func=lambda code: LANGUAGES.get(str(code), str(code)),
        key="language_picker",
        on_change=_remember_choice,
    )
    return str(chosen or current)


def _store_account_choice(principal: Any) -> None:
    """The sidebar choice, stored on the account at once (a later log-in anywhere keeps it)."""
    from components.session import get_clinic

    chosen = normalise_language(st.session_state.get("account_language_picker"))
    if not chosen or chosen == PSEUDO_LOCALE:
        st.session_state[LANGUAGE_KEY] = st.session_state.get("account_language_picker")
        return
    get_clinic().auth.set_language(principal, chosen)
    st.session_state.pop(LANGUAGE_KEY, None)  # the account's language now decides


def account_language_picker(principal: Any) -> str:
    """The language choice of a signed-in account (sidebar): stored on the account, applied at once."""
    current = current_language()
    choices = list(LANGUAGES)
    if current == PSEUDO_LOCALE:
        choices.append(PSEUDO_LOCALE)
    if st.session_state.get("account_language_picker") not in choices or current != st.session_state.get(
        "account_language_picker"
    ):
        st.session_state["account_language_picker"] = current
    chosen = st.selectbox(
        _("Language"),
        choices,
        format_func=lambda code: LANGUAGES.get(str(code), str(code)),
        key="account_language_picker",
        on_change=_store_account_choice,
        args=(principal,),
    )
    return str(chosen or current)
