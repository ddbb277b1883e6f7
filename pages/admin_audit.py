"""Administration: recent audit entries and a check of the tamper-evident hash chain."""

from __future__ import annotations

import streamlit as st

from components.i18n import _, ngettext
from components.layout import format_when
from components.session import get_clinic, require_role

principal = require_role("admin")
clinic = get_clinic()
st.title(_("Audit log"))

col_limit, col_verify = st.columns([3, 2], vertical_alignment="bottom")
limit = col_limit.select_slider(
    _("Entries to show"), options=[50, 100, 200, 500], value=100, key="audit_limit"
)
if col_verify.button(_("Verify chain"), icon=":material/verified:", key="audit_verify"):
    result = clinic.audit.verify_chain(principal)
    if result.ok:
        st.success(
            ngettext(
                "Audit chain intact: {n} entry verified.",
                "Audit chain intact: {n} entries verified.",
                result.checked,
            )
        )
    else:
        st.error(
            _(
                "Audit chain BROKEN at entry {entry}: {reason}",
                entry=result.first_bad_seq,
                reason=result.reason,
            )
        )

entries = clinic.audit.recent(principal, limit=limit)
st.dataframe(
    [
        {
            "#": entry.seq,
            _("When"): format_when(entry.at, clinic.settings.clinic_timezone),
            _("Actor"): entry.actor or _("system"),
            _("Action"): entry.action,
            _("Target"): entry.target or "",
            _("Details"): entry.details or "",
        }
        for entry in entries
    ],
    hide_index=True,
)
