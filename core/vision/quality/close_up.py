"""Skin close-ups: exposure, colour, compression, focus against the skin's own texture and the
scale in pixels per millimetre."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from core.i18n import N_
from core.vision.landmarks import FaceLandmarks
from core.vision.quality.colour import _check_colour
from core.vision.quality.compression import _check_compression
from core.vision.quality.lighting import _frame_exposure
from core.vision.quality.measures import _graded, _lab
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import QualityCheck, QualityResult
from core.vision.quality.verdict import _result


def _close_up_focus(luma: np.ndarray, o: QualityOptions) -> float:
    """Focus of a skin close-up relative to the skin's own texture (see `closeup_focus_fail`)."""
    gray = luma.astype(np.float32)
    fine = cv2.Laplacian(cv2.GaussianBlur(gray, (0, 0), 0.8), cv2.CV_32F) * 0.8**2
    coarse = cv2.Laplacian(cv2.GaussianBlur(gray, (0, 0), 3.2), cv2.CV_32F) * 3.2**2
    tile = o.closeup_focus_tile
    h, w = gray.shape
    ratios = []
    for y in range(0, h - tile + 1, tile):
        for x in range(0, w - tile + 1, tile):
            coarse_energy = float(np.mean(np.square(coarse[y : y + tile, x : x + tile])))
            if coarse_energy > 1.0:  # a flat tile (background, clipped) has no texture to judge
                ratios.append(float(np.mean(np.square(fine[y : y + tile, x : x + tile]))) / coarse_energy)
    return float(np.percentile(ratios, 80)) if ratios else 0.0


def _close_up_exposure(luma: np.ndarray, skin: np.ndarray, o: QualityOptions) -> QualityCheck:
    """A close-up's exposure judged on the skin's bright end (see `closeup_bright_end_fail`), not
    on the frame's mean, so dark skin is not taken for a dark photo; burnt out as for any frame."""
    clipped = _frame_exposure(luma, o)
    if clipped.status == "fail" and clipped.measure == "frame_clipped":
        return clipped
    values = luma[skin] if np.count_nonzero(skin) >= 100 else luma.ravel()
    bright_end = float(np.percentile(values, 99))
    return _graded(
        "exposure",
        bright_end,
        o.closeup_bright_end_warn,
        o.closeup_bright_end_fail,
        N_("The photo is too dark. Move to a brighter place."),
        higher_is_worse=False,
        measure="closeup_bright_end",
    )


def _close_up(
    image: np.ndarray, work: np.ndarray, factor: float, landmarks: FaceLandmarks | None, o: QualityOptions
) -> QualityResult:
    """The close-up gate: exposure of the frame, the skin's own colour, focus relative to the skin's
    texture, and the scale (pixels per mm) when the eyes are in the photo. No face checks: a
    close-up need not show a face, and one that does is not judged on pose or expression."""
    luma = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
    lab = _lab(work)
    lightness = lab[..., 0]
    skin = (lightness > 25) & (lightness < 245)  # a close-up is mostly skin: leave out black/clipped
    checks = [_close_up_exposure(luma, skin, o)]
    skin_colour = replace(
        o,
        skin_hue_range=o.closeup_skin_hue_range,
        skin_hue_fail_range=o.closeup_skin_hue_fail_range,
        skin_chroma_warn=(o.monochrome_chroma, math.inf),  # inflamed or pale skin is the finding
        skin_chroma_fail=(o.monochrome_chroma, math.inf),
    )
    checks.append(_check_colour(lab, skin, skin_colour, grey_world=False))
    if o.check_compression:
        h, w = image.shape[:2]
        checks.append(_check_compression(image, (0, 0, w, h), o))
    focus = _close_up_focus(luma, o)
    checks.append(
        _graded(
            "sharpness",
            focus,
            o.closeup_focus_warn,
            o.closeup_focus_fail,
            N_("The close-up is blurry. Hold the phone still, tap the skin to focus and try again."),
            higher_is_worse=False,
            measure="closeup_focus",
        )
    )
    if landmarks is not None:
        # Turned faces foreshorten the pupil distance: the face height (~2.6x it) is the other estimate.
        px_per_mm = max(landmarks.interpupil_px(), landmarks.face_height_px() / 2.6) / o.interpupil_mm
        checks.append(
            _graded(
                "scale",
                px_per_mm,
                o.closeup_px_per_mm_warn,
                o.closeup_px_per_mm_fail,
                N_(
                    "Move the camera closer to the skin (or use the full resolution) so small spots are sharp."
                ),
                higher_is_worse=False,
            )
        )
    else:
        checks.append(QualityCheck("scale", "pass", None, "no reference in the photo"))
    size = (int(image.shape[0]), int(image.shape[1]))
    return _result("close_up", checks, None, [], None, size, landmarks, o)
