"""Patient: live photo guide. The camera preview shows the checks live and takes the photo itself."""

from __future__ import annotations

import streamlit as st

from components.guided_capture import VIEW_INSTRUCTIONS, VIEW_LABELS, annotate_result, decode_bgr
from components.live_guide import live_guide
from components.session import require_role
from core.vocabulary import CONSULTATION_VIEWS

require_role("patient")
st.title("Photo guide")
st.write(
    "Practise your consultation photos with live help: follow the hints on the preview. "
    "When every check is green for a second, the photo is taken automatically."
)
view = st.selectbox(
    "View", CONSULTATION_VIEWS, format_func=lambda name: VIEW_LABELS.get(name, name), key="photo_guide_view"
)
st.caption(VIEW_INSTRUCTIONS.get(view, ""))
photo = live_guide(view, key="photo_guide")
if photo is not None:
    from core.vision.quality import check_photo

    image = decode_bgr(photo.image_bytes)
    if image is not None:
        st.image(
            annotate_result(image, check_photo(image, view))[:, :, ::-1],
            caption=f"Verdict: {photo.quality_verdict}",
        )
    st.caption("Use this photo in a new consultation via **New consultation** → Live guide.")
