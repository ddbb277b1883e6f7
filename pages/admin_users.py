"""Administration: create physician / admin accounts and list every account."""

from __future__ import annotations

import streamlit as st

from components.i18n import N_, _, ngettext
from components.layout import format_when
from components.session import get_clinic, require_role, role_label
from core.i18n import upper_first

# The name of each field in its error message (keys: core's field names).
FIELD_NAMES: dict[str, str] = {
    "name": N_("Full name"),
    "email": N_("Email"),
    "role": N_("Role"),
    "password": N_("Initial password"),
}

principal = require_role("admin")
clinic = get_clinic()
st.title(_("Users"))

with (
    st.expander(_("Create a staff account"), expanded=False, icon=":material/person_add:"),
    st.form("create_staff_form", clear_on_submit=False),
):
    name = st.text_input(_("Full name"), key="staff_name")
    email = st.text_input(_("Email"), key="staff_email")
    role = st.selectbox(
        _("Role"),
        ["physician", "admin"],
        format_func=lambda code: upper_first(role_label(code)),
        key="staff_role",
    )
    password = st.text_input(
        _("Initial password"),
        type="password",
        key="staff_password",
        help=_("Share it with the person through a separate channel."),
    )
    create = st.form_submit_button(_("Create account"), type="primary")

if create:
    from core.access import ValidationError

    try:
        clinic.auth.create_staff(
            principal, email=email.strip(), password=password, name=name.strip(), role=role
        )
    except ValidationError as error:
        for field_name, message in (getattr(error, "errors", None) or {"": str(error)}).items():
            if field_name:
                field = _(FIELD_NAMES[field_name]) if field_name in FIELD_NAMES else field_name
                st.error(_("{field}: {message}", field=field, message=_(message)))
            else:
                st.error(_(message))
    else:
        st.success(_("Account ({role}) created for {email}.", role=role_label(role), email=email.strip()))
        st.session_state.pop("staff_password", None)

users = clinic.auth.list_users(principal)
st.subheader(ngettext("{n} account", "{n} accounts", len(users)))
st.dataframe(
    [
        {
            _("Name"): user.name,
            _("Email"): user.email,
            _("Role"): role_label(user.role),
            _("Created"): format_when(user.created_at, clinic.settings.clinic_timezone),
            _("Last log-in"): format_when(
                getattr(user, "last_login_at", None), clinic.settings.clinic_timezone
            ),
            _("Locked"): _("yes") if getattr(user, "locked", False) else "",
        }
        for user in users
    ],
    hide_index=True,
)
