"""Log-in, log-out, registration and role guards through Streamlit's AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import ACCOUNTS, REPO_ROOT

LOGIN_PAGE = "pages/login.py"


def markdown_text(app) -> str:
    parts = [element.value for element in app.markdown] + [element.value for element in app.caption]
    return "\n".join(str(part) for part in parts)


def messages(app, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(app, kind)]


def test_login_page_is_the_landing_page_when_anonymous(app_as) -> None:
    app = app_as(None)
    assert not app.exception
    assert [title.value for title in app.title] == ["Log in"]
    assert app.text_input(key="login_email") is not None


def test_good_password_logs_in_and_lands_on_role_home(app_as) -> None:
    # AppTest re-runs only the page file after the first run, so the log-in page is tested on
    # its own and the landing page with a fresh app run that carries the new session token.
    login_page = app_as(None, page=LOGIN_PAGE)
    account = ACCOUNTS["physician"]
    login_page.text_input(key="login_email").input(account.email)
    login_page.text_input(key="login_password").input(account.password)
    login_page.button[0].click().run()
    assert not login_page.exception
    token = login_page.session_state["auth_token"]
    assert token
    app = app_as(None, token=token)
    assert not app.exception
    assert "Case queue" in [title.value for title in app.title]


def test_bad_password_is_refused_with_a_message(app_as) -> None:
    app = app_as(None, page=LOGIN_PAGE)
    app.text_input(key="login_email").input(ACCOUNTS["patient"].email)
    app.text_input(key="login_password").input("wrong-password-1")
    app.button[0].click().run()
    assert any("not correct" in text for text in messages(app, "error"))
    assert "auth_token" not in app.session_state


def test_account_locks_after_repeated_failures(app_as, clinic) -> None:
    app = app_as(None, page=LOGIN_PAGE)
    email = ACCOUNTS["patient"].email
    for _ in range(clinic.settings.max_failed_logins):
        app.text_input(key="login_email").input(email)
        app.text_input(key="login_password").input("wrong-password-1")
        app.button[0].click().run()
    assert any("locked" in text for text in messages(app, "error"))
    # Even the right password is refused while the lock lasts.
    app.text_input(key="login_password").input(ACCOUNTS["patient"].password)
    app.button[0].click().run()
    assert any("locked" in text for text in messages(app, "error"))
    assert "auth_token" not in app.session_state


def test_logout_takes_one_press(app_as, clinic) -> None:
    from core.auth import SessionExpired

    app = app_as("patient")
    assert "My consultations" in [title.value for title in app.title]
    token = app.session_state["auth_token"]
    app.sidebar.button(key="logout_button").click().run()
    assert "auth_token" not in app.session_state
    assert not [title.value for title in app.title]  # the page no longer renders
    with pytest.raises(SessionExpired):
        clinic.auth.resume(token)  # the server-side session is gone too
    # A fresh run of the app now shows the log-in page with the message.
    fresh = app_as(None)
    assert [title.value for title in fresh.title] == ["Log in"]


def test_expired_session_returns_to_login_with_a_message(app_as, clinic) -> None:
    app = app_as("patient")
    clinic.auth.logout(app.session_state["auth_token"])  # the server forgets it, as after idling
    app.run()
    assert "auth_token" not in app.session_state
    assert any("expired" in text for text in messages(app, "warning"))
    assert not [title.value for title in app.title]


def test_login_page_shows_the_flash_message(app_as) -> None:
    from components.session import FLASH_KEY

    app = AppTest.from_file(str(REPO_ROOT / "pages/login.py"))
    app.session_state[FLASH_KEY] = "Your session expired after a period of inactivity."
    app.run()
    assert any("expired" in text for text in messages(app, "info"))


def test_page_refuses_the_wrong_role(app_as) -> None:
    app = app_as("patient", page="pages/physician_queue.py")
    assert any("physician" in text for text in messages(app, "error"))
    assert not [title.value for title in app.title]


def test_page_refuses_anonymous_visitors(app_as) -> None:
    app = app_as(None, page="pages/admin_users.py")
    assert any("log in" in text.lower() for text in messages(app, "warning"))


def fill_registration(
    app, *, consent: bool, password: str = "Fresh-pass-123", confirm: str | None = None
) -> None:
    import datetime as dt

    app.text_input(key="reg_name").input("Nora Newpatient")
    app.text_input(key="reg_email").input("nora@example.test")
    app.text_input(key="reg_password").input(password)
    app.text_input(key="reg_password_confirm").input(confirm or password)
    app.date_input(key="reg_dob").set_value(dt.date(1991, 6, 2))
    if consent:
        app.checkbox(key="reg_consent").check()


def test_registration_requires_the_telemedicine_consent(app_as, clinic) -> None:
    app = app_as(None, page="pages/register.py")
    fill_registration(app, consent=False)
    app.button[0].click().run()
    assert any("telemedicine consent" in text for text in messages(app, "error"))
    assert "auth_token" not in app.session_state
    from core.auth import LoginFailed

    try:
        clinic.auth.login("nora@example.test", "Fresh-pass-123")
    except LoginFailed:
        pass
    else:
        raise AssertionError("an account was created without consent")


def test_registration_rejects_different_passwords(app_as) -> None:
    app = app_as(None, page="pages/register.py")
    fill_registration(app, consent=True, confirm="Other-pass-123")
    app.button[0].click().run()
    assert any("passwords differ" in text for text in messages(app, "error"))


def test_registration_creates_the_account_and_logs_in(app_as, clinic) -> None:
    app = app_as(None, page="pages/register.py")
    fill_registration(app, consent=True)
    app.button[0].click().run()
    assert not app.exception
    assert app.session_state["auth_token"]
    landing = app_as(None, token=app.session_state["auth_token"])
    assert "My consultations" in [title.value for title in landing.title]
    principal = clinic.auth.login("nora@example.test", "Fresh-pass-123").principal
    assert principal.role == "patient" and principal.display_name == "Nora Newpatient"


@pytest.fixture
def no_idle_allowed(data_dir, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions expire after 0 idle minutes: any pause between two runs ends the session."""
    monkeypatch.setenv("CLINIC_SESSION_IDLE_MINUTES", "0")


