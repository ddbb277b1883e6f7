"""Patient registration: account details plus the telemedicine consent (required)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import available_timezones

import streamlit as st

from components.session import LANDING_PAGE_KEY, current_principal, get_clinic, start_session

TELEMEDICINE_CONSENT_TEXT = """
**Consent to telemedicine consultations**

- A physician of the clinic assesses your concern from the information and photos you send;
  this is not an emergency service. For urgent problems contact your GP or emergency services.
- A remote assessment has limits. The physician may advise an in-person visit before any treatment.
- Your data and photos are stored encrypted and are seen only by the clinic's physicians and by you.
  Every access is recorded in an audit log.
- You can withdraw this consent at any time by contacting the clinic; records the law requires
  us to keep are kept for the legal retention period.
"""

LANGUAGES: dict[str, str] = {
    "en": "English",
    "nl": "Nederlands",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
}


@st.cache_data
def timezone_choices() -> list[str]:
    return sorted(
        zone for zone in available_timezones() if "/" in zone and not zone.startswith(("Etc/", "SystemV/"))
    )


def default_timezone(choices: list[str], clinic_zone: str) -> str:
    # The browser's zone when Streamlit knows it, else the clinic's own zone.
    browser_zone = st.context.timezone
    for zone in (browser_zone, clinic_zone, "Europe/Amsterdam"):
        if zone in choices:
            return zone
    return choices[0]


clinic = get_clinic()
if current_principal() is not None and st.session_state.get(LANDING_PAGE_KEY):
    st.switch_page(st.session_state[LANDING_PAGE_KEY])  # already logged in
st.title("Create a patient account")

zones = timezone_choices()
zone_default = default_timezone(zones, clinic.settings.clinic_timezone)

with st.form("register_form"):
    name = st.text_input("Full name", key="reg_name", autocomplete="name")
    email = st.text_input("Email", key="reg_email", autocomplete="email")
    col_pw, col_confirm = st.columns(2)
    password = col_pw.text_input(
        "Password",
        type="password",
        key="reg_password",
        autocomplete="new-password",
        help="At least 10 characters and hard to guess: three or four unrelated words work well.",
    )
    confirm = col_confirm.text_input(
        "Confirm password", type="password", key="reg_password_confirm", autocomplete="new-password"
    )
    date_of_birth = st.date_input(
        "Date of birth",
        value=None,
        key="reg_dob",
        min_value=dt.date(1900, 1, 1),
        max_value=dt.date.today(),
        format="DD/MM/YYYY",
    )
    col_lang, col_zone = st.columns(2)
    language = col_lang.selectbox(
        "Preferred language", list(LANGUAGES), format_func=LANGUAGES.__getitem__, key="reg_language"
    )
    timezone = col_zone.selectbox("Time zone", zones, index=zones.index(zone_default), key="reg_timezone")
    st.markdown(TELEMEDICINE_CONSENT_TEXT)
    consent = st.checkbox("I have read and accept the telemedicine consent", key="reg_consent")
    submitted = st.form_submit_button("Create account", type="primary")

if submitted:
    problems: list[str] = []
    if not consent:
        problems.append("Please accept the telemedicine consent to create an account.")
    if password != confirm:
        problems.append("The two passwords differ.")
    if date_of_birth is None:
        problems.append("Please enter your date of birth.")
    if problems:
        for problem in problems:
            st.error(problem)
    else:
        from core.access import ValidationError

        try:
            clinic.auth.register_patient(
                email=email.strip(),
                password=password,
                name=name.strip(),
                date_of_birth=date_of_birth,
                language=language,
                timezone=timezone,
                accepted_telemedicine_consent=consent,
            )
            session = clinic.auth.login(email.strip(), password)
        except ValidationError as error:
            # Field-by-field messages when core gives them, else the one message.
            details = getattr(error, "errors", None) or {"": str(error)}
            for field_name, message in details.items():
                st.error(f"{field_name.replace('_', ' ').capitalize()}: {message}" if field_name else message)
        else:
            for key in ("reg_password", "reg_password_confirm"):
                st.session_state.pop(key, None)
            start_session(session.token, session.principal)
            st.rerun()
