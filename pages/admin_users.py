"""Administration: create physician / admin accounts and list every account."""

from __future__ import annotations

import streamlit as st

from components.layout import format_when, humanise
from components.session import get_clinic, require_role

principal = require_role("admin")
clinic = get_clinic()
st.title("Users")

with (
    st.expander("Create a staff account", expanded=False, icon=":material/person_add:"),
    st.form("create_staff_form", clear_on_submit=False),
):
    name = st.text_input("Full name", key="staff_name")
    email = st.text_input("Email", key="staff_email")
    role = st.selectbox("Role", ["physician", "admin"], format_func=str.capitalize, key="staff_role")
    password = st.text_input(
        "Initial password",
        type="password",
        key="staff_password",
        help="Share it with the person through a separate channel.",
    )
    create = st.form_submit_button("Create account", type="primary")

if create:
    from core.access import ValidationError

    try:
        clinic.auth.create_staff(
            principal, email=email.strip(), password=password, name=name.strip(), role=role
        )
    except ValidationError as error:
        for field_name, message in (getattr(error, "errors", None) or {"": str(error)}).items():
            st.error(f"{humanise(field_name)}: {message}" if field_name else message)
    else:
        st.success(f"{humanise(role)} account created for {email.strip()}.")
        st.session_state.pop("staff_password", None)

users = clinic.auth.list_users(principal)
st.subheader(f"Accounts ({len(users)})")
st.dataframe(
    [
        {
            "Name": user.name,
            "Email": user.email,
            "Role": humanise(user.role),
            "Created": format_when(user.created_at),
            "Last log-in": format_when(getattr(user, "last_login_at", None)),
            "Locked": "yes" if getattr(user, "locked", False) else "",
        }
        for user in users
    ],
    hide_index=True,
)
