"""Before/after of two photos of the same view: aligned through the landmarks, side by side and
with a drag slider (plain HTML/CSS/JS in an iframe, no extra package)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import cv2
import numpy as np

MAX_SIDE = 900  # display size; keeps the iframe payload small


@dataclass(frozen=True)
class PreparedPair:
    before_jpeg: bytes
    after_jpeg: bytes
    aligned: bool
    note: str | None


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the photo cannot be decoded")
    return image


def _encode(image: np.ndarray) -> bytes:
    height, width = image.shape[:2]
    scale = min(1.0, MAX_SIDE / max(height, width))
    if scale < 1.0:
        image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes()


def prepare_pair(before: bytes, after: bytes, align: bool = True, detector=None) -> PreparedPair:
    """Decode, align the after photo onto the before photo (eyes on the same pixels), re-encode."""
    before_bgr, after_bgr = _decode(before), _decode(after)
    note = None
    aligned = False
    if align:
        from core.care.matching import NoFaceFound, align_pair

        try:
            before_bgr, after_bgr = align_pair(before_bgr, after_bgr, detector)
            aligned = True
        except (NoFaceFound, ImportError, ValueError) as error:
            note = f"Not aligned ({error}); shown as taken."
    if not aligned:
        height, width = before_bgr.shape[:2]
        after_bgr = cv2.resize(after_bgr, (width, height), interpolation=cv2.INTER_AREA)
    return PreparedPair(_encode(before_bgr), _encode(after_bgr), aligned, note)


def slider_html(
    before_jpeg: bytes,
    after_jpeg: bytes,
    labels: tuple[str, str] = ("Before", "After"),
    compare_label: str | None = None,
) -> str:
    """A self-contained comparison slider: the after image is clipped to the slider position.
    `compare_label`: the slider's accessible name (the reader's language); English by default."""
    before_b64 = base64.b64encode(before_jpeg).decode("ascii")
    after_b64 = base64.b64encode(after_jpeg).decode("ascii")
    left, right = (html.escape(label) for label in labels)
    compare = html.escape(compare_label or f"Compare {labels[0]} and {labels[1]}")
    return f"""
<div class="ba" style="position:relative;max-width:100%;user-select:none;font-family:sans-serif">
  <img src="data:image/jpeg;base64,{before_b64}" style="display:block;width:100%" alt="{left}">
  <div class="ba-after" style="position:absolute;inset:0;clip-path:inset(0 0 0 50%)">
    <img src="data:image/jpeg;base64,{after_b64}" style="display:block;width:100%" alt="{right}">
  </div>
  <div class="ba-line" style="position:absolute;top:0;bottom:0;left:50%;width:2px;background:#fff;box-shadow:0 0 4px #000"></div>
  <span style="position:absolute;top:6px;left:8px;color:#fff;text-shadow:0 0 3px #000">{left}</span>
  <span style="position:absolute;top:6px;right:8px;color:#fff;text-shadow:0 0 3px #000">{right}</span>
  <input type="range" min="0" max="100" value="50" aria-label="{compare}"
    style="position:absolute;left:0;right:0;bottom:8px;width:96%;margin:0 2%"
    oninput="const r=this.parentElement;r.querySelector('.ba-after').style.clipPath='inset(0 0 0 '+this.value+'%)';r.querySelector('.ba-line').style.left=this.value+'%';">
</div>"""


def render_before_after(
    before: bytes, after: bytes, key: str, labels: tuple[str, str] | None = None, align: bool = True
) -> PreparedPair:
    import streamlit as st
    import streamlit.components.v1 as components

    from components.i18n import _

    labels = labels or (_("Before"), _("After"))
    cache = st.session_state.setdefault("_before_after_cache", {})
    cache_key = (key, hash(before), hash(after), align)
    pair = cache.get(cache_key)
    if pair is None:
        pair = prepare_pair(before, after, align)
        cache.clear()  # one pair per session is plenty; photos are large
        cache[cache_key] = pair
    if pair.note:
        st.caption(_("Not aligned (no face found on both photos); shown as taken."))
    elif pair.aligned:
        st.caption(_("Aligned on the eyes (same position and scale)."))
    side, slide = st.tabs([_("Side by side"), _("Slider")])
    with side:
        col_before, col_after = st.columns(2)
        col_before.image(pair.before_jpeg, caption=labels[0], width="stretch", alt=labels[0])
        col_after.image(pair.after_jpeg, caption=labels[1], width="stretch", alt=labels[1])
    with slide:
        height, width = _decode(pair.before_jpeg).shape[:2]
        components.html(
            slider_html(
                pair.before_jpeg,
                pair.after_jpeg,
                labels,
                _("Compare {before} and {after}", before=labels[0], after=labels[1]),
            ),
            height=int(min(700, 640 * height / width)) + 20,
        )
    return pair
