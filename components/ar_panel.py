"""AR preview on still photos and the live-consult launcher (owned by the live video/AR area).

PLACEHOLDER until the live video/AR area lands; the contract below is what pages call.
"""

from __future__ import annotations

import streamlit as st


def render_ar_photo_panel(clinic, principal, case_id: str) -> None:
    st.info("AR preview is not available yet.")


def render_live_consult_launcher(clinic, principal, case_id: str) -> None:
    """Physician: start a live consult for this case. Patient: join it when one is open."""
    st.caption("Live video consultation is not available yet.")
