"""Patient: live photo guide. The camera preview shows the checks live and takes the photo itself."""

from __future__ import annotations

import streamlit as st

from components.guided_capture import (
    annotate_result,
    photo_alt,
    view_instruction,
    view_label,
)
from components.i18n import N_, _
from components.live_guide import live_guide
from components.page_links import link_to_page
from components.session import signed_in_as
from core.vocabulary import CONSULTATION_VIEWS

VERDICT_SENTENCES: dict[str, str] = {
    "pass": N_("This photo meets the standard."),
    "warn": N_("This photo is usable; see the hints."),
    "fail": N_("This photo needs a retake."),
}


def render_guide() -> None:
    st.title(_("Photo guide"))
    st.write(
        _(
            "Practise your consultation photos with live help: follow the hints on the preview. "
            "When no check is red for a second, the photo is taken automatically."
        )
    )
    view = st.selectbox(_("View"), CONSULTATION_VIEWS, format_func=view_label, key="photo_guide_view")
    st.markdown(view_instruction(view))
    frame = live_guide(view, key="photo_guide")
    if frame is not None:
        from core.consult.photos import decode_to_bgr, intake_frame

        with st.spinner(_("Checking the photo…")):
            photo = intake_frame(frame, view, source="webcam")  # checked as it would be stored
        st.image(
            annotate_result(decode_to_bgr(photo.image_bytes), photo.quality, words=False)[:, :, ::-1],
            caption=_(VERDICT_SENTENCES[photo.verdict]),
            alt=photo_alt(view, photo.verdict),
        )
        hints = photo.quality.instructions()[:3]
        if hints:
            st.markdown("\n".join(f"- {_(hint)}" for hint in hints))
        st.markdown(
            _("To send photos like this one, start a new consultation and choose the live guide there.")
        )
        link_to_page(
            "pages/patient_new_consultation.py", _("Start a new consultation"), ":material/add_a_photo:"
        )


# Ends by returning, never st.stop(): the live guide shows a timed fragment (docs/ARCHITECTURE.md).
if signed_in_as("patient") is not None:
    render_guide()
