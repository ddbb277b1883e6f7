"""AI pre-assessment card for the physician's case page (owned by the pre-assessment area).

PLACEHOLDER until the pre-assessment lands; the contract below is what pages call.
"""

from __future__ import annotations

import streamlit as st


def render_assessment_section(clinic, principal, case_id: str) -> None:
    st.info("AI pre-assessment is not available yet.")
