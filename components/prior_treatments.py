"""The intake's previous treatments as a simple list: one treatment and its date per row.

A table editor (st.data_editor) is hard to use on a phone (a canvas grid, sideways scrolling,
tiny cells): these are plain fields, one row under the other, and a button adds a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import streamlit as st

from components.i18n import _

MIN_DATE = dt.date(1950, 1, 1)


def _row_keys(key: str, index: int) -> tuple[str, str]:
    return f"{key}_{index}_treatment", f"{key}_{index}_date"


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _add_row(count_key: str) -> None:
    st.session_state[count_key] = st.session_state.get(count_key, 1) + 1


def prior_treatment_list(key: str, initial: Sequence[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows {"treatment": text, "date": date or None} as typed; empty rows included.

    `initial` (e.g. a restored draft's rows) fills a row whose fields are not set yet. Every
    widget key starts with `key`, so a form reset that clears its prefix clears the list too.
    """
    initial = list(initial or [])
    count_key = f"{key}_count"
    count = max(int(st.session_state.get(count_key, 1)), len(initial), 1)
    st.session_state[count_key] = count
    today = dt.date.today()
    rows: list[dict[str, Any]] = []
    for index in range(count):
        treatment_key, date_key = _row_keys(key, index)
        if index < len(initial):
            if treatment_key not in st.session_state:
                st.session_state[treatment_key] = str(initial[index].get("treatment") or "")
            if date_key not in st.session_state:
                when = _as_date(initial[index].get("date"))
                st.session_state[date_key] = when if when is None or MIN_DATE <= when <= today else None
        col_treatment, col_date = st.columns([3, 2])
        treatment = col_treatment.text_input(
            _("Treatment {number}", number=index + 1),
            key=treatment_key,
            max_chars=200,
            placeholder=_("e.g. a filler in the lips"),
        )
        when = col_date.date_input(
            _("Date of treatment {number} (if you know it)", number=index + 1),
            value=None,
            min_value=MIN_DATE,
            max_value=today,
            format="DD/MM/YYYY",
            key=date_key,
        )
        rows.append({"treatment": treatment, "date": when if isinstance(when, dt.date) else None})
    st.button(
        _("Add another treatment"),
        key=f"{key}_add",
        icon=":material/add:",
        on_click=_add_row,
        args=(count_key,),
    )
    return rows
