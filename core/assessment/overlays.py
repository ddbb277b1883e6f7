"""Pictures of what was measured, drawn on the canonical photo (BGR uint8): the service stores
them next to the report, the CLI writes them with `--overlays`."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from core.assessment.canonical import CANONICAL_SIZE
from core.assessment.report import PhotoAssessment

# Full red on the heat map at this many a* units above the patient's own baseline.
REDNESS_FULL_SCALE = 15.0


def redness_overlay(assessment: PhotoAssessment, strength: float = 0.75) -> np.ndarray:
    """Heat map of redness above the patient's own baseline, on the canonical photo (BGR).

    The whole skin is tinted (blue = the patient's own baseline), so the map reads as a map and
    matches the card's colour legend; a square-root opacity keeps mild redness visible."""
    base = _overlay_base(assessment)
    if assessment.redness_excess is None:
        return base
    excess = np.clip(assessment.redness_excess / REDNESS_FULL_SCALE, 0, 1)
    heat = cv2.applyColorMap((excess * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = ((0.25 + 0.75 * np.sqrt(excess)) * strength)[..., None] * (
        assessment.skin_mask[..., None] if assessment.skin_mask is not None else 1
    )
    return (base * (1 - alpha) + heat * alpha).astype(np.uint8)


def spots_overlay(assessment: PhotoAssessment) -> np.ndarray:
    """Brown spots ringed in yellow, inflammatory spots in magenta (BGR)."""
    image = _overlay_base(assessment).copy()
    for spot in assessment.spots:
        colour = (0, 220, 255) if spot.kind == "brown" else (255, 0, 255)
        radius = int(max(spot.bbox[2], spot.bbox[3]) / 2 + 3)
        cv2.circle(image, (int(round(spot.x)), int(round(spot.y))), radius, colour, 1, cv2.LINE_AA)
    return image


def lines_overlay(assessment: PhotoAssessment) -> np.ndarray:
    """Detected wrinkle lines painted in cyan (BGR)."""
    image = _overlay_base(assessment).copy()
    if assessment.line_mask is not None:
        image[assessment.line_mask] = (255, 255, 0)
    return image


def _overlay_base(assessment: PhotoAssessment) -> np.ndarray:
    if assessment.canonical_bgr is None:
        return np.zeros((CANONICAL_SIZE, CANONICAL_SIZE, 3), np.uint8)
    return assessment.canonical_bgr


OVERLAYS: dict[str, Callable[[PhotoAssessment], np.ndarray]] = {
    "redness": redness_overlay,
    "spots": spots_overlay,
    "lines": lines_overlay,
}
