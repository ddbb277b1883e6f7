"""Log-in page: email + password; shows lockout and expiry messages; a language picker."""

from __future__ import annotations

import streamlit as st

from components.i18n import _, language_picker
from components.page_links import link_to_page
from components.session import LANDING_PAGE_KEY, current_principal, get_clinic, pop_flash, start_session

clinic = get_clinic()
if current_principal() is not None and st.session_state.get(LANDING_PAGE_KEY):
    st.switch_page(st.session_state[LANDING_PAGE_KEY])  # already logged in
language_picker()
st.title(_("Log in"))
st.caption(_("{clinic} — online consultations for aesthetic dermatology", clinic=clinic.settings.clinic_name))

flash = pop_flash()
if flash:
    st.info(flash)

with st.form("login_form"):
    email = st.text_input(_("Email"), key="login_email", autocomplete="email")
    password = st.text_input(
        _("Password"), type="password", key="login_password", autocomplete="current-password"
    )
    submitted = st.form_submit_button(_("Log in"), type="primary")

if submitted:
    from core.auth import InvalidCredentials

    try:
        session = clinic.auth.login(email.strip(), password)
    except InvalidCredentials as error:
        # One message for a wrong password, an unknown address and a locked account (core says it).
        st.error(_(str(error)))
    else:
        start_session(session.token, session.principal)
        st.session_state.pop("login_password", None)
        st.rerun()  # app.py rebuilds the menu for the role and switches to its landing page

link_to_page("pages/register.py", _("New here? Create a patient account"), ":material/person_add:")
if clinic.settings.demo:
    st.info(_("Demo mode: the demo log-ins were printed in the terminal that started the portal."))
