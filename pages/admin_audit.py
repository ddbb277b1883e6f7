"""Administration: recent audit entries and a check of the tamper-evident hash chain."""

from __future__ import annotations

import streamlit as st

from components.layout import format_when
from components.session import get_clinic, require_role

principal = require_role("admin")
clinic = get_clinic()
st.title("Audit log")

col_limit, col_verify = st.columns([3, 2], vertical_alignment="bottom")
limit = col_limit.select_slider("Entries to show", options=[50, 100, 200, 500], value=100, key="audit_limit")
if col_verify.button("Verify chain", icon=":material/verified:", key="audit_verify"):
    result = clinic.audit.verify_chain(principal)
    if result.ok:
        st.success(f"Audit chain intact: {result.checked} entries verified.")
    else:
        st.error(f"Audit chain BROKEN at entry {result.first_bad_seq}: {result.reason}")

entries = clinic.audit.recent(principal, limit=limit)
st.dataframe(
    [
        {
            "#": entry.seq,
            "When": format_when(entry.at, clinic.settings.clinic_timezone),
            "Actor": entry.actor or "system",
            "Action": entry.action,
            "Target": entry.target or "",
            "Details": entry.details or "",
        }
        for entry in entries
    ],
    hide_index=True,
)
