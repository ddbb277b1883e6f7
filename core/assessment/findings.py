"""What the measurements point the physician to: flags, review suggestions and the summary line.

Flags recommend an in-person step (dermoscopy, treating inflammation first) or a retake; they
never name a diagnosis.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.assessment.metrics import Spot
from core.assessment.report import CLOSE_UP_REGION, Flag, Metric, PhotoAssessment, is_close_up
from core.vocabulary import FLAG_DERMOSCOPY, FLAG_INFLAMMATION, FLAG_RETAKE

# Flag thresholds (canonical face ~2 px per mm)
LARGE_SPOT_PX = 110  # ~6 mm diameter
IRREGULAR_SOLIDITY = 0.7
VERY_DARK_CONTRAST = 22.0  # L* below the surrounding skin
INFLAMMATION_FLAG_COUNT = 20  # whole face: ~20 inflammatory lesions is where acne grading says "moderate"
INFLAMMATION_FLAG_COUNT_CLOSE_UP = 12  # a close-up shows only part of the face
INFLAMMATION_FLAG_AREA = 30.0  # % red area in a region


def retake_flag(view: str, photo_id: str | None, reason: str) -> Flag:
    return Flag(FLAG_RETAKE, "Retake the photo", reason, "action", photo_id=photo_id, view=view)


def photo_flags(assessment: PhotoAssessment, evidence: bool) -> list[Flag]:
    """Dermoscopy for a pigmented spot that is large, irregular or very dark; inflammation first
    for many red spots. `evidence`: attach circled crops of the spots."""
    flags: list[Flag] = []
    image = assessment.canonical_bgr if evidence else None
    for spot in assessment.spots:
        if spot.kind != "brown":
            continue
        reasons = []
        if spot.area_px >= LARGE_SPOT_PX:
            reasons.append(
                f"large ({spot.area_px} px, about {2 * math.sqrt(spot.area_px / math.pi) / 2:.0f} mm across)"
            )
        if spot.solidity < IRREGULAR_SOLIDITY and spot.area_px >= 30:
            reasons.append(f"irregular outline (solidity {spot.solidity:.2f})")
        if spot.contrast >= VERY_DARK_CONTRAST:
            reasons.append(f"very dark ({spot.contrast:.0f} L* below surrounding skin)")
        if reasons:
            flags.append(
                Flag(
                    FLAG_DERMOSCOPY,
                    "In-person dermoscopy recommended",
                    f"Pigmented spot on {spot.region.replace('_', ' ')}: " + ", ".join(reasons),
                    "action",
                    spot.region,
                    assessment.photo_id,
                    assessment.view,
                    [_crop(image, spot)] if image is not None else [],
                )
            )
    red = [s for s in assessment.spots if s.kind == "red"]
    red_area = max((m.value for m in assessment.metrics if m.metric == "red_area"), default=0.0)
    limit = INFLAMMATION_FLAG_COUNT_CLOSE_UP if is_close_up(assessment.view) else INFLAMMATION_FLAG_COUNT
    if len(red) >= limit or (red_area >= INFLAMMATION_FLAG_AREA and len(red) >= 5):
        worst = sorted(red, key=lambda s: -s.contrast)[:3]
        flags.append(
            Flag(
                FLAG_INFLAMMATION,
                "Treat active inflammation first",
                f"{len(red)} inflammatory-looking red spots, up to {red_area:.0f}% of a region markedly red",
                "action",
                None,
                assessment.photo_id,
                assessment.view,
                [_crop(image, s) for s in worst] if image is not None else [],
            )
        )
    return flags


def _crop(image_bgr: np.ndarray, spot: Spot, pad: int = 16) -> np.ndarray:
    """The spot circled in yellow, enlarged 3x (nearest neighbour: the pixels as measured)."""
    x, y, w, h = spot.bbox
    height, width = image_bgr.shape[:2]
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + w + pad, width), min(y + h + pad, height)
    crop = image_bgr[y0:y1, x0:x1].copy()
    centre = (int(round(spot.x - x0)), int(round(spot.y - y0)))
    radius = int(max(w, h) / 2 + 4)
    cv2.circle(crop, centre, radius, (0, 255, 255), 1, cv2.LINE_AA)
    return cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)


# (metric, score threshold, what to review, label in the reason)
_SUGGESTION_RULES = (
    ("wrinkles", 50, "Review lines at rest and in motion in the live consult", "lines"),
    ("redness", 50, "Ask about flushing, triggers and skincare irritation", "redness"),
    ("brown_spots", 50, "Discuss sun protection and pigment history", "pigment spots"),
    ("shine", 50, "Ask about oiliness and current skincare", "shine"),
    ("texture", 60, "Look at skin texture closely in good light", "texture"),
    ("under_eye", 50, "Review the under-eye area (shadow vs pigment) in person", "under-eye darkness"),
)


def suggestions(metrics: list[Metric], flags: list[Flag]) -> list[dict]:
    out: list[dict] = []

    def worst(metric: str) -> Metric | None:
        candidates = [m for m in metrics if m.metric == metric and math.isfinite(m.score)]
        return max(candidates, key=lambda m: m.score) if candidates else None

    for metric, threshold, text, label in _SUGGESTION_RULES:
        top = worst(metric)
        if top is not None and top.score >= threshold:
            out.append(
                {
                    "text": text,
                    "reason": f"{label} scored {top.score:.0f} ({top.band}) on {top.region.replace('_', ' ')}",
                }
            )
    if any(f.code == FLAG_INFLAMMATION for f in flags):
        out.append(
            {
                "text": "Plan anti-inflammatory treatment before aesthetic procedures",
                "reason": "active inflammatory lesions measured",
            }
        )
    if any(f.code == FLAG_DERMOSCOPY for f in flags):
        out.append(
            {
                "text": "Book an in-person visit with dermoscopy",
                "reason": "a pigmented spot met a size/shape/darkness criterion",
            }
        )
    return out


def summary(photos: list[PhotoAssessment], metrics: list[Metric], flags: list[Flag]) -> str:
    done = [p for p in photos if p.status == "assessed"]
    skipped = [p for p in photos if p.status != "assessed"]
    parts = [f"{len(done)} of {len(photos)} photos measured ({', '.join(p.view for p in done) or 'none'})."]
    if skipped:
        parts.append("Not measured: " + "; ".join(f"{p.view} ({p.reason})" for p in skipped) + ".")
    ita = next((m for m in metrics if m.metric == "ita" and m.region in {"face", CLOSE_UP_REGION}), None)
    if ita is not None:
        parts.append(f"Skin tone ITA {ita.value:.0f}° ({ita.band}).")
    notable = sorted(
        (
            m
            for m in metrics
            if m.metric != "ita"
            and m.source == "skin_filterbank"
            and math.isfinite(m.score)
            and m.score >= 50
        ),
        key=lambda m: -m.score,
    )[:4]
    if notable:
        parts.append(
            "Most marked: "
            + ", ".join(
                f"{m.metric.replace('_', ' ')} {m.region.replace('_', ' ')} ({m.band})" for m in notable
            )
            + "."
        )
    else:
        parts.append("No measure reached the moderate band.")
    codes = sorted({f.title for f in flags})
    if codes:
        parts.append("Flags: " + "; ".join(codes) + ".")
    return " ".join(parts)
