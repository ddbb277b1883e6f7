"""Patient registration: account details plus the telemedicine consent (required), in the
chosen language (core/consent_texts/, versioned per language; the version shown is recorded).

A language picker comes first (the browser's language by default); the choice is stored on the
account. Errors are shown right under their field, naming it, after the page re-runs.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import available_timezones

import streamlit as st

from components.field_errors import field_error as show_field_error
from components.i18n import N_, _, current_language, language_picker
from components.page_links import link_to_page
from components.session import LANDING_PAGE_KEY, current_principal, get_clinic, start_session
from core.consent import consent_text
from core.vocabulary import CONSENT_TELEMEDICINE

ERRORS_KEY = "reg_errors"
# Field labels, also used to name the field in its error message.
FIELD_LABELS: dict[str, str] = {
    "name": N_("Full name"),
    "email": N_("Email"),
    "password": N_("Password"),
    "password_confirm": N_("Confirm password"),
    "date_of_birth": N_("Date of birth"),
    "language": N_("Preferred language"),
    "timezone": N_("Time zone"),
    "telemedicine_consent": N_("I have read and accept the telemedicine consent"),
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


def label(field: str) -> str:
    return _(FIELD_LABELS[field])


def field_error(field: str, input_key: str) -> None:
    """The message of the last attempt for `field`, right under it, naming the field and tied to
    the widget keyed `input_key` for screen readers (components/field_errors.py)."""
    message = st.session_state.get(ERRORS_KEY, {}).get(field)
    show_field_error(input_key, label(field), _(message) if message else None)


clinic = get_clinic()
if current_principal() is not None and st.session_state.get(LANDING_PAGE_KEY):
    st.switch_page(st.session_state[LANDING_PAGE_KEY])  # already logged in
language_picker()
st.title(_("Create a patient account"))
st.caption(_("Fields marked * are required."))

zones = timezone_choices()
zone_default = default_timezone(zones, clinic.settings.clinic_timezone)

with st.form("register_form"):
    name = st.text_input(f"{label('name')} *", key="reg_name", autocomplete="name")
    field_error("name", "reg_name")
    email = st.text_input(f"{label('email')} *", key="reg_email", autocomplete="email")
    field_error("email", "reg_email")
    col_pw, col_confirm = st.columns(2)
    with col_pw:
        password = st.text_input(
            f"{label('password')} *",
            type="password",
            key="reg_password",
            autocomplete="new-password",
            help=_("At least 10 characters and hard to guess: three or four unrelated words work well."),
        )
        field_error("password", "reg_password")
    with col_confirm:
        confirm = st.text_input(
            f"{label('password_confirm')} *",
            type="password",
            key="reg_password_confirm",
            autocomplete="new-password",
        )
        field_error("password_confirm", "reg_password_confirm")
    date_of_birth = st.date_input(
        f"{label('date_of_birth')} *",
        value=None,
        key="reg_dob",
        min_value=dt.date(1900, 1, 1),
        max_value=dt.date.today(),
        format="DD/MM/YYYY",
        help=_("Day/month/year, for example 31/12/1980."),
    )
    field_error("date_of_birth", "reg_dob")
    st.caption(_("The language you choose above is stored with your account."))
    timezone = st.selectbox(
        f"{label('timezone')} *", zones, index=zones.index(zone_default), key="reg_timezone"
    )
    field_error("timezone", "reg_timezone")
    # Legal text: a file per language with its own version (core/consent.py), not the catalog.
    consent_shown = consent_text(CONSENT_TELEMEDICINE, current_language())
    st.markdown(consent_shown.markdown)
    st.caption(_("Consent text version {version}", version=consent_shown.version))
    consent = st.checkbox(f"{label('telemedicine_consent')} *", key="reg_consent")
    field_error("telemedicine_consent", "reg_consent")
    submitted = st.form_submit_button(_("Create account"), type="primary")

for message in st.session_state.get(ERRORS_KEY, {}).get("", []):
    st.error(_(message))
if st.session_state.get(ERRORS_KEY, {}).get(""):  # e.g. "registered before? log in instead"
    link_to_page("pages/login.py", _("Log in"), ":material/login:")

if submitted:
    problems: dict[str, str] = {}
    if not consent:
        problems["telemedicine_consent"] = N_("Please accept the telemedicine consent to create an account.")
    if password != confirm:
        problems["password_confirm"] = N_("The two passwords differ.")
    if date_of_birth is None:
        problems["date_of_birth"] = N_("Please enter your date of birth.")
    if not problems and date_of_birth is not None:  # (None is a problem above)
        from core.access import ValidationError

        try:
            clinic.auth.register_patient(
                email=email.strip(),
                password=password,
                name=name.strip(),
                date_of_birth=date_of_birth,
                language=current_language(),
                timezone=timezone,
                accepted_telemedicine_consent=consent,
                consent_version=consent_shown.version,  # the version this page showed
            )
            session = clinic.auth.login(email.strip(), password)
        except ValidationError as error:
            # Field-by-field messages from core; one without a field is shown under the form.
            problems = {field: message for field, message in error.errors.items() if field in FIELD_LABELS}
            general = [message for field, message in error.errors.items() if field not in FIELD_LABELS]
            st.session_state[ERRORS_KEY] = {**problems, "": general}
            st.rerun()
        else:
            st.session_state.pop(ERRORS_KEY, None)
            for key in ("reg_password", "reg_password_confirm"):
                st.session_state.pop(key, None)
            start_session(session.token, session.principal)
            st.rerun()
    st.session_state[ERRORS_KEY] = problems
    st.rerun()  # show each message under its field; what was typed stays (keyed widgets)
