"""Administrator: find a patient, export their data, or erase them (GDPR right to erasure)."""

from __future__ import annotations

import streamlit as st

from components.i18n import _
from components.layout import plain
from components.session import get_clinic, require_role

principal = require_role("admin")
clinic = get_clinic()

st.title(_("Patients"))
st.caption(
    _(
        "Erasing a patient removes their account, consultations, photos (encrypted files included), reports, "
        "assessments, appointments and check-ins. The audit log keeps its entries, which hold ids only."
    )
)
text = st.text_input(_("Search by name or email"))
patients = clinic.archive.list_patients(principal, text or None)
if not patients:
    st.info(_("No patients found."))
    st.stop()
choice = st.selectbox(_("Patient"), patients, format_func=lambda p: f"{p.name} · {p.email or _('no email')}")
patient_id, name, email = choice.patient_id, choice.name, choice.email

col_export, col_erase = st.columns(2)
with col_export:
    if st.button(_("Prepare data export (zip)"), icon=":material/download:"):
        st.session_state["admin_export"] = (
            patient_id,
            clinic.exports.patient_data_zip(principal, patient_id),
        )
    export = st.session_state.get("admin_export")
    if export and export[0] == patient_id:
        st.download_button(
            _("Download the patient's data"), export[1], f"patient-{patient_id}.zip", "application/zip"
        )
with col_erase, st.container(border=True):
    st.markdown(_("**Erase {name}**", name=plain(name)))
    confirm = st.text_input(
        _("Type the patient's email (or name) to confirm"), key=f"erase_confirm_{patient_id}"
    )
    if st.button(
        _("Erase permanently"),
        type="primary",
        disabled=confirm.strip().lower() not in {v.lower() for v in (email, name) if v},
    ):
        result = clinic.exports.erase_patient(principal, patient_id)
        st.success(
            _(
                "Erased: {rows} rows, {files} photo files.",
                rows=sum(result.rows_deleted.values()),
                files=result.blobs_deleted,
            )
        )

        st.session_state.pop("admin_export", None)
