"""Hybrid care panels (owned by the hybrid care/archive area).

PLACEHOLDER until the hybrid care area lands; the contract below is what pages call.
"""

from __future__ import annotations

import streamlit as st


def render_case_care_panel(clinic, principal, case_id: str) -> None:
    """Physician's case page: in-person booking, treatments, follow-up plan, exports."""
    st.caption("Appointments and follow-ups are not available yet.")


def render_patient_care_panel(clinic, principal) -> None:
    """Patient's "My consultations": appointments, check-in tasks, downloads."""
    st.caption("Appointments and check-ins are not available yet.")
