"""The field-error widget (components/field_errors.py): the message right under its field, naming
the field, in a container keyed after the field's widget key (the page bridge ties the two for
screen readers; tests/browser/test_accessibility.py checks that part in Chromium)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _form_with_errors() -> None:
    import streamlit as st

    from components.field_errors import field_error

    st.text_input("Name *", key="name")
    field_error("name", "Name", "Please enter your name.")
    st.text_input("Email *", key="email")
    later = field_error("email", "Email", None)
    st.text_input("City", key="city")
    field_error("city", "City", "")
    if st.session_state.get("email") == "":
        later.show("Email", "Please enter your email address.")


def test_each_message_is_shown_under_its_field_naming_it() -> None:
    app = AppTest.from_function(_form_with_errors).run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "Name: Please enter your name.",
        "Email: Please enter your email address.",  # filled later in the run
    ]


def test_no_message_no_error() -> None:
    app = AppTest.from_function(_form_with_errors)
    app.session_state["email"] = "kai@example.test"
    app.run()
    assert [error.value for error in app.error] == ["Name: Please enter your name."]
