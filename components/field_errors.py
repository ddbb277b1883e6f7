"""A field's error right under the field, tied to the field for screen readers.

Streamlit gives its inputs no `aria-invalid` and no `aria-describedby`, so the error is rendered
inside a container keyed `field-error-<input key>` (Streamlit adds the CSS class
`st-key-field-error-<input key>`), and the page bridge's script (components/page_bridge.py,
page_bridge_frontend/page_bridge.js) finds the input keyed `<input key>` (class
`st-key-<input key>`, or the first widget whose key starts with `<input key>_` for a group of
widgets such as the photo views or the treatment rows) and sets `aria-invalid="true"` and
`aria-describedby` = the error's id on it while the error shows; both go when it is fixed.
"""

from __future__ import annotations

import streamlit as st

from components.i18n import _

ERROR_KEY_PREFIX = "field-error-"


def error_key(input_key: str) -> str:
    """The key of the container that holds the error of the widget keyed `input_key`."""
    return f"{ERROR_KEY_PREFIX}{input_key}"


class FieldErrorPlace:
    """The place right under a field for its error, filled now or later in the run."""

    def __init__(self, input_key: str) -> None:
        self.input_key = input_key
        self._place = st.empty()

    def show(self, field: str, message: str) -> None:
        """The error, naming the field (`field`, `message`: already translated)."""
        with self._place.container(key=error_key(self.input_key)):
            st.error(_("{field}: {message}", field=field, message=message), icon=":material/error:")


def field_error(input_key: str, field: str, message: str | None) -> FieldErrorPlace:
    """The error `message` of the widget keyed `input_key` right here (nothing when None/empty)."""
    place = FieldErrorPlace(input_key)
    if message:
        place.show(field, message)
    return place
