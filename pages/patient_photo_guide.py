"""Patient: live photo guide. The camera preview shows the checks live and takes the photo itself."""

from __future__ import annotations

import streamlit as st

from components.guided_capture import VIEW_INSTRUCTIONS, VIEW_LABELS, annotate_result
from components.live_guide import live_guide
from components.session import signed_in_as
from core.vocabulary import CONSULTATION_VIEWS


def render_guide() -> None:
    st.title("Photo guide")
    st.write(
        "Practise your consultation photos with live help: follow the hints on the preview. "
        "When every check is green for a second, the photo is taken automatically."
    )
    view = st.selectbox(
        "View",
        CONSULTATION_VIEWS,
        format_func=lambda name: VIEW_LABELS.get(name, name),
        key="photo_guide_view",
    )
    st.caption(VIEW_INSTRUCTIONS.get(view, ""))
    frame = live_guide(view, key="photo_guide")
    if frame is not None:
        from core.consult.photos import decode_to_bgr, intake_frame

        with st.spinner("Checking the photo…"):
            photo = intake_frame(frame, view, source="webcam")  # checked as it would be stored
        verdict = {"pass": "meets the standard", "warn": "is usable; see the hints", "fail": "needs a retake"}
        st.image(
            annotate_result(decode_to_bgr(photo.image_bytes), photo.quality)[:, :, ::-1],
            caption=f"This photo {verdict[photo.verdict]}.",
        )
        st.caption("Use this photo in a new consultation via **New consultation** → Live guide.")


# Ends by returning, never st.stop(): the live guide shows a timed fragment (docs/ARCHITECTURE.md).
if signed_in_as("patient") is not None:
    render_guide()