def test_idle_timeout_ends_the_session_on_the_next_run(no_idle_allowed, app_as) -> None:
    # Log-in and the page run are two moments: the pause between them exceeds the 0-minute limit.
    app = app_as("patient", page="pages/patient_my_consultations.py")
    assert "auth_token" not in app.session_state
    assert not [title.value for title in app.title]
    assert any("expired" in text for text in messages(app, "warning"))


def test_registration_with_a_taken_email_does_not_say_the_account_exists(app_as) -> None:
    app = app_as(None, page="pages/register.py")
    fill_registration(app, consent=True)
    app.text_input(key="reg_email").input(ACCOUNTS["patient"].email)
    app.button[0].click().run()
    errors = messages(app, "error")
    assert any("could not create an account" in text and "log in" in text for text in errors)
    assert not any("exists" in text or text.startswith("Email:") for text in errors)
    assert app.text_input(key="reg_name").value == "Nora Newpatient"  # nothing typed is lost


def _polling_page() -> None:
    import streamlit as st

    from components.session import session_fragment

    @session_fragment(run_every=60)
    def poll() -> None:
        st.markdown("polled")

    poll()


def _run_polling_page(token: str) -> AppTest:
    from components.session import TOKEN_KEY

    app = AppTest.from_function(_polling_page, default_timeout=30)
    app.session_state[TOKEN_KEY] = token
    return app.run()


def test_a_timed_fragment_runs_without_refreshing_the_session(app_as, clinic) -> None:
    account = ACCOUNTS["patient"]
    token = clinic.auth.login(account.email, account.password).token
    seen = clinic.db.fetchone("SELECT last_seen FROM sessions ORDER BY created_at DESC LIMIT 1")
    app = _run_polling_page(token)
    assert [m.value for m in app.markdown] == ["polled"]
    assert clinic.db.fetchone("SELECT last_seen FROM sessions ORDER BY created_at DESC LIMIT 1") == seen


def test_a_timed_fragment_after_the_idle_timeout_logs_out(no_idle_allowed, app_as, clinic) -> None:
    from components.session import FLASH_KEY

    account = ACCOUNTS["patient"]
    app = _run_polling_page(clinic.auth.login(account.email, account.password).token)
    assert "polled" not in [m.value for m in app.markdown]
    assert "auth_token" not in app.session_state
    assert "expired" in app.session_state[FLASH_KEY]
