"""Pure helpers of the AR photo panel (the Streamlit parts are covered by the browser test)."""

from __future__ import annotations

import numpy as np

from components.ar_panel import before_after, split_image
from core.ar.effects import has_watermark


def test_before_after_is_side_by_side_and_marked() -> None:
    before = np.full((300, 200, 3), 100, np.uint8)
    after = np.full((300, 200, 3), 160, np.uint8)
    combined = before_after(before, after)
    assert combined.shape[0] == 300 and combined.shape[1] > 400
    assert has_watermark(combined)


def test_split_image_shows_before_left_and_after_right() -> None:
    before = np.zeros((100, 100, 3), np.uint8)
    after = np.full((100, 100, 3), 200, np.uint8)
    shown = split_image(before, after, 0.3)
    assert shown[50, 10, 0] == 0 and shown[50, 80, 0] == 200
